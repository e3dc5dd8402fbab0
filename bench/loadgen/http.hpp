// A lean HTTP/1.1 client for load generation: one thread, epoll (level-triggered), many
// keep-alive connections, each driven by a C++20 coroutine. No pipelining: one request in
// flight per connection, as registry clients do.
//
// Response bodies are discarded with recv(MSG_TRUNC) when their length is known, so the kernel
// frees the bytes without copying them to user space; bodies can instead be kept (manifests,
// listings) or hashed with SHA-256 (to check a digest).
#pragma once

#include <netinet/in.h>

#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "task.hpp"
#include "util.hpp"

namespace lg {

enum class BodyMode { Discard, Keep, Hash };

struct Request {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  Request() = default;
  Request(std::string m, std::string t, Headers h = {}, std::string_view b = {},
          BodyMode bm = BodyMode::Discard)
      : method(std::move(m)), target(std::move(t)), headers(std::move(h)), body(b), mode(bm) {}

  std::string method = "GET";
  std::string target;  // origin form: path and query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // not owned: must stay valid until the response arrived
  BodyMode mode = BodyMode::Discard;
};

struct Response {
  int status = 0;  // 0: transport or protocol error, see error
  std::string error;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;                                          // BodyMode::Keep
  std::string digest;                                        // BodyMode::Hash
  uint64_t bodyBytes = 0;
  double started = 0;
  double latency = 0;  // seconds from the request being issued to the response's last byte

  const std::string* header(std::string_view lowerName) const;
};

class Loop;

// One client connection, reconnected on demand. A request on a kept-alive connection that the
// server closed meanwhile is retried once on a new connection.
class Conn {
 public:
  Conn(Loop& loop, const sockaddr_in& addr);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  struct Op {
    Conn& conn;
    Request req;
    Response resp;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { conn.begin(this, h); }
    Response await_resume() { return std::move(resp); }
  };
  Op request(Request req) { return Op{*this, std::move(req), {}}; }

  uint64_t connects() const { return connects_; }

 private:
  friend class Loop;
  enum class Rx { Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailer, UntilClose };

  void begin(Op* op, std::coroutine_handle<> waiter);
  void connect();
  void trySend();
  void onEvent(uint32_t events);
  void onReadable();
  void process();
  bool parseHead(size_t end);
  void sink(const char* data, size_t len);
  void complete();
  void fail(std::string message);
  void failOrRetry(std::string message);
  void closeFd();
  void setInterest(uint32_t events);

  Loop& loop_;
  sockaddr_in addr_;
  std::string host_;
  int fd_ = -1;
  uint32_t interest_ = 0;
  bool connecting_ = false;
  uint64_t connects_ = 0;
  uint64_t served_ = 0;  // responses on the current socket

  Op* op_ = nullptr;
  std::coroutine_handle<> waiter_;
  std::string head_;
  size_t sent_ = 0;
  bool isHead_ = false;
  bool retried_ = false;
  bool gotBytes_ = false;
  bool closeAfter_ = false;

  std::vector<char> buf_;
  size_t bstart_ = 0;
  size_t bend_ = 0;
  Rx rx_ = Rx::Head;
  uint64_t remaining_ = 0;
  std::unique_ptr<Sha256> hasher_;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Starts a task now; run() returns when every started task has ended.
  void spawn(Task<void> task);
  // Throws if the tasks are still running after watchdogSeconds.
  void run(double watchdogSeconds);

  std::function<void()> onTick;  // called after every wake-up
  double tickEvery = 0.05;       // the longest sleep, in seconds
  std::vector<std::string> failures;

 private:
  friend class Conn;
  Detached wrap(Task<void> task);
  int epfd_ = -1;
  int active_ = 0;
  std::vector<std::coroutine_handle<>> ready_;
};

// An Authorization header value sent with every request (empty: none).
void setAuthorization(std::string value);

// "http://127.0.0.1:5000" or "127.0.0.1:5000".
sockaddr_in parseTarget(const std::string& url);
// A Location header (absolute URL or absolute path) as an origin-form target.
std::string originForm(const std::string& location);

}  // namespace lg
