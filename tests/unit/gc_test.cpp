// One garbage-collection pass over the SQLite store and the filesystem blob store: what it
// removes, what it keeps, and what a dry run reports.
#include "jobs/gc.hpp"

#include <gtest/gtest.h>
#include <sys/time.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/random.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "storage/fs/fs_blob_store.hpp"

namespace berth::jobs {
namespace {

namespace fs = std::filesystem;

class GcTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("berth-gc-" + newUuid());
  meta::MetadataStorePtr meta;
  storage::BlobStorePtr blobs;
  meta::RegistryId registry = 0;
  meta::RepositoryId repo = 0;

  void SetUp() override {
    fs::create_directories(dir);
    meta = *meta::openSqliteStore(dir / "berth.db");
    blobs = *storage::FsBlobStore::open(dir / "store");
    registry = *meta->ensureRegistry("default");
    repo = *meta->ensureRepository(registry, "app");
  }
  void TearDown() override { fs::remove_all(dir); }

  // An upload, linked as the data plane links it: placed inside the linking transaction.
  Digest push(meta::RepositoryId repository, const std::string& content) {
    const auto id = newUuid();
    EXPECT_TRUE(blobs->createUpload(id));
    auto writer = blobs->appendUpload(id);
    EXPECT_TRUE(writer);
    EXPECT_TRUE((*writer)->write(content.data(), content.size()));
    writer->reset();
    const auto digest = *Digest::parse(sha256Digest(content));
    EXPECT_TRUE(blobs->verifyUpload(id, digest));
    EXPECT_TRUE(meta->linkBlob(registry, repository, digest.str(), content.size(),
                               [&] { return blobs->placeUpload(id, digest); }, {}));
    return digest;
  }

  bool stored(const Digest& d) { return blobs->stat(d)->has_value(); }

  fs::path uploadFile(const std::string& id) { return dir / "store" / "uploads" / id; }

  static void age(const fs::path& file, std::chrono::seconds by) {
    const timeval old{std::time(nullptr) - by.count(), 0};
    const timeval times[2] = {old, old};
    ASSERT_EQ(::utimes(file.c_str(), times), 0);
  }

  GcOptions options(bool dryRun) {
    GcOptions o;
    o.grace = std::chrono::seconds(0);
    o.uploadExpiry = std::chrono::hours(24);
    o.dryRun = dryRun;
    o.sweepOrphans = true;
    o.batch = 2;  // small, so that every loop takes more than one round
    return o;
  }
};

TEST_F(GcTest, RemovesWhatNothingReferencesAndKeepsTheRest) {
  const auto kept = push(repo, std::string(100, 'k'));
  const auto dropped = push(repo, std::string(200, 'd'));
  auto other = *meta->ensureRepository(registry, "other");
  const auto elsewhere = push(other, std::string(300, 'e'));
  const auto shared = push(repo, std::string(400, 's'));
  ASSERT_TRUE(meta->mountBlob(repo, other, shared.str()));
  meta::ManifestRecord m;
  m.digest = "sha256:" + std::string(64, 'a');
  m.mediaType = "application/vnd.oci.image.manifest.v1+json";
  m.payload = "{}";
  m.size = 2;
  ASSERT_TRUE(
      meta->putManifest(registry, repo, m, {{kept.str(), false}, {shared.str(), false}}, "v1"));

  // A file no metadata knows (what a crash between placing and recording leaves).
  const auto orphanId = newUuid();
  ASSERT_TRUE(blobs->createUpload(orphanId));
  {
    auto w = *blobs->appendUpload(orphanId);
    ASSERT_TRUE(w->write("orphan", 6));
  }
  const auto orphan = *Digest::parse(sha256Digest("orphan"));
  ASSERT_TRUE(blobs->commitUpload(orphanId, orphan));
  // An upload nobody wrote to for two days, and one recorded whose file is gone.
  const auto stale = newUuid();
  ASSERT_TRUE(blobs->createUpload(stale));
  ASSERT_TRUE(meta->createUpload({stale, registry, "app", 0}));
  age(uploadFile(stale), std::chrono::hours(48));
  const auto fresh = newUuid();
  ASSERT_TRUE(blobs->createUpload(fresh));
  ASSERT_TRUE(meta->createUpload({fresh, registry, "app", 0}));

  // Times carry whole seconds: with no grace, what was linked a second ago is old enough.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(stored(orphan));
  const uint64_t before = meta->usage(registry)->storedBytes;
  EXPECT_EQ(before, 1000u);

  auto dry = collectGarbage(*meta, *blobs, registry, options(true));
  EXPECT_TRUE(dry.error.empty()) << dry.error;
  EXPECT_TRUE(dry.dryRun);
  EXPECT_EQ(dry.linksRemoved, 3u);  // dropped; elsewhere and shared in "other"
  EXPECT_EQ(dry.blobsRemoved, 2u);  // dropped and elsewhere: shared stays referenced in app
  EXPECT_EQ(dry.bytesRemoved, 500u);
  EXPECT_EQ(dry.uploadsRemoved, 1u);
  EXPECT_TRUE(stored(dropped) && stored(elsewhere) && stored(orphan));
  EXPECT_EQ(meta->usage(registry)->storedBytes, before);

  auto run = collectGarbage(*meta, *blobs, registry, options(false));
  EXPECT_TRUE(run.error.empty()) << run.error;
  EXPECT_EQ(run.linksRemoved, 3u);
  EXPECT_EQ(run.blobsRemoved, 2u);
  EXPECT_EQ(run.orphansRemoved, 1u);
  EXPECT_EQ(run.bytesRemoved, 506u);
  EXPECT_EQ(run.uploadsRemoved, 1u);
  EXPECT_GE(run.finished, run.started);
  EXPECT_FALSE(stored(dropped));
  EXPECT_FALSE(stored(elsewhere));
  EXPECT_FALSE(stored(orphan));
  EXPECT_TRUE(stored(kept));
  EXPECT_TRUE(stored(shared));
  EXPECT_EQ(meta->usage(registry)->storedBytes, 500u);
  EXPECT_FALSE(fs::exists(uploadFile(stale)));
  EXPECT_FALSE(*meta->getUpload(stale));
  EXPECT_TRUE(fs::exists(uploadFile(fresh)));
  EXPECT_TRUE(*meta->getUpload(fresh));

  // Once the manifest is gone, its blobs follow, after their grace period.
  ASSERT_FALSE(meta->deleteManifest(repo, m.digest)->empty());
  auto graced = options(false);
  graced.grace = std::chrono::hours(1);
  EXPECT_EQ(collectGarbage(*meta, *blobs, registry, graced).blobsRemoved, 0u);
  EXPECT_TRUE(stored(kept));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto last = collectGarbage(*meta, *blobs, registry, options(false));
  EXPECT_EQ(last.blobsRemoved, 2u);
  EXPECT_EQ(last.bytesRemoved, 500u);
  EXPECT_FALSE(stored(kept));
  EXPECT_FALSE(stored(shared));
  EXPECT_EQ(meta->usage(registry)->storedBytes, 0u);
}

TEST_F(GcTest, AStoppingPassEndsEarlyAndSaysWhatItDid) {
  for (int i = 0; i < 6; ++i) push(repo, "blob " + std::to_string(i));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto o = options(false);
  int asked = 0;
  o.stopping = [&] { return ++asked > 1; };
  auto run = collectGarbage(*meta, *blobs, registry, o);
  EXPECT_TRUE(run.error.empty());
  EXPECT_LT(run.linksRemoved, 6u);
  EXPECT_GT(run.linksRemoved, 0u);
}

}  // namespace
}  // namespace berth::jobs
