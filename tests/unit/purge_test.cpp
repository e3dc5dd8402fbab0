// Purge over the SQLite store: which tags and manifests go, what locks and --keep keep; and
// the durations and cron expressions purge and its schedules take.
#include "jobs/purge.hpp"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <filesystem>
#include <thread>

#include "core/random.hpp"
#include "jobs/cron.hpp"
#include "meta/sqlite/sqlite_store.hpp"

namespace berth::jobs {
namespace {

namespace fs = std::filesystem;

std::string digestOf(char c) { return "sha256:" + std::string(64, c); }

class PurgeTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("berth-purge-" + newUuid());
  meta::MetadataStorePtr meta;
  meta::RegistryId registry = 0;
  meta::RepositoryId repo = 0;

  void SetUp() override {
    fs::create_directories(dir);
    meta = *meta::openSqliteStore(dir / "berth.db");
    registry = *meta->ensureRegistry("default");
    repo = *meta->ensureRepository(registry, "app");
  }
  void TearDown() override { fs::remove_all(dir); }

  void put(char c, std::optional<std::string> tag, std::string payload = "{}",
           std::string subject = {}) {
    meta::ManifestRecord m;
    m.digest = digestOf(c);
    m.mediaType = "application/vnd.oci.image.manifest.v1+json";
    m.payload = std::move(payload);
    m.size = m.payload.size();
    m.subject = std::move(subject);
    std::optional<std::string_view> t;
    if (tag) t = *tag;
    ASSERT_TRUE(meta->putManifest(registry, repo, m, {}, t));
  }
  std::vector<std::string> tags() { return meta->listTags(repo, "", 100)->items; }
  bool has(char c) { return meta->getManifest(repo, digestOf(c))->has_value(); }

  PurgeOptions everything(const RE2& pattern) {
    PurgeOptions o;
    o.tags = &pattern;
    o.before = std::time(nullptr) + 60;
    o.actor = {"purge", ""};
    return o;
  }
};

TEST_F(PurgeTest, MatchingTagsGoAndKeepSparesTheNewest) {
  put('a', "v1");
  put('b', "v2");
  put('c', "v3");
  put('d', "latest");
  // Times carry seconds: v3 is pushed again a second later, so it is the newest.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  put('c', "v3");
  put('e', "v3");
  RE2 versions("v\\d+");
  auto o = everything(versions);
  o.keep = 1;
  auto dry = *purgeRepository(*meta, repo, [&] {
    auto d = o;
    d.dryRun = true;
    return d;
  }());
  EXPECT_EQ(dry.tags.size(), 2u);
  EXPECT_EQ(tags().size(), 4u) << "a dry run deletes nothing";
  auto result = *purgeRepository(*meta, repo, o);
  ASSERT_EQ(result.tags.size(), 2u);
  EXPECT_EQ(tags(), (std::vector<std::string>{"latest", "v3"}));
  // The tags' manifests stay: only --untagged deletes manifests.
  EXPECT_TRUE(has('a') && has('b'));
  // The whole name must match: "v3x" would not, "latest" does not.
  EXPECT_FALSE(RE2::FullMatch("v3x", versions));
}

TEST_F(PurgeTest, AgoSparesWhatIsYounger) {
  put('a', "old");
  RE2 all(".*");
  auto o = everything(all);
  o.before = std::time(nullptr) - 3600;
  EXPECT_TRUE(purgeRepository(*meta, repo, o)->tags.empty());
  EXPECT_EQ(tags().size(), 1u);
}

TEST_F(PurgeTest, UntaggedManifestsGoButNotWhatAnIndexOrASubjectKeeps) {
  put('a', std::nullopt);  // untagged
  put('b', std::nullopt);  // a child of the tagged index
  put('c', "multi",
      R"({"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":")" +
          digestOf('b') + R"("}]})");
  put('d', std::nullopt, "{}", digestOf('c'));  // a signature of the index
  put('e', std::nullopt, "{}", digestOf('a'));  // a signature of the untagged one
  put('f', "old");
  RE2 old("old");
  auto o = everything(old);
  o.untagged = true;
  auto result = *purgeRepository(*meta, repo, o);
  EXPECT_EQ(result.tags.size(), 1u);
  std::set<std::string> gone(result.manifests.begin(), result.manifests.end());
  EXPECT_EQ(gone, (std::set<std::string>{digestOf('a'), digestOf('e'), digestOf('f')}));
  EXPECT_TRUE(has('b') && has('c') && has('d'));
  EXPECT_FALSE(has('a') || has('e') || has('f'));
}

TEST_F(PurgeTest, LockedTagsAndManifestsAreLeftAndReported) {
  put('a', "v1");
  put('b', std::nullopt);
  meta::AttributeChange lock;
  lock.deleteEnabled = false;
  ASSERT_TRUE(*meta->updateTag(repo, "v1", lock));
  ASSERT_TRUE(*meta->updateManifest(repo, digestOf('b'), lock));
  RE2 all(".*");
  auto o = everything(all);
  o.untagged = true;
  auto result = *purgeRepository(*meta, repo, o);
  EXPECT_TRUE(result.tags.empty());
  EXPECT_TRUE(result.manifests.empty());
  EXPECT_EQ(result.locked, (std::vector<std::string>{"v1", digestOf('b')}));
  EXPECT_TRUE(has('a') && has('b'));
}

TEST(PurgeDuration, AcrStyleDurations) {
  EXPECT_EQ(parseDuration("1d"), 86400);
  EXPECT_EQ(parseDuration("2d3h6m"), 2 * 86400 + 3 * 3600 + 6 * 60);
  EXPECT_EQ(parseDuration("90s"), 90);
  EXPECT_EQ(parseDuration("0d"), 0);
  for (const char* bad : {"", "d", "1", "1x", "-1d", "1d2", "1.5h", "99999999999999999999d"}) {
    EXPECT_FALSE(parseDuration(bad)) << bad;
  }
}

TEST(PurgeFilter, SplitAtTheFirstColonOutsideGroups) {
  auto f = parseFilter("team/.*:v1\\..*");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->repositories, "team/.*");
  EXPECT_EQ(f->tags, "v1\\..*");
  f = parseFilter("(?:a|b):(?:x|y)");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->repositories, "(?:a|b)");
  EXPECT_EQ(f->tags, "(?:x|y)");
  std::string why;
  for (const char* bad : {"app", ":v1", "app:", "(app:v1)", "app:v((", "a(b:c"}) {
    EXPECT_FALSE(parseFilter(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

TEST_F(PurgeTest, ARegistryPurgeGoesThroughTheRepositoriesAFilterMatches) {
  put('a', "v1");
  auto other = *meta->ensureRepository(registry, "other");
  meta::ManifestRecord m;
  m.digest = digestOf('b');
  m.mediaType = "application/vnd.oci.image.manifest.v1+json";
  m.payload = "{}";
  m.size = 2;
  ASSERT_TRUE(meta->putManifest(registry, other, m, {}, std::string_view("v1")));
  PurgeOptions o;
  o.before = std::time(nullptr) + 60;
  auto result = purgeRegistry(*meta, registry, {*parseFilter("app:v.*")}, o);
  EXPECT_TRUE(result.error.empty()) << result.error;
  EXPECT_EQ(result.repositories, 1u);
  EXPECT_EQ(result.tags, 1u);
  EXPECT_TRUE(tags().empty());
  EXPECT_EQ(meta->listTags(other, "", 10)->items.size(), 1u);
}

TEST(Cron, NextMatchingMinute) {
  // 2026-12-03T14:30:00Z, a Thursday.
  const int64_t at = 1796308200;
  auto daily = *CronSchedule::parse("0 3 * * *");
  EXPECT_EQ(daily.next(at), at + (12 * 60 + 30) * 60);  // tomorrow 03:00
  auto every15 = *CronSchedule::parse("*/15 * * * *");
  EXPECT_EQ(every15.next(at), at + 15 * 60);
  EXPECT_EQ(every15.next(at - 1), at);
  auto sunday = *CronSchedule::parse("30 14 * * 7");
  EXPECT_EQ(sunday.next(at), at + 3 * 86400);
  auto listed = *CronSchedule::parse("0 0 1,15 * *");
  EXPECT_EQ(listed.next(at), 1797292800);  // 2026-12-15T00:00:00Z
  auto february29 = *CronSchedule::parse("0 0 29 2 *");
  EXPECT_EQ(february29.next(at), 1835395200);  // 2028-02-29T00:00:00Z
  EXPECT_EQ(CronSchedule::parse("0 0 31 2 *")->next(at), INT64_MAX);
  std::string why;
  for (const char* bad : {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                          "* * * * 8", "*/0 * * * *", "a * * * *", "5-1 * * * *", "* * * * * *"}) {
    EXPECT_FALSE(CronSchedule::parse(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

}  // namespace
}  // namespace berth::jobs
