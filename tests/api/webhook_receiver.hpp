// A webhook receiver for tests, on a loopback port: records each request's head and body, and
// answers with the statuses it is given in turn (the last one from then on), or not at all
// while `hang` is set. Header-only: the unit tests and the control tests both use it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth_test {

class WebhookReceiver {
 public:
  explicit WebhookReceiver(std::vector<int> statuses = {200}) : statuses_(std::move(statuses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);  // port 0: any free one
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 64);
    thread_ = std::thread([this] { serve(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Waits up to 30 s for `n` requests; how many arrived.
  size_t waitFor(size_t n) {
    for (int i = 0; i < 1500 && requests().size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return requests().size();
  }
  static std::string bodyOf(const std::string& request) {
    const auto end = request.find("\r\n\r\n");
    return end == std::string::npos ? "" : request.substr(end + 4);
  }
  std::atomic<bool> hang{false};

 private:
  static bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 50) > 0;
  }
  void serve() {
    size_t served = 0;
    while (!stop_) {
      if (!readable(fd_)) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string in;
      size_t need = std::string::npos;
      char buf[8192];
      while (!stop_ && in.size() < need) {
        if (!readable(c)) continue;
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        const auto end = in.find("\r\n\r\n");
        if (end != std::string::npos && need == std::string::npos) {
          const auto at = in.find("Content-Length: ");
          need = end + 4 + (at == std::string::npos ? 0 : std::stoul(in.substr(at + 16)));
        }
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(in);
      }
      while (hang && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const int status = statuses_[std::min(served++, statuses_.size() - 1)];
      const std::string out = "HTTP/1.1 " + std::to_string(status) +
                              " X\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!";
      (void)::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  std::vector<int> statuses_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

}  // namespace berth_test
