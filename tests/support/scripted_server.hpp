#pragma once
// A loopback HTTP/1.1 server for tests of berth's HTTP clients: each request (one per
// connection) is answered with what the test's function returns for it, and recorded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace berth_test {

struct SeenRequest {
  size_t index = 0;  // 0 for the first request
  std::string method, target;
  std::map<std::string, std::string> headers;  // names lower case
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct ScriptedReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class ScriptedServer {
 public:
  using Answer = std::function<ScriptedReply(const SeenRequest&)>;
  explicit ScriptedServer(Answer answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    ::listen(fd_, 64);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string hostPort() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return static_cast<int>(count_.load()); }
  std::vector<SeenRequest> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void serve() {
    for (;;) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      SeenRequest request;
      if (read(c, request)) {
        request.index = count_++;
        {
          std::lock_guard lock(mutex_);
          seen_.push_back(request);
        }
        const auto reply = answer_(request);
        std::string out =
            "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nConnection: close\r\n";
        bool length = false;
        for (const auto& [name, value] : reply.headers) {
          out += name + ": " + value + "\r\n";
          length = length || name == "Content-Length";
        }
        if (!length) out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
        out += "\r\n";
        if (request.method != "HEAD") out += reply.body;
        (void)::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  static bool read(int c, SeenRequest& request) {
    std::string in;
    char buffer[4096];
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(c, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      in.append(buffer, static_cast<size_t>(n));
    }
    const auto lineEnd = in.find("\r\n");
    const std::string line = in.substr(0, lineEnd);
    const auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    request.method = line.substr(0, sp1);
    request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    for (size_t at = lineEnd + 2; at < end;) {
      const auto next = in.find("\r\n", at);
      const std::string h = in.substr(at, next - at);
      at = next + 2;
      const auto colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string name = h.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      auto value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      request.headers[name] = value;
    }
    request.body = in.substr(end + 4);
    const size_t want = std::strtoull(request.header("content-length").c_str(), nullptr, 10);
    while (request.body.size() < want) {
      const ssize_t n = ::recv(c, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      request.body.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

  Answer answer_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<size_t> count_{0};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> seen_;
  std::thread thread_;
};

}  // namespace berth_test
