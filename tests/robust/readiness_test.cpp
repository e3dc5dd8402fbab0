// /healthz and /readyz: ready while the stores answer; a blob store that does not answer is
// named; after SIGTERM readiness turns false while requests are still served, for the shutdown
// delay, and then the server exits 0. (The full disk's 503 is in full_disk_test.cpp.)
#include <signal.h>

#include "json.hpp"
#include "robust_support.hpp"

namespace berth_test {
namespace {

using namespace std::chrono_literals;

class ReadinessTest : public StaysUpTest {
 public:
  static void SetUpTestSuite() { startServerWithConfig(R"({"shutdown_delay_seconds": 3})"); }
  static void TearDownTestSuite() { stopServerWithConfig(); }

 protected:
  std::string check(const Response& r, std::string_view name) {
    auto body = json::parse(r.body);
    if (!body) return "<no JSON>";
    const auto* checks = body->find("checks");
    if (!checks) return "<no checks>";
    return checks->getString(name).value_or("<absent>");
  }
};

TEST_F(ReadinessTest, ReadyWhileTheStoresAnswerAndNamesOneThatDoesNot) {
  EXPECT_EQ(http().get("/healthz").status, 200);
  Response ready = http().get("/readyz");
  ASSERT_EQ(ready.status, 200) << ready;
  for (const char* name : {"metadata", "storage", "disk", "shutdown"}) {
    EXPECT_EQ(check(ready, name), "ok") << name;
  }
  // The default registry's blobs directory gone (a failed mount, say).
  const auto blobs = std::filesystem::path(dataDir()) / "registries" / "default" / "blobs";
  const auto aside = blobs.string() + ".aside";
  pushBlob(repo("ready/app"), "x");
  std::filesystem::rename(blobs, aside);
  Response broken = http().get("/readyz");
  std::filesystem::rename(aside, blobs);
  EXPECT_EQ(broken.status, 503) << broken;
  EXPECT_EQ(check(broken, "storage"), "the blob store of registry default does not answer");
  EXPECT_EQ(check(broken, "metadata"), "ok");
  EXPECT_EQ(http().get("/readyz").status, 200);
}

TEST_F(ReadinessTest, ShutdownTurnsReadinessFalseBeforeTheListenerCloses) {
  ASSERT_EQ(::kill(serverPid(), SIGTERM), 0);
  // Within the delay: not ready, but still serving.
  bool sawNotReady = false;
  for (int i = 0; i < 20 && !sawNotReady; ++i) {
    Response r = http().get("/readyz");
    if (r.status == 503 && check(r, "shutdown") == "shutting down") sawNotReady = true;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(sawNotReady) << "readiness stayed true after SIGTERM";
  EXPECT_EQ(http().get("/v2/").status, 200) << "requests were refused during the delay";
  // Then it exits (seen without reaping it: the restart below reaps it and checks for status 0).
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    siginfo_t info{};
    exited =
        ::waitid(P_PID, static_cast<id_t>(serverPid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == serverPid();
    if (!exited) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(exited) << "berth did not exit after its shutdown delay";
  ASSERT_TRUE(restartServer()) << serverError();
}

}  // namespace
}  // namespace berth_test
