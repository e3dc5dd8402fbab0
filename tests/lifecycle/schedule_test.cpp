// A purge schedule run by the server: at the next minute its cron names, the tags it matches
// go, what it does not match stays, the schedule reports the run and the tag history names
// the purge as the one that deleted.
#include "lifecycle_support.hpp"

namespace berth_test {
namespace {

using namespace std::chrono_literals;

class ScheduleTest : public LifecycleTest {
 public:
  // Due schedules are looked for every second.
  static void SetUpTestSuite() { startWith(R"("lifecycle_interval_seconds": 1)"); }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(ScheduleTest, AScheduledPurgeRunsAtItsMinute) {
  const std::string name = repo("scheduled/app");
  pushRandomImage(name, "build-1");
  pushRandomImage(name, "release-1");
  Response created =
      http().post("/api/v1/registries/default/purge-schedules",
                  R"({"schedule": "* * * * *", "filters": [")" + name + R"(:build-.*"]})",
                  {{"Content-Type", "application/json"}});
  ASSERT_EQ(created.status, 201) << created;
  auto schedule = json::parse(created.body);
  ASSERT_TRUE(schedule);
  const std::string id = *schedule->getString("id");
  // At most a minute to the next one, and a second to notice.
  EXPECT_TRUE(eventually([&] { return getManifest(name, "build-1").status == 404; }, 75s))
      << "the scheduled purge did not run";
  EXPECT_EQ(getManifest(name, "release-1").status, 200);
  auto list = control("/purge-schedules");
  ASSERT_TRUE(list.isArray());
  ASSERT_EQ(list.asArray().size(), 1u);
  const auto& run = list.asArray()[0];
  ASSERT_TRUE(run.find("lastRunTime")->isString());
  const auto* last = run.find("lastResult");
  ASSERT_TRUE(last && last->isObject());
  EXPECT_EQ(last->find("tagsDeleted")->asNumber(), 1);
  EXPECT_TRUE(last->find("error")->isNull());
  auto history = control("/repositories/" + name + "/_tags/build-1/history");
  const auto* events = history.find("history");
  ASSERT_TRUE(events && events->isArray() && !events->asArray().empty());
  EXPECT_EQ(events->asArray()[0].getString("action"), "deleted");
  EXPECT_EQ(events->asArray()[0].getString("identity"), "purge");
  EXPECT_EQ(http().del("/api/v1/registries/default/purge-schedules/" + id).status, 204);
}

}  // namespace
}  // namespace berth_test
