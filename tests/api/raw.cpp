#include "raw.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <utility>

namespace berth_test {

RawConnection::RawConnection(const std::string& hostPort, const std::string& source) {
  const auto colon = hostPort.rfind(':');
  if (colon == std::string::npos) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(hostPort.substr(colon + 1))));
  if (::inet_pton(AF_INET, hostPort.substr(0, colon).c_str(), &addr.sin_addr) != 1) return;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() { close(); }

RawConnection::RawConnection(RawConnection&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

bool RawConnection::send(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return bytes.empty();
}

namespace {

// Waits for the socket to be readable until `deadline`; false on timeout.
bool readable(int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

std::string RawConnection::read(std::size_t n, std::chrono::milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (out.size() < n && fd_ >= 0 && readable(fd_, deadline)) {
    const ssize_t got = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

bool RawConnection::readToEnd(std::string& out, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (fd_ >= 0) {
    if (!readable(fd_, deadline)) return false;
    const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return true;  // closed (or reset): the end
    out.append(buf, static_cast<std::size_t>(got));
  }
  return true;
}

std::string RawConnection::readResponse(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  char buf[65536];
  std::size_t headEnd = std::string::npos;
  std::size_t want = std::string::npos;
  while (fd_ >= 0 && (want == std::string::npos || out.size() < want)) {
    if (!readable(fd_, deadline)) break;
    const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
    if (headEnd == std::string::npos && (headEnd = out.find("\r\n\r\n")) != std::string::npos) {
      std::size_t length = 0;
      std::string lower;
      for (char c : out.substr(0, headEnd)) lower += static_cast<char>(std::tolower(c));
      if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
        std::size_t v = at + 17;
        while (v < lower.size() && lower[v] == ' ') ++v;
        std::from_chars(lower.data() + v, lower.data() + lower.size(), length);
      }
      want = headEnd + 4 + length;
    }
  }
  return out;
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawConnection::reset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

int rawStatus(std::string_view bytes) {
  if (!bytes.starts_with("HTTP/1.") || bytes.size() < 12) return 0;
  int status = 0;
  std::from_chars(bytes.data() + 9, bytes.data() + 12, status);
  return status;
}

namespace {

int countDescriptors(pid_t pid, bool socketsOnly) {
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code linkEc;
    if (!socketsOnly ||
        std::filesystem::read_symlink(it->path(), linkEc).string().starts_with("socket:")) {
      ++n;
    }
  }
  return ec ? -1 : n;
}

}  // namespace

int openDescriptors(pid_t pid) { return countDescriptors(pid, false); }
int openSockets(pid_t pid) { return countDescriptors(pid, true); }

}  // namespace berth_test
