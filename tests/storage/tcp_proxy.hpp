// A TCP proxy in front of an object store emulator that a test can cut: while cut, every
// connection, new or open, is reset at once; restored, it forwards again. The store goes away
// for berth without the emulator stopping (an emulator started again may not have kept what
// it held).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth_test {

class TcpProxy {
 public:
  // Listens on a free loopback port and forwards to 127.0.0.1:target.
  explicit TcpProxy(uint16_t target);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  void cut();
  void restore();

 private:
  void acceptLoop();
  void pump(int client, uint64_t generation);

  uint16_t target_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> up_{true};
  std::atomic<uint64_t> generation_{0};  // a cut ends the connections of earlier generations
  std::mutex mutex_;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace berth_test
