#include "tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

namespace berth_test {
namespace {

// Closes with RST instead of FIN: the peer sees its connection reset.
void reset(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

bool forward(int from, int to) {
  std::array<char, 65536> buffer{};
  const ssize_t n = ::recv(from, buffer.data(), buffer.size(), 0);
  if (n <= 0) return false;
  for (ssize_t sent = 0; sent < n;) {
    const ssize_t w = ::send(to, buffer.data() + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
    if (w <= 0) return false;
    sent += w;
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(uint16_t target) : target_(target) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("the test proxy cannot listen");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  ++generation_;
  acceptor_.join();
  for (auto& t : pumps_) t.join();
  ::close(listener_);
}

void TcpProxy::cut() {
  up_ = false;
  ++generation_;
}

void TcpProxy::restore() { up_ = true; }

void TcpProxy::acceptLoop() {
  while (!stopping_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    if (!up_) {
      reset(client);
      continue;
    }
    std::lock_guard lock(mutex_);
    pumps_.emplace_back([this, client, g = generation_.load()] { pump(client, g); });
  }
}

void TcpProxy::pump(int client, uint64_t generation) {
  const int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(target_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (upstream >= 0) ::close(upstream);
    reset(client);
    return;
  }
  for (;;) {
    if (generation_ != generation) {  // cut, or the proxy is going away
      reset(client);
      reset(upstream);
      return;
    }
    std::array<pollfd, 2> fds{pollfd{client, POLLIN, 0}, pollfd{upstream, POLLIN, 0}};
    if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
    if ((fds[0].revents != 0 && !forward(client, upstream)) ||
        (fds[1].revents != 0 && !forward(upstream, client))) {
      ::close(client);
      ::close(upstream);
      return;
    }
  }
}

}  // namespace berth_test
