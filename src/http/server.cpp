#include "http/server.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "core/unique_fd.hpp"
#include "http/framing_rules.hpp"

namespace berth::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Method toMethod(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get:
      return Method::Get;
    case bhttp::verb::head:
      return Method::Head;
    case bhttp::verb::post:
      return Method::Post;
    case bhttp::verb::put:
      return Method::Put;
    case bhttp::verb::patch:
      return Method::Patch;
    case bhttp::verb::delete_:
      return Method::Delete;
    case bhttp::verb::options:
      return Method::Options;
    default:
      return Method::Other;
  }
}

constexpr size_t kBodyChunk = 256 * 1024;
// Bodies this large or larger, over plain TCP, into a sink that takes a pipe, are spliced.
constexpr uint64_t kSpliceMinimum = 256 * 1024;
constexpr size_t kSplicePipe = 1024 * 1024;

enum class SourceOutcome {
  Sent,              // the head and every byte went out
  Cut,               // the head went out, then the source failed or the client went away
  FailedBeforeHead,  // the source failed before its first byte: nothing went out
};

enum class Spliced {
  Done,         // every byte is in the sink
  Refused,      // the sink said stop (no room, quota): finish() explains
  Failed,       // the client went away, stalled or was too slow
  Unavailable,  // nothing moved: no pipe or no splice here, so read the body as usual
};

// A body or a file going slower than the minimum rate, once the idle timeout has passed, is
// given up: a client trickling a byte at a time would otherwise hold its connection for ever.
class TransferRate {
 public:
  TransferRate(uint32_t minBytesPerSecond, std::chrono::seconds grace)
      : min_(minBytesPerSecond), grace_(grace), start_(std::chrono::steady_clock::now()) {}
  bool tooSlow(uint64_t bytes) const {
    if (min_ == 0) return false;
    const auto elapsed = std::chrono::steady_clock::now() - start_;
    if (elapsed < grace_) return false;
    const double seconds = std::chrono::duration<double>(elapsed).count();
    return static_cast<double>(bytes) < static_cast<double>(min_) * seconds;
  }

 private:
  uint32_t min_;
  std::chrono::seconds grace_;
  std::chrono::steady_clock::time_point start_;
};

// Threads for work that may block, started on first use, and the places requests hold on them:
// as many as the threads, plus a queue.
class WorkPool {
 public:
  WorkPool(unsigned threads, uint32_t queue) : threads_(std::max(1u, threads)), queue_(queue) {}
  asio::thread_pool& get() {
    std::call_once(started_, [this] { pool_.emplace(threads_); });
    return *pool_;
  }
  bool take() {
    if (inUse_.fetch_add(1) < threads_ + queue_) return true;
    inUse_.fetch_sub(1);
    return false;
  }
  void release() { inUse_.fetch_sub(1); }
  uint32_t inUse() const { return inUse_.load(); }
  void join() {
    if (pool_) pool_->join();
  }

 private:
  const unsigned threads_;
  const uint32_t queue_;
  std::once_flag started_;
  std::optional<asio::thread_pool> pool_;
  std::atomic<uint32_t> inUse_{0};
};

// The answer when a pool has no room: the client may try again shortly.
Response poolBusy() {
  Response r = Response::error(makeError(
      ApiCode::TooManyRequests, "the server is busy with its storage; retry shortly", 503));
  r.headers.set("Retry-After", "1");
  return r;
}

}  // namespace

// What shutdown needs of a connection, whatever its stream.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void wakeIfIdle(std::shared_ptr<ConnectionBase> self) = 0;
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One client connection over plain TCP or TLS. Registered with the server so that shutdown
// can wake connections idling between requests.
template <class Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(Server::Impl& server, Stream stream);
  ~Connection() override { releaseSlot(); }
  asio::awaitable<void> run();
  void wakeIfIdle(std::shared_ptr<ConnectionBase> self) override;

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }
  asio::awaitable<void> serve();
  asio::awaitable<Response> readBody(RequestParser& parser, BodySink& sink, bool& bodyLeftUnread);
  asio::awaitable<Response> readSizedBody(RequestParser& parser, BodySink& sink,
                                          bool& bodyLeftUnread);
  asio::awaitable<Spliced> spliceBody(BodySink& sink, uint64_t& remaining, uint64_t length,
                                      const TransferRate& rate);
  asio::awaitable<bool> discardBody(RequestParser& parser);
  asio::awaitable<bool> write(const Request& req, Response& resp, unsigned version, bool keepAlive,
                              uint64_t& bytes);
  asio::awaitable<bool> sendFile(const FileRange& file);
  asio::awaitable<SourceOutcome> sendSource(BodySource& source, std::string head, uint64_t length,
                                            uint64_t& bytes);
  // Runs `work` on `pool` and resumes on this connection's thread with its result.
  template <class F>
  asio::awaitable<std::invoke_result_t<F&>> onPool(F& work, WorkPool& pool);
  asio::awaitable<bool> sinkWrite(BodySink& sink, const char* data, size_t size);
  asio::awaitable<Response> sinkFinish(BodySink& sink, bool complete);
  // Takes this request's place on `pool`, once (giving up one on the other pool); false when the
  // pool is full.
  bool takeSlot(WorkPool& pool);
  void releaseSlot();
  TransferRate transferRate() const;
  // Tells the application about a request served; returns how long it took.
  std::chrono::steady_clock::duration completed(const Request& req, int status, uint64_t bytesOut,
                                                std::chrono::steady_clock::time_point started);

  Server::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::vector<char> chunk_;
  std::string remote_;
  std::atomic<bool> idle_{false};
  uint64_t bodyBytes_ = 0;    // of the request being served
  WorkPool* slot_ = nullptr;  // the pool the request being served holds a place on
};

struct Server::Impl {
  ServerOptions options;
  Application& app;
  // One single-threaded io_context per thread: a connection lives on one of them from accept
  // to close, so its handlers never cross threads and need no strand. `ioc` is the first; it
  // also runs the acceptor and shutdown.
  asio::io_context ioc{1};
  std::vector<std::unique_ptr<asio::io_context>> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  size_t nextWorker = 0;
  tcp::acceptor acceptor{ioc};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> nextRequest{0};
  std::mutex connectionsMutex;
  std::list<std::weak_ptr<ConnectionBase>> connections;
  // Admitted connections, in all and by client address (under connectionsMutex).
  uint32_t openConnections = 0;
  std::unordered_map<std::string, uint32_t> perClient;
  std::atomic<uint64_t> acceptedConnections{0};
  static constexpr int kMaxRefusalsInFlight = 256;
  std::atomic<int> refusalsInFlight{0};
  std::atomic<uint64_t> refusedConnections{0};
  std::optional<asio::ssl::context> tls;
  // The pools, each started by the first request that needs it.
  WorkPool blocking{options.blockingThreads, options.blockingQueue};
  WorkPool streams{options.streamThreads, options.blockingQueue};
  std::atomic<uint64_t> poolBusy{0};  // requests refused a place on either
  // Shutdown steps run on one strand: the signal wait and the grace timer are not thread-safe.
  asio::strand<asio::io_context::executor_type> control{ioc.get_executor()};
  asio::steady_timer forceStop{control};
  asio::steady_timer shutdownDelay{control};
  asio::signal_set signals{control};

  Impl(ServerOptions o, Application& a) : options(std::move(o)), app(a) {}

  asio::awaitable<void> acceptLoop() {
    asio::steady_timer backoff(ioc);
    for (;;) {
      auto& target = nextWorker == 0 ? ioc : *workers[nextWorker - 1];
      nextWorker = (nextWorker + 1) % (workers.size() + 1);
      auto [ec, socket] = co_await acceptor.async_accept(target.get_executor(), kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        // Out of descriptors (or memory): accepting again at once would spin. The connection
        // waits in the backlog until one closes.
        log::warn("accept failed", {{"error", ec.message()}});
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(kTuple);
        continue;
      }
      boost::system::error_code remoteEc;
      const auto peer = socket.remote_endpoint(remoteEc);
      std::string client = remoteEc ? std::string() : peer.address().to_string();
      if (!admit(client)) {
        refuse(std::move(socket));
        continue;
      }
      auto executor = socket.get_executor();
      if (tls) {
        asio::co_spawn(executor,
                       serveConnection(std::make_shared<Connection<TlsStream>>(
                                           *this, TlsStream(std::move(socket), *tls)),
                                       std::move(client)),
                       asio::detached);
      } else {
        asio::co_spawn(executor,
                       serveConnection(std::make_shared<Connection<PlainStream>>(
                                           *this, PlainStream(std::move(socket))),
                                       std::move(client)),
                       asio::detached);
      }
    }
  }

  // Counts a new connection in, unless that would pass the global or the per-client limit.
  bool admit(const std::string& client) {
    std::lock_guard lock(connectionsMutex);
    if (openConnections >= options.maxConnections) return false;
    if (options.maxConnectionsPerClient > 0) {
      auto& count = perClient[client];
      if (count >= options.maxConnectionsPerClient) return false;
      ++count;
    }
    ++openConnections;
    ++acceptedConnections;
    return true;
  }

  void release(const std::string& client) {
    std::lock_guard lock(connectionsMutex);
    --openConnections;
    if (options.maxConnectionsPerClient > 0) {
      auto it = perClient.find(client);
      if (it != perClient.end() && --it->second == 0) perClient.erase(it);
    }
  }

  // A connection over the limits: plain HTTP clients are told 503 with Retry-After (over TLS,
  // which would need a handshake first, the connection is just closed). Refusals in flight are
  // bounded too, each by a short deadline.
  void refuse(tcp::socket socket) {
    const auto refused = ++refusedConnections;
    if (refused % 1000 == 1) {
      log::warn("connection refused: limit reached",
                {{"max_connections", options.maxConnections},
                 {"max_connections_per_client", options.maxConnectionsPerClient},
                 {"refused", refused}});
    }
    if (tls || refusalsInFlight.load() >= kMaxRefusalsInFlight) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    ++refusalsInFlight;
    auto executor = socket.get_executor();
    asio::co_spawn(executor, answerRefused(std::move(socket)), asio::detached);
  }

  asio::awaitable<void> answerRefused(tcp::socket socket) {
    static const std::string kReply = [] {
      const std::string body = errorBody(explainedError(
          ApiCode::TooManyRequests, "too many connections: the server is at its limit"));
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
             "Retry-After: 1\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
             "Connection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    asio::steady_timer deadline(socket.get_executor());
    deadline.expires_after(std::chrono::seconds(2));
    deadline.async_wait([&socket](boost::system::error_code ec) {
      if (!ec) {
        boost::system::error_code ignored;
        socket.close(ignored);
      }
    });
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(kReply), kTuple);
    if (!ec) {
      // Read what the client sent until it closes, so that closing does not reset the
      // connection before it has read the reply.
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      char sink[4096];
      for (;;) {
        auto [readEc, got] = co_await socket.async_read_some(asio::buffer(sink), kTuple);
        if (readEc) break;
      }
    }
    deadline.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    --refusalsInFlight;
  }

  template <class C>
  asio::awaitable<void> serveConnection(std::shared_ptr<C> connection, std::string client) {
    std::list<std::weak_ptr<ConnectionBase>>::iterator self;
    {
      std::lock_guard lock(connectionsMutex);
      self = connections.insert(connections.end(), connection);
    }
    try {
      co_await connection->run();
    } catch (const std::exception& e) {
      log::error("connection failed", {{"error", e.what()}});
    }
    connection.reset();  // its socket closes now, before it stops counting
    release(client);
    bool last = false;
    {
      std::lock_guard lock(connectionsMutex);
      connections.erase(self);
      last = connections.empty();
    }
    if (last && stopping.load()) {
      asio::post(control, [this] {
        forceStop.cancel();
        guards.clear();
      });
    }
  }

  void beginStop() {
    if (stopping.exchange(true)) return;
    asio::post(control, [this] {
      boost::system::error_code ignored;
      signals.cancel(ignored);
      shutdownDelay.cancel();
      acceptor.close(ignored);
      bool none = false;
      {
        std::lock_guard lock(connectionsMutex);
        for (auto& weak : connections) {
          if (auto c = weak.lock()) c->wakeIfIdle(c);
        }
        none = connections.empty();
      }
      if (none) {
        guards.clear();
        return;
      }
      forceStop.expires_after(options.shutdownGrace);
      forceStop.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        ioc.stop();
        for (auto& w : workers) w->stop();
      });
    });
  }

  std::string nextRequestId() {
    char text[24];
    std::snprintf(text, sizeof text, "%016llx",
                  static_cast<unsigned long long>(nextRequest.fetch_add(1) + 1));
    return text;
  }
};

template <class Stream>
std::chrono::steady_clock::duration Connection<Stream>::completed(
    const Request& req, int status, uint64_t bytesOut,
    std::chrono::steady_clock::time_point started) {
  const auto took = std::chrono::steady_clock::now() - started;
  try {
    server_.app.completed(Exchange{req, status, bodyBytes_, bytesOut, took});
  } catch (const std::exception& e) {
    log::error("recording a request failed", {{"error", e.what()}});
  }
  return took;
}

template <class Stream>
TransferRate Connection<Stream>::transferRate() const {
  return TransferRate(server_.options.minTransferRate, server_.options.idleTimeout);
}

template <class Stream>
Connection<Stream>::Connection(Server::Impl& server, Stream stream)
    : server_(server), stream_(std::move(stream)) {
  boost::system::error_code ec;
  auto endpoint = tcp().socket().remote_endpoint(ec);
  if (!ec) remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  tcp().socket().set_option(tcp::no_delay(true), ec);
}

template <class Stream>
void Connection<Stream>::wakeIfIdle(std::shared_ptr<ConnectionBase> self) {
  if (!idle_.load()) return;
  asio::post(stream_.get_executor(), [this, self = std::move(self)] {
    if (idle_.load()) {
      boost::system::error_code ignored;
      tcp().socket().cancel(ignored);
    }
  });
}

template <class Stream>
asio::awaitable<void> Connection<Stream>::run() {
  if constexpr (kTls) {
    tcp().expires_after(server_.options.idleTimeout);
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) co_return;  // not TLS, or a client that gave up: nothing to answer
  }
  co_await serve();
  if constexpr (kTls) {
    tcp().expires_after(std::chrono::seconds(5));
    co_await stream_.async_shutdown(kTuple);
  } else {
    boost::system::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

template <class Stream>
asio::awaitable<void> Connection<Stream>::serve() {
  for (;;) {
    RequestParser parser;
    prepareParser(parser, server_.options.headerLimit);
    tcp().expires_after(server_.options.idleTimeout);
    idle_.store(true);
    if (server_.stopping.load()) co_return;
    auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, parser, kTuple);
    idle_.store(false);
    if (ec) {
      // A head that does not parse is answered, then the connection closed; a peer that went
      // away or timed out mid-head is not.
      const bool malformed =
          ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
      if (malformed) {
        Request none;
        Response bad =
            Response::error(makeError(ApiCode::Unsupported, "malformed request: " + ec.message(),
                                      ec == bhttp::error::header_limit ? 431 : 400));
        uint64_t bytes = 0;
        co_await write(none, bad, 11, false, bytes);
      }
      co_return;
    }
    const auto started = std::chrono::steady_clock::now();
    bodyBytes_ = 0;
    auto& head = parser.get();
    if (auto framing = framingError(parser)) {
      Request none;
      Response bad = Response::error(*framing);
      uint64_t bytes = 0;
      co_await write(none, bad, head.version(), false, bytes);
      completed(none, bad.status, bytes, started);
      log::info("request refused",
                {{"remote", remote_}, {"status", bad.status}, {"reason", framing->detail}});
      co_return;
    }

    Request req;
    req.method = toMethod(head.method());
    req.remote = remote_;
    req.requestId = server_.nextRequestId();
    req.keepAlive = head.keep_alive();
    req.secure = kTls;
    const auto target = head.target();
    auto parsed = boost::urls::parse_origin_form(std::string_view(target.data(), target.size()));
    bool targetOk = parsed.has_value();
    if (targetOk) {
      req.path = std::string(parsed->encoded_path());
      for (auto param : parsed->params()) {
        req.query.emplace_back(std::string(param.key), std::string(param.value));
      }
    }
    for (const auto& field : head) {
      req.headers.add(std::string(field.name_string()), std::string(field.value()));
    }

    Response resp;
    bool keepAlive = req.keepAlive && !server_.stopping.load();
    if (!targetOk) {
      resp = Response::error(makeError(ApiCode::Unsupported, "malformed request target", 400));
      keepAlive = false;
    } else {
      Dispatch dispatch;
      auto guarded = [&req](auto&& handler) {
        try {
          return handler();
        } catch (const std::exception& e) {
          log::error("handler failed", {{"request_id", req.requestId}, {"error", e.what()}});
          return Dispatch::reply(Response::error(makeError(ApiCode::Unknown)));
        }
      };
      dispatch = guarded([&] { return server_.app.dispatch(req); });
      if (dispatch.blocking) {
        if (takeSlot(server_.blocking)) {
          auto work = [&] { return guarded(dispatch.blocking); };
          dispatch = co_await onPool(work, server_.blocking);
        } else {
          dispatch = Dispatch::reply(poolBusy());
        }
      }
      if (dispatch.sink && dispatch.sink->blocking() && !takeSlot(server_.blocking)) {
        dispatch = Dispatch::reply(poolBusy());
      }
      if (dispatch.sink) {
        bool leftUnread = false;
        resp = co_await readBody(parser, *dispatch.sink, leftUnread);
        if (leftUnread) keepAlive = false;
      } else {
        resp = std::move(*dispatch.response);
        if (!parser.is_done() && !co_await discardBody(parser)) keepAlive = false;
      }
      if (resp.source && !takeSlot(server_.streams)) resp = poolBusy();
    }

    uint64_t bytes = 0;
    const bool written = co_await write(req, resp, head.version(), keepAlive, bytes);
    releaseSlot();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            completed(req, resp.status, bytes, started))
                            .count();
    log::info("request", {{"request_id", req.requestId},
                          {"remote", req.remote},
                          {"method", methodName(req.method)},
                          {"path", req.path},
                          {"status", resp.status},
                          {"bytes", bytes},
                          {"duration_us", static_cast<int64_t>(micros)}});
    if (!written || !keepAlive) break;
  }
}

template <class Stream>
asio::awaitable<Response> Connection<Stream>::readBody(RequestParser& parser, BodySink& sink,
                                                       bool& bodyLeftUnread) {
  const auto expect = parser.get()[bhttp::field::expect];
  if (!parser.is_done() && beast::iequals(expect, "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kTuple);
    if (ec) {
      bodyLeftUnread = true;
      co_return co_await sinkFinish(sink, false);
    }
  }
  if (chunk_.empty()) chunk_.resize(kBodyChunk);
  if (!parser.is_done() && !parser.chunked() && parser.content_length()) {
    co_return co_await readSizedBody(parser, sink, bodyLeftUnread);
  }
  // Chunked bodies go through Beast's parser; a large buffer keeps the reads large.
  buffer_.reserve(kBodyChunk);
  bool complete = true;
  const TransferRate rate = transferRate();
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    tcp().expires_after(server_.options.idleTimeout);
    auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, kTuple);
    if (ec == bhttp::error::need_buffer) ec = {};
    const size_t got = chunk_.size() - body.size;
    bodyBytes_ += got;
    if (got > 0 && !co_await sinkWrite(sink, chunk_.data(), got)) {
      bodyLeftUnread = !parser.is_done();
      co_return co_await sinkFinish(sink, true);
    }
    if (ec || (!parser.is_done() && rate.tooSlow(bodyBytes_))) {
      complete = false;
      bodyLeftUnread = true;
      break;
    }
  }
  co_return co_await sinkFinish(sink, complete);
}

// A body of known length is read straight from the socket into one large buffer: no parser
// copy, and few system calls.
template <class Stream>
asio::awaitable<Response> Connection<Stream>::readSizedBody(RequestParser& parser, BodySink& sink,
                                                            bool& bodyLeftUnread) {
  uint64_t remaining = *parser.content_length();
  // Bytes that arrived together with the header.
  const size_t buffered = static_cast<size_t>(std::min<uint64_t>(remaining, buffer_.size()));
  if (buffered > 0) {
    const auto* data = static_cast<const char*>(buffer_.data().data());
    bodyBytes_ += buffered;
    const bool accepted = co_await sinkWrite(sink, data, buffered);
    buffer_.consume(buffered);
    remaining -= buffered;
    if (!accepted) {
      bodyLeftUnread = remaining > 0;
      co_return co_await sinkFinish(sink, true);
    }
  }
  const TransferRate rate = transferRate();
  const uint64_t length = *parser.content_length();
  if constexpr (!kTls) {
    if (remaining >= kSpliceMinimum && sink.acceptsPipe()) {
      switch (co_await spliceBody(sink, remaining, length, rate)) {
        case Spliced::Done:
          co_return co_await sinkFinish(sink, true);
        case Spliced::Refused:
          bodyLeftUnread = remaining > 0;
          co_return co_await sinkFinish(sink, true);
        case Spliced::Failed:
          bodyLeftUnread = true;
          co_return co_await sinkFinish(sink, false);
        case Spliced::Unavailable:
          break;  // no pipe to be had: read the rest as below
      }
    }
  }
  // The sink gets whole chunks: TLS hands out a record (16 KiB) per read, and a sink call per
  // record would cost a file write each.
  size_t filled = 0;
  while (remaining > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, chunk_.size() - filled));
    tcp().expires_after(server_.options.idleTimeout);
    auto [ec, n] =
        co_await stream_.async_read_some(asio::buffer(chunk_.data() + filled, want), kTuple);
    remaining -= n;
    bodyBytes_ += n;
    filled += n;
    if (filled > 0 && (filled == chunk_.size() || remaining == 0 || ec)) {
      if (!co_await sinkWrite(sink, chunk_.data(), filled)) {
        bodyLeftUnread = remaining > 0;
        co_return co_await sinkFinish(sink, true);
      }
      filled = 0;
    }
    if (ec || (remaining > 0 && rate.tooSlow(length - remaining))) {
      bodyLeftUnread = true;
      co_return co_await sinkFinish(sink, false);
    }
  }
  co_return co_await sinkFinish(sink, true);
}

// The rest of a plain-TCP body moved socket -> pipe -> file with splice(2): the bytes never
// pass through user space, and the kernel copies them once, into the page cache. Bounded like
// any read: the idle timeout while the socket is empty, the minimum rate over the body.
template <class Stream>
asio::awaitable<Spliced> Connection<Stream>::spliceBody(BodySink& sink, uint64_t& remaining,
                                                        uint64_t length, const TransferRate& rate) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) co_return Spliced::Unavailable;
  const UniqueFd readEnd(fds[0]);
  const UniqueFd writeEnd(fds[1]);
  // A larger pipe means fewer calls; the default (16 pages) stays where a user's pipe pages
  // are used up.
  const int grown = ::fcntl(writeEnd.get(), F_SETPIPE_SZ, static_cast<int>(kSplicePipe));
  const size_t capacity = grown > 0 ? static_cast<size_t>(grown) : 16 * 4096;
  auto& socket = tcp().socket();
  asio::steady_timer timer(stream_.get_executor());
  bool moved = false;
  while (remaining > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, capacity));
    const ssize_t n = ::splice(socket.native_handle(), nullptr, writeEnd.get(), nullptr, want,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      moved = true;
      remaining -= static_cast<uint64_t>(n);
      bodyBytes_ += static_cast<uint64_t>(n);
      if (!sink.writeFromPipe(readEnd.get(), static_cast<size_t>(n))) co_return Spliced::Refused;
      if (remaining > 0 && rate.tooSlow(length - remaining)) co_return Spliced::Failed;
      continue;
    }
    if (n == 0) co_return Spliced::Failed;  // the client closed its end early
    if (errno == EINTR) continue;
    if (errno == EINVAL && !moved) co_return Spliced::Unavailable;
    if (errno != EAGAIN && errno != EWOULDBLOCK) co_return Spliced::Failed;
    // Nothing to move yet: wait until the socket has bytes, for at most the idle timeout.
    timer.expires_after(server_.options.idleTimeout);
    timer.async_wait([&socket](boost::system::error_code ec) {
      if (!ec) {
        boost::system::error_code ignored;
        socket.cancel(ignored);
      }
    });
    auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, kTuple);
    timer.cancel();
    if (ec || rate.tooSlow(length - remaining)) co_return Spliced::Failed;
  }
  co_return Spliced::Done;
}

template <class Stream>
asio::awaitable<bool> Connection<Stream>::discardBody(RequestParser& parser) {
  // A body nobody asked for: read a little to keep the connection usable, else close it.
  if (chunk_.empty()) chunk_.resize(kBodyChunk);
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, kTuple);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return false;
    bodyBytes_ += chunk_.size() - body.size;
    if (bodyBytes_ > server_.options.unexpectedBodyLimit) co_return false;
  }
  co_return true;
}

template <class Stream>
asio::awaitable<bool> Connection<Stream>::write(const Request& req, Response& resp,
                                                unsigned version, bool keepAlive, uint64_t& bytes) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(resp.status), version};
  for (const auto& [name, value] : resp.headers.all()) out.insert(name, value);
  out.set("Docker-Distribution-API-Version", "registry/2.0");
  if (!req.requestId.empty()) out.set("X-Request-Id", req.requestId);
  out.keep_alive(keepAlive);
  const bool head = req.method == Method::Head;
  const bool noBody =
      resp.status == 204 || resp.status == 304 || (resp.status >= 100 && resp.status < 200);
  uint64_t length = resp.file ? resp.file->length : resp.contentLength.value_or(resp.body.size());
  if (!noBody) out.content_length(length);
  if (!head && !resp.file && !noBody) out.body() = std::move(resp.body);

  tcp().expires_after(server_.options.idleTimeout);
  if (resp.file && !head) {
    bhttp::response_serializer<bhttp::string_body> serializer(out);
    auto [ec, n] = co_await bhttp::async_write_header(stream_, serializer, kTuple);
    if (ec) co_return false;
    bytes += n;
    const bool sent = co_await sendFile(*resp.file);
    if (sent) bytes += resp.file->length;
    co_return sent;
  }
  if (resp.source && !head && !noBody) {
    // The head goes out with the source's first bytes: a source that fails before it produced
    // any (a blob the store no longer has) may still answer with a response of its own.
    std::ostringstream text;
    text << out.base();
    const auto outcome = co_await sendSource(*resp.source, text.str(), length, bytes);
    if (outcome != SourceOutcome::FailedBeforeHead) co_return outcome == SourceOutcome::Sent;
    auto instead = resp.source->instead();
    if (!instead) co_return false;
    resp = std::move(*instead);
    co_return co_await write(req, resp, version, keepAlive, bytes);
  }
  auto [ec, n] = co_await bhttp::async_write(stream_, out, kTuple);
  bytes += n;
  co_return !ec;
}

// The source runs on the stream pool and hands its bytes over in pieces of up to
// kBodyChunk; each piece is written by this connection's own thread while the pool thread
// fills the next one. At most one piece is in flight, so the client's pace is the source's
// pace and a response holds two pieces at most.
template <class Stream>
asio::awaitable<SourceOutcome> Connection<Stream>::sendSource(BodySource& source, std::string head,
                                                              uint64_t length, uint64_t& bytes) {
  struct Handoff {
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    bool ok = false;
    size_t head = 0;  // bytes of the response head at the start of the piece
    std::string piece;
  };
  auto executor = stream_.get_executor();
  auto& server = server_;
  const TransferRate rate = transferRate();
  uint64_t sent = 0;
  bool headSent = false;
  std::string pending;
  std::string spare;  // the buffer of the piece written last, for the next one
  std::shared_ptr<Handoff> inFlight;
  // Waits for the piece in flight; false when the client is gone or the server is stopping.
  auto settle = [&]() -> bool {
    if (!inFlight) return true;
    std::unique_lock lock(inFlight->mutex);
    while (!inFlight->done.wait_for(lock, std::chrono::seconds(1),
                                    [&] { return inFlight->finished; })) {
      if (server.stopping.load() && server.ioc.stopped()) return false;
    }
    const bool ok = inFlight->ok;
    if (ok) {
      sent += inFlight->piece.size() - inFlight->head;
      bytes += inFlight->piece.size();
    }
    lock.unlock();
    spare.swap(inFlight->piece);
    spare.clear();
    inFlight.reset();
    return ok;
  };
  // Starts writing `pending` (after the head, the first time) from the connection's thread.
  auto flush = [&]() -> bool {
    if (pending.empty() && headSent) return true;
    if (!settle() || rate.tooSlow(sent)) return false;
    auto handoff = std::make_shared<Handoff>();
    handoff->piece.swap(pending);
    pending.swap(spare);
    if (!headSent) {
      // One buffer per write: Asio's write of a pair of buffers resumes after a partial write
      // with an empty first buffer, for which Beast's TLS stream writes nothing, and the write
      // then ends as if it were done.
      handoff->head = head.size();
      handoff->piece.insert(0, head);
    }
    headSent = true;
    asio::post(executor, [this, handoff] {
      tcp().expires_after(server_.options.idleTimeout);
      asio::async_write(stream_, asio::buffer(handoff->piece),
                        [handoff](boost::system::error_code ec, size_t written) {
                          std::lock_guard lock(handoff->mutex);
                          handoff->ok = !ec && written == handoff->piece.size();
                          handoff->finished = true;
                          handoff->done.notify_all();
                        });
    });
    inFlight = std::move(handoff);
    return true;
  };
  auto pump = [&]() -> SourceOutcome {
    bool clientGone = false;
    bool produced = false;
    try {
      produced = source.pump([&](const char* data, size_t size) {
        if (clientGone || sent + pending.size() + size > length) return false;
        while (size > 0) {
          const size_t take = std::min(size, kBodyChunk - pending.size());
          pending.append(data, take);
          data += take;
          size -= take;
          if (pending.size() == kBodyChunk && !flush()) {
            clientGone = true;
            return false;
          }
        }
        return true;
      });
    } catch (const std::exception& e) {
      log::error("body source failed", {{"error", e.what()}});
    }
    if (!produced && !headSent) return SourceOutcome::FailedBeforeHead;
    const bool flushed = produced && !clientGone && flush();
    // Nothing of this response may still be in flight when the connection goes on.
    const bool settled = settle();
    return flushed && settled && sent == length ? SourceOutcome::Sent : SourceOutcome::Cut;
  };
  co_return co_await onPool(pump, server_.streams);
}

template <class Stream>
template <class F>
asio::awaitable<std::invoke_result_t<F&>> Connection<Stream>::onPool(F& work, WorkPool& pool) {
  using R = std::invoke_result_t<F&>;
  // The work runs as a coroutine on the pool; its completion resumes this one on its own
  // thread. `work` lives in this frame, which waits for it.
  co_return co_await asio::co_spawn(
      pool.get().get_executor(), [](F* f) -> asio::awaitable<R> { co_return (*f)(); }(&work),
      asio::use_awaitable);
}

template <class Stream>
asio::awaitable<bool> Connection<Stream>::sinkWrite(BodySink& sink, const char* data, size_t size) {
  if (!sink.blocking()) co_return sink.write(data, size);
  auto work = [&] { return sink.write(data, size); };
  co_return co_await onPool(work, server_.blocking);
}

template <class Stream>
asio::awaitable<Response> Connection<Stream>::sinkFinish(BodySink& sink, bool complete) {
  if (!sink.blocking()) co_return sink.finish(complete);
  auto work = [&] { return sink.finish(complete); };
  co_return co_await onPool(work, server_.blocking);
}

template <class Stream>
bool Connection<Stream>::takeSlot(WorkPool& pool) {
  if (slot_ == &pool) return true;
  releaseSlot();
  if (!pool.take()) {
    server_.poolBusy.fetch_add(1);
    return false;
  }
  slot_ = &pool;
  return true;
}

template <class Stream>
void Connection<Stream>::releaseSlot() {
  if (slot_) std::exchange(slot_, nullptr)->release();
}

template <class Stream>
asio::awaitable<bool> Connection<Stream>::sendFile(const FileRange& file) {
  if constexpr (kTls) {
    // The bytes must pass through OpenSSL: read and write in large pieces.
    if (chunk_.empty()) chunk_.resize(kBodyChunk);
    uint64_t offset = file.offset;
    uint64_t left = file.length;
    const TransferRate rate = transferRate();
    while (left > 0) {
      if (rate.tooSlow(file.length - left)) co_return false;
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left, chunk_.size()));
      const ssize_t n = ::pread(file.fd->get(), chunk_.data(), want, static_cast<off_t>(offset));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        co_return false;
      }
      tcp().expires_after(server_.options.idleTimeout);
      auto [ec, written] = co_await asio::async_write(
          stream_, asio::buffer(chunk_.data(), static_cast<size_t>(n)), kTuple);
      if (ec) co_return false;
      offset += static_cast<uint64_t>(n);
      left -= static_cast<uint64_t>(n);
    }
    co_return true;
  }
  auto& socket = tcp().socket();
  boost::system::error_code ec;
  socket.native_non_blocking(true, ec);
  if (ec) co_return false;
  off_t offset = static_cast<off_t>(file.offset);
  uint64_t left = file.length;
  asio::steady_timer deadline(socket.get_executor());
  const TransferRate rate = transferRate();
  while (left > 0) {
    if (rate.tooSlow(file.length - left)) co_return false;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, 1u << 30));
    const ssize_t n = ::sendfile(socket.native_handle(), file.fd->get(), &offset, want);
    if (n > 0) {
      left -= static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) co_return false;  // the file shrank under us
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return false;
    // The socket buffer is full: wait until the client drains it, but not forever.
    deadline.expires_after(server_.options.idleTimeout);
    deadline.async_wait([&socket](boost::system::error_code timerEc) {
      if (!timerEc) {
        boost::system::error_code ignored;
        socket.cancel(ignored);
      }
    });
    auto [waitEc] = co_await socket.async_wait(tcp::socket::wait_write, kTuple);
    deadline.cancel();
    if (waitEc) co_return false;
  }
  co_return true;
}

Server::Server(ServerOptions options, Application& app)
    : impl_(std::make_unique<Impl>(std::move(options), app)) {}

Server::~Server() = default;

void Server::bind() {
  if (!impl_->options.tlsCert.empty()) {
    auto& tls = impl_->tls.emplace(asio::ssl::context::tls_server);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    tls.use_certificate_chain_file(impl_->options.tlsCert);
    tls.use_private_key_file(impl_->options.tlsKey, asio::ssl::context::pem);
  }
  auto address = asio::ip::make_address(impl_->options.host);
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

Server::Stats Server::stats() const {
  Stats s;
  {
    std::lock_guard lock(impl_->connectionsMutex);
    s.open = impl_->openConnections;
  }
  s.accepted = impl_->acceptedConnections.load();
  s.refused = impl_->refusedConnections.load();
  s.blockingInUse = impl_->blocking.inUse();
  s.streamsInUse = impl_->streams.inUse();
  s.poolRefused = impl_->poolBusy.load();
  return s;
}

void Server::run(bool handleSignals) {
  // A peer that closes its end makes the next write to it raise SIGPIPE, whose default action
  // ends the process; sendfile(2) has no MSG_NOSIGNAL. Ignored, the write fails with EPIPE and
  // only that connection ends. (Asio's own socket writes pass MSG_NOSIGNAL.)
  ::signal(SIGPIPE, SIG_IGN);
  if (!impl_->acceptor.is_open()) bind();
  auto& impl = *impl_;
  if (handleSignals) {
    impl.signals.add(SIGINT);
    impl.signals.add(SIGTERM);
    impl.signals.async_wait([&impl](boost::system::error_code ec, int signal) {
      if (ec) return;
      log::info("shutting down", {{"signal", signal}});
      impl.app.beginShutdown();
      if (impl.options.shutdownDelay.count() <= 0) {
        impl.beginStop();
        return;
      }
      // Not ready any more, still serving: load balancers see it and go elsewhere first.
      impl.shutdownDelay.expires_after(impl.options.shutdownDelay);
      impl.shutdownDelay.async_wait([&impl](boost::system::error_code) { impl.beginStop(); });
    });
  }
  const auto endpoint = impl.acceptor.local_endpoint();
  log::info("listening",
            {{"address", endpoint.address().to_string() + ":" + std::to_string(endpoint.port())}});
  asio::co_spawn(impl.ioc, impl.acceptLoop(), asio::detached);

  unsigned threads = impl.options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i) {
    auto& worker = impl.workers.emplace_back(std::make_unique<asio::io_context>(1));
    impl.guards.push_back(asio::make_work_guard(*worker));
  }
  std::vector<std::thread> pool;
  for (auto& worker : impl.workers) pool.emplace_back([w = worker.get()] { w->run(); });
  impl.ioc.run();
  for (auto& t : pool) t.join();
  impl.blocking.join();
  impl.streams.join();
  log::info("stopped");
}

void Server::stop() { impl_->beginStop(); }

}  // namespace berth::http
