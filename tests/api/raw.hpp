// Plain TCP to the server under test, for what libcurl will not send: malformed requests,
// bodies cut off half-way, connections closed or reset at a chosen moment. And the server's
// open descriptors, counted from /proc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

namespace berth_test {

class RawConnection {
 public:
  // `hostPort` is "127.0.0.1:PORT"; `source`, when given, the local address to connect from
  // (any of 127.0.0.0/8 on Linux: another client, as far as the server can tell). ok() tells
  // whether the connection was made.
  explicit RawConnection(const std::string& hostPort, const std::string& source = "");
  ~RawConnection();
  RawConnection(RawConnection&& o) noexcept;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Sends every byte; false when the peer closed or reset the connection.
  bool send(std::string_view bytes);
  // Reads until `n` bytes arrived, the peer closed, or `timeout` passed.
  std::string read(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads until the peer closes (true) or `timeout` passes (false); `out` gets what arrived.
  bool readToEnd(std::string& out, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads one response: its head and a body of its Content-Length.
  std::string readResponse(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Closes with a FIN, or with a RST (SO_LINGER 0), as a killed client's kernel would.
  void close();
  void reset();

 private:
  int fd_ = -1;
};

// The status code of the first response in `bytes`; 0 when there is none.
int rawStatus(std::string_view bytes);
// Entries of /proc/<pid>/fd; -1 when unreadable.
int openDescriptors(pid_t pid);
// Those of them that are sockets (the listener and every connection).
int openSockets(pid_t pid);

}  // namespace berth_test
