// The retention policy run by the server: untagged manifests older than the policy's days go,
// tagged, young and locked ones stay. A day cannot pass in a test: the manifests are aged in the
// database (as another process may write to it while berth runs), and the restarted server runs
// the policy at its first tick.
#include <sqlite3.h>

#include "lifecycle_support.hpp"

namespace berth_test {
namespace {

using namespace std::chrono_literals;

class RetentionTest : public LifecycleTest {
 public:
  static void SetUpTestSuite() { startWith(R"("lifecycle_interval_seconds": 1)"); }
  static void TearDownTestSuite() { stop(); }

 protected:
  // Makes every manifest of the data directory `days` older.
  static void ageManifests(int days) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((std::filesystem::path(dataDir()) / "berth.db").c_str(), &db),
              SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    const std::string sql =
        "UPDATE manifests SET created = created - " + std::to_string(days * 86400);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }
};

TEST_F(RetentionTest, UntaggedManifestsOlderThanThePolicyGo) {
  const std::string name = repo("retained/app");
  const auto tagged = pushRandomImage(name, "keep");
  const auto untagged = pushRandomImage(name, "");
  const auto untaggedLater = pushRandomImage(name, "gone");
  ASSERT_EQ(http().del("/v2/" + name + "/manifests/gone").status, 202);
  const auto locked = pushRandomImage(name, "");
  Response lock = http().patch(
      "/api/v1/registries/default/repositories/" + name + "/_manifests/" + locked.digest,
      R"({"deleteEnabled": false})", {{"Content-Type", "application/json"}});
  ASSERT_EQ(lock.status, 200) << lock;
  Response policy = http().patch("/api/v1/registries/default/policies",
                                 R"({"retentionPolicy": {"status": "enabled", "days": 1}})",
                                 {{"Content-Type", "application/json"}});
  ASSERT_EQ(policy.status, 200) << policy;
  // Young: the policy keeps them all.
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(getManifest(name, untagged.digest).status, 200);

  ageManifests(2);
  ASSERT_TRUE(restartServer()) << serverError();
  EXPECT_TRUE(eventually([&] { return getManifest(name, untagged.digest).status == 404; }))
      << "retention did not run";
  EXPECT_EQ(getManifest(name, untaggedLater.digest).status, 404);
  EXPECT_EQ(getManifest(name, "keep").status, 200);
  EXPECT_EQ(getManifest(name, tagged.digest).status, 200);
  EXPECT_EQ(getManifest(name, locked.digest).status, 200);
}

}  // namespace
}  // namespace berth_test
