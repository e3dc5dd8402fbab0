#pragma once
// The HTTP/1.1 server: one coroutine per connection, bodies streamed to the application,
// files sent with sendfile(2). Beast and Asio stay behind this header.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "http/message.hpp"

namespace berth::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;
  unsigned threads = 0;  // 0: one per core
  std::chrono::seconds idleTimeout{60};
  std::chrono::seconds shutdownGrace{10};
  // After SIGTERM or SIGINT, how long to go on serving once the application was told that
  // shutdown has begun (its readiness turns false), so that load balancers stop sending new
  // requests before the listener closes.
  std::chrono::seconds shutdownDelay{0};
  uint32_t headerLimit = 16 * 1024;
  uint32_t unexpectedBodyLimit = 64 * 1024;
  // Connections open at once, in all and from one client address (0: unlimited per client).
  uint32_t maxConnections = 10000;
  uint32_t maxConnectionsPerClient = 512;
  // Bytes per second a body or a file must average once idleTimeout has passed (0: no minimum).
  uint32_t minTransferRate = 1024;
  // Threads that run work which may block (Dispatch::offload, blocking sinks), started on first
  // use; requests that may hold them at once beyond those threads wait in a queue of at most
  // blockingQueue, and any more are answered 503 with Retry-After.
  unsigned blockingThreads = 16;
  uint32_t blockingQueue = 256;
  // Threads that run body sources, one per response being streamed, for as long as its client
  // takes to read it: a pool of their own, so that slow readers never hold the blocking threads.
  // Responses beyond these wait in a queue of blockingQueue too.
  unsigned streamThreads = 128;
  std::string tlsCert;  // PEM certificate chain and key: when set, HTTPS only
  std::string tlsKey;
};

class Server {
 public:
  Server(ServerOptions options, Application& app);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; after this, port() is the real port (useful with port 0).
  void bind();
  uint16_t port() const;
  // Serves until stop() or SIGINT/SIGTERM; in-flight requests finish first.
  void run(bool handleSignals = true);
  // Thread-safe.
  void stop();

  // Connections: open now, admitted since start, refused at a limit since start. Thread-safe.
  struct Stats {
    uint64_t open = 0;
    uint64_t accepted = 0;
    uint64_t refused = 0;
    uint64_t blockingInUse = 0;  // requests holding a place on the blocking pool now
    uint64_t streamsInUse = 0;   // responses holding a place on the stream pool now
    uint64_t poolRefused = 0;    // requests answered 503 because the pool they needed was full
  };
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
