// Connection limits: a global and a per-client cap answered with 503 and Retry-After, idle and
// slow clients closed, so that no number of idle or slow connections exhausts descriptors.
#include <vector>

#include "robust_support.hpp"

namespace berth_test {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxConnections = 12;
constexpr int kMaxPerClient = 6;

class ConnectionLimitTest : public StaysUpTest {
 public:
  static void SetUpTestSuite() {
    startServerWithConfig("{\"max_connections\": " + std::to_string(kMaxConnections) +
                          ", \"max_connections_per_client\": " + std::to_string(kMaxPerClient) +
                          ", \"idle_timeout_seconds\": 2, \"min_transfer_rate\": 1000}");
  }
  static void TearDownTestSuite() { stopServerWithConfig(); }

 protected:
  // Opens a connection from `source` and asks GET /v2/: the status it gets (0: none).
  int ask(RawConnection& c) {
    if (!c.ok() || !c.send(head("GET", "/v2/"))) return 0;
    return rawStatus(c.readResponse(5s));
  }
  // Waits until the server has closed `c` (true) or 15 s passed.
  static bool closedByServer(RawConnection& c) {
    std::string ignored;
    return c.readToEnd(ignored, 15s);
  }
};

TEST_F(ConnectionLimitTest, OneClientGetsAtMostItsShare) {
  std::vector<RawConnection> held;
  for (int i = 0; i < kMaxPerClient; ++i) {
    held.emplace_back(hostPort(), "127.0.0.2");
    ASSERT_EQ(ask(held.back()), 200) << "connection " << i;
  }
  RawConnection over(hostPort(), "127.0.0.2");
  ASSERT_TRUE(over.ok() && over.send(head("GET", "/v2/")));
  const std::string reply = over.readResponse(5s);
  EXPECT_EQ(rawStatus(reply), 503) << reply;
  EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"TOOMANYREQUESTS\""), std::string::npos) << reply;
  EXPECT_NE(reply.find("too many connections"), std::string::npos) << reply;
  // Another client is not affected, and the first gets a place again once it gives one up.
  RawConnection other(hostPort(), "127.0.0.3");
  EXPECT_EQ(ask(other), 200);
  held.front().close();
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    RawConnection again(hostPort(), "127.0.0.2");
    admitted = ask(again) == 200;
    if (!admitted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(admitted);
  ASSERT_TRUE(alive());
}

TEST_F(ConnectionLimitTest, AThousandIdleConnectionsCannotExhaustDescriptors) {
  ASSERT_TRUE(alive());
  const Descriptors baseline = descriptors();
  std::vector<RawConnection> crowd;
  int refused = 0;
  for (int host = 10; host < 210; ++host) {
    for (int i = 0; i < 5; ++i) {
      crowd.emplace_back(hostPort(), "127.0.1." + std::to_string(host));
      ASSERT_TRUE(crowd.back().ok());
    }
  }
  // However many connect, the server holds at most its limit (and the refusals it is still
  // answering, each for at most 2 s).
  const int during = openSockets(serverPid());
  EXPECT_LE(during, baseline.sockets + kMaxConnections + 256) << "connections held: " << during;
  for (auto& c : crowd) {
    std::string reply;
    if (c.readToEnd(reply, 100ms) && (reply.empty() || rawStatus(reply) == 503)) ++refused;
  }
  EXPECT_GE(refused, 1000 - kMaxConnections);
  crowd.clear();
  EXPECT_TRUE(NoDescriptorLeaked(baseline));
  ASSERT_TRUE(alive());
}

TEST_F(ConnectionLimitTest, IdleAndSlowClientsAreClosed) {
  // An idle keep-alive connection, a request head sent a byte at a time, and a body trickling
  // in slower than min_transfer_rate: each is closed, within the idle timeout or soon after.
  RawConnection idle(hostPort(), "127.0.0.4");
  ASSERT_EQ(ask(idle), 200);
  EXPECT_TRUE(closedByServer(idle)) << "idle connection still open";

  RawConnection slowHead(hostPort(), "127.0.0.4");
  const std::string request = head("GET", "/v2/");
  bool cut = false;
  for (std::size_t i = 0; i < request.size() && !cut; ++i) {
    cut = !slowHead.send(request.substr(i, 1));
    std::string ignored;
    if (!cut && slowHead.readToEnd(ignored, 300ms)) cut = true;
  }
  EXPECT_TRUE(cut) << "a request head sent a byte each 300 ms was still being read after "
                   << request.size() << " bytes";

  const std::string name = repo("limits/slow-body");
  const std::string session = startUpload(name);
  RawConnection slowBody(hostPort(), "127.0.0.4");
  ASSERT_TRUE(slowBody.send(head("PATCH", pathOnly(session), "Content-Length: 1000000\r\n")));
  cut = false;
  for (int i = 0; i < 200 && !cut; ++i) {
    cut = !slowBody.send("x");
    std::string reply;
    if (!cut && slowBody.readToEnd(reply, 100ms)) cut = true;
  }
  EXPECT_TRUE(cut) << "a body trickling at 10 bytes/s was still being read after 20 s";
  ASSERT_TRUE(alive());
}

}  // namespace
}  // namespace berth_test
