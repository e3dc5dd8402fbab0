// The server's blocking pool: work a handler offloads, blocking body sinks and body sources
// run off the network thread, so that one slow store call does not stall other connections;
// the pool is bounded and answers 503 when full.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "core/unique_fd.hpp"
#include "http/server.hpp"
#include "tls/dev_cert.hpp"

namespace berth::http {
namespace {

// A door requests wait at until the test opens it.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  void waitForWaiters(int n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(20), [&] { return waiting_ >= n; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
};

class CountingSink final : public BodySink {
 public:
  CountingSink(std::thread::id network, std::atomic<bool>& offNetwork)
      : network_(network), offNetwork_(offNetwork) {}
  bool blocking() const override { return true; }
  bool write(const char*, size_t size) override {
    if (std::this_thread::get_id() == network_) offNetwork_ = false;
    bytes_ += size;
    return true;
  }
  Response finish(bool complete) override {
    Response r;
    r.body = (complete ? "complete " : "incomplete ") + std::to_string(bytes_);
    return r;
  }

 private:
  std::thread::id network_;
  std::atomic<bool>& offNetwork_;
  uint64_t bytes_ = 0;
};

// `total` bytes of a pattern in pieces, or a failure after `failAfter` bytes; failing before any
// byte, it answers 404 instead. With a gate, it waits there before its first byte.
class Source final : public BodySource {
 public:
  Source(uint64_t total, uint64_t failAfter, Gate* gate = nullptr)
      : total_(total), failAfter_(failAfter), gate_(gate) {}
  std::optional<Response> instead() override {
    Response r = Response::empty(404);
    r.body = "gone";
    return r;
  }
  bool pump(const std::function<bool(const char*, size_t)>& write) override {
    if (gate_) gate_->wait();
    std::string piece;
    for (uint64_t sent = 0; sent < total_;) {
      if (sent >= failAfter_) return false;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(100'000, total_ - sent));
      piece.clear();
      for (uint64_t i = sent; i < sent + n; ++i) piece.push_back(byteAt(i));
      if (!write(piece.data(), n)) return true;
      sent += n;
    }
    return true;
  }
  static char byteAt(uint64_t offset) { return static_cast<char>('a' + offset % 23); }

 private:
  uint64_t total_, failAfter_;
  Gate* gate_;
};

class App final : public Application {
 public:
  Gate gate;
  Gate sourceGate;
  std::atomic<std::thread::id> network{};
  std::atomic<bool> sinkOffNetwork{true};

  Dispatch dispatch(Request& req) override {
    network = std::this_thread::get_id();
    if (req.path == "/fast") return reply("fast");
    if (req.path == "/gate") {
      return Dispatch::offload([this, &req] {
        EXPECT_NE(std::this_thread::get_id(), network.load());
        gate.wait();
        return Dispatch::reply(reply(req.path).response.value());
      });
    }
    if (req.path == "/offloaded") {
      return Dispatch::offload([] { return reply("offloaded"); });
    }
    if (req.path == "/gated-source") {
      Response r;
      r.contentLength = 1'000'000;
      r.source = std::make_shared<Source>(1'000'000, ~0ull, &sourceGate);
      return Dispatch::reply(std::move(r));
    }
    if (req.path == "/sink") {
      return Dispatch::body(std::make_unique<CountingSink>(network.load(), sinkOffNetwork));
    }
    if (req.path == "/source" || req.path == "/broken-source" || req.path == "/lost-source") {
      Response r;
      r.contentLength = 1'000'000;
      const uint64_t failAfter = req.path == "/source"          ? ~0ull
                                 : req.path == "/broken-source" ? 300'000
                                                                : 0;
      r.source = std::make_shared<Source>(1'000'000, failAfter);
      return Dispatch::reply(std::move(r));
    }
    return Dispatch::reply(Response::empty(404));
  }

 private:
  static Dispatch reply(std::string body) {
    Response r;
    r.body = std::move(body);
    return Dispatch::reply(std::move(r));
  }
};

class BlockingPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(const std::filesystem::path& tlsDir) {
    ServerOptions options;
    if (!tlsDir.empty()) {
      options.tlsCert = (tlsDir / "server.crt").string();
      options.tlsKey = (tlsDir / "server.key").string();
    }
    options.port = 0;
    options.threads = 1;
    options.blockingThreads = 2;
    options.blockingQueue = 1;
    options.streamThreads = 2;
    server_ = std::make_unique<Server>(options, app_);
    server_->bind();
    thread_ = std::thread([this] { server_->run(false); });
  }
  void TearDown() override {
    app_.gate.open();
    app_.sourceGate.open();
    server_->stop();
    thread_.join();
  }

  // Connects to the server; an invalid descriptor when that fails.
  UniqueFd connectToServer() const {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{20, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
    return fd;
  }
  // The same exchange over TLS (the certificate unchecked: the server is ours).
  std::string exchangeTls(const std::string& request) const {
    UniqueFd fd = connectToServer();
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    SSL_set_fd(ssl.get(), fd.get());
    if (!fd || SSL_connect(ssl.get()) != 1) return "";
    if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0) return "";
    std::string out;
    char buffer[65536];
    for (;;) {
      const int n = SSL_read(ssl.get(), buffer, sizeof buffer);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  // Sends a GET of `path` per element of `answers` (each answer lands in its element), and
  // waits until `gate` holds all but one of them and `inUse` counts them all: the last waits
  // in the pool's queue.
  template <class InUse>
  std::vector<std::thread> fillPool(std::vector<std::string>& answers, const std::string& path,
                                    Gate& gate, InUse inUse) {
    std::vector<std::thread> clients;
    for (size_t i = 0; i < answers.size(); ++i) {
      clients.emplace_back([this, &answers, path, i] { answers[i] = exchange(get(path)); });
    }
    gate.waitForWaiters(static_cast<int>(answers.size()) - 1);
    for (int i = 0; i < 2000 && inUse() < answers.size(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return clients;
  }
  // Sends `request` on a new connection and reads until the server closes it.
  std::string exchange(const std::string& request) const {
    UniqueFd fd = connectToServer();
    if (!fd) return "";
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n =
          ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    std::string out;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  static std::string get(const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  }

  App app_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(BlockingPoolTest, OffloadedWorkLeavesTheNetworkThreadFree) {
  std::string held;
  std::thread waiter([&] { held = exchange(get("/gate")); });
  app_.gate.waitForWaiters(1);
  // One network thread, and it is not the one waiting at the gate.
  const auto fast = exchange(get("/fast"));
  EXPECT_NE(fast.find("200 OK"), std::string::npos) << fast;
  EXPECT_TRUE(fast.ends_with("fast"));
  EXPECT_TRUE(held.empty());
  app_.gate.open();
  waiter.join();
  EXPECT_NE(held.find("200 OK"), std::string::npos) << held;
  EXPECT_TRUE(held.ends_with("/gate"));
}

TEST_F(BlockingPoolTest, AFullPoolAnswers503AndRecovers) {
  // Two threads and a queue of one: three requests may hold the pool.
  std::vector<std::string> held(3);
  auto waiters = fillPool(held, "/gate", app_.gate, [&] { return server_->stats().blockingInUse; });
  // The third waits in the queue, holding its place.
  ASSERT_EQ(server_->stats().blockingInUse, 3u);
  const auto busy = exchange(get("/gate"));
  EXPECT_NE(busy.find("HTTP/1.1 503"), std::string::npos) << busy;
  EXPECT_NE(busy.find("Retry-After: 1"), std::string::npos) << busy;
  EXPECT_GE(server_->stats().poolRefused, 1u);
  app_.gate.open();
  for (auto& t : waiters) t.join();
  for (const auto& r : held) EXPECT_NE(r.find("200 OK"), std::string::npos) << r;
  EXPECT_NE(exchange(get("/gate")).find("200 OK"), std::string::npos);
}

TEST_F(BlockingPoolTest, ResponsesStreamingFromSourcesLeaveTheBlockingPoolFree) {
  // Two stream threads and a queue of one: three responses may hold the stream pool, however
  // long their clients take, and offloaded work still finds the blocking pool free.
  std::vector<std::string> streamed(3);
  auto readers = fillPool(streamed, "/gated-source", app_.sourceGate,
                          [&] { return server_->stats().streamsInUse; });
  ASSERT_EQ(server_->stats().streamsInUse, 3u);
  EXPECT_EQ(server_->stats().blockingInUse, 0u);
  for (int i = 0; i < 3; ++i) {
    const auto offloaded = exchange(get("/offloaded"));
    EXPECT_TRUE(offloaded.ends_with("offloaded")) << offloaded;
  }
  const auto busy = exchange(get("/gated-source"));
  EXPECT_NE(busy.find("HTTP/1.1 503"), std::string::npos) << busy;
  app_.sourceGate.open();
  for (auto& t : readers) t.join();
  for (const auto& r : streamed) {
    EXPECT_NE(r.find("200 OK"), std::string::npos) << r.substr(0, 200);
    EXPECT_EQ(r.size() - r.find("\r\n\r\n") - 4, 1'000'000u);
  }
  EXPECT_EQ(server_->stats().streamsInUse, 0u);
}

TEST_F(BlockingPoolTest, BlockingSinksAreWrittenOffTheNetworkThread) {
  const std::string body(3'000'000, 'b');
  const auto r =
      exchange("POST /sink HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_TRUE(r.ends_with("complete 3000000")) << r.substr(0, 200);
  EXPECT_TRUE(app_.sinkOffNetwork.load());
  const auto chunked = exchange(
      "POST /sink HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n");
  EXPECT_TRUE(chunked.ends_with("complete 5")) << chunked;
}

// The whole body of /source, after its head, byte by byte.
void ExpectWholeSource(const std::string& whole) {
  const auto split = whole.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos) << whole;
  EXPECT_NE(whole.find("Content-Length: 1000000"), std::string::npos);
  ASSERT_EQ(whole.size() - split - 4, 1'000'000u);
  for (uint64_t i = 0; i < 1'000'000; ++i) {
    ASSERT_EQ(whole[split + 4 + i], Source::byteAt(i)) << "at byte " << i;
  }
}

TEST_F(BlockingPoolTest, SourcesStreamTheirBytesAndAFailureCutsTheBodyShort) {
  ExpectWholeSource(exchange(get("/source")));
  const auto broken = exchange(get("/broken-source"));
  const auto brokenSplit = broken.find("\r\n\r\n");
  ASSERT_NE(brokenSplit, std::string::npos);
  EXPECT_LT(broken.size() - brokenSplit - 4, 1'000'000u);  // short: the client can tell
  EXPECT_NE(exchange(get("/fast")).find("200 OK"), std::string::npos);
}

TEST_F(BlockingPoolTest, ASourceThatFailsBeforeItsFirstByteAnswersInsteadAndKeepsTheConnection) {
  const std::string keepAlive = "GET /lost-source HTTP/1.1\r\nHost: t\r\n\r\n";
  const auto out = exchange(keepAlive + get("/fast"));
  EXPECT_EQ(out.find("HTTP/1.1 404"), 0u) << out;
  EXPECT_EQ(out.find("1000000"), std::string::npos) << "the source's head went out: " << out;
  const auto gone = out.find("\r\n\r\ngone");
  ASSERT_NE(gone, std::string::npos) << out;
  EXPECT_EQ(out.find("HTTP/1.1 200", gone), gone + 8) << out;
  EXPECT_NE(out.find("fast", gone), std::string::npos) << out;
}

TEST_F(BlockingPoolTest, SourcesStreamTheirWholeBodyOverTls) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("berth-pool-tls-" + std::to_string(::getpid()));
  ASSERT_TRUE(tls::writeDevCertificates(dir, {}));
  TearDown();
  start(dir);
  ExpectWholeSource(exchangeTls(get("/source")));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::http
