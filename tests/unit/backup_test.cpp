// Backup and restore of a data directory: what a backup holds, what it leaves out when garbage
// collection removed it meanwhile, and what makes a backup or a restore fail.
#include "app/backup.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "core/random.hpp"
#include "events/secret_box.hpp"
#include "meta/sqlite/backup.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "storage/fs/fs_blob_store.hpp"

namespace berth::app {
namespace {

namespace fs = std::filesystem;

class BackupTest : public ::testing::Test {
 protected:
  fs::path root = fs::temp_directory_path() / ("berth-backup-" + newUuid());
  fs::path data = root / "data";
  meta::MetadataStorePtr meta;
  storage::BlobStorePtr blobs;
  meta::RegistryId registry = 0;
  meta::RepositoryId repo = 0;
  std::optional<Digest> referencedDigest, unreferencedDigest;
  const Digest& referenced() const { return *referencedDigest; }
  const Digest& unreferenced() const { return *unreferencedDigest; }

  void SetUp() override {
    fs::create_directories(data);
    meta = *meta::openSqliteStore(data / "berth.db");
    blobs = *storage::FsBlobStore::open(data / "registries" / "default");
    registry = *meta->ensureRegistry("default");
    repo = *meta->ensureRepository(registry, "app");
    referencedDigest = push(std::string(1000, 'r'));
    unreferencedDigest = push(std::string(2000, 'u'));
    meta::ManifestRecord m;
    m.digest = "sha256:" + std::string(64, 'a');
    m.mediaType = "application/vnd.oci.image.manifest.v1+json";
    m.payload = "{}";
    m.size = 2;
    ASSERT_TRUE(meta->putManifest(registry, repo, m, {{referenced().str(), false}}, "v1"));
  }
  void TearDown() override { fs::remove_all(root); }

  Digest push(const std::string& content) {
    const auto id = newUuid();
    EXPECT_TRUE(blobs->createUpload(id));
    {
      auto writer = *blobs->appendUpload(id);
      EXPECT_TRUE(writer->write(content.data(), content.size()));
    }
    const auto digest = *Digest::parse(sha256Digest(content));
    EXPECT_TRUE(blobs->verifyUpload(id, digest));
    EXPECT_TRUE(meta->linkBlob(registry, repo, digest.str(), content.size(),
                               [&] { return blobs->placeUpload(id, digest); }, {}));
    return digest;
  }

  static fs::path blobFile(const fs::path& store, const Digest& d) {
    const std::string hex(d.hex());
    return store / "blobs" / "sha256" / hex.substr(0, 2) / hex;
  }

  static size_t blobsIn(const fs::path& db) {
    size_t n = 0;
    EXPECT_TRUE(meta::sqlite::forEachSnapshotBlob(db, 1, [&](const auto&) -> Result<void> {
      ++n;
      return {};
    }));
    return n;
  }
};

TEST_F(BackupTest, ABackupRestoresIntoADirectoryThatHasEveryBlob) {
  auto backup = backupDataDirectory(data, root / "backup");
  ASSERT_TRUE(backup) << backup.error().detail;
  ASSERT_EQ(backup->registries.size(), 1u);
  EXPECT_EQ(backup->registries[0].blobs, 2u);
  EXPECT_EQ(backup->registries[0].bytes, 3000u);
  EXPECT_TRUE(fs::exists(root / "backup" / "backup.json"));

  auto restored = restoreDataDirectory(root / "backup", root / "restored");
  ASSERT_TRUE(restored) << restored.error().detail;
  auto store = *storage::FsBlobStore::open(root / "restored" / "registries" / "default");
  EXPECT_TRUE(store->stat(referenced())->has_value());
  EXPECT_TRUE(store->stat(unreferenced())->has_value());
  auto back = meta::openSqliteStore(root / "restored" / "berth.db");
  ASSERT_TRUE(back);
  auto manifest = (*back)->getManifest(repo, "sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(manifest);
  EXPECT_TRUE(*manifest);

  // Neither goes where something is already.
  EXPECT_FALSE(backupDataDirectory(data, root / "backup"));
  EXPECT_FALSE(restoreDataDirectory(root / "backup", root / "restored"));
}

TEST_F(BackupTest, TheKeyThatSealsSecretsGoesWithTheDatabase) {
  auto box = events::SecretBox::open(data / "secret.key");
  ASSERT_TRUE(box);
  const auto sealed = box->seal("webhook secret");
  ASSERT_TRUE(backupDataDirectory(data, root / "backup"));
  ASSERT_TRUE(restoreDataDirectory(root / "backup", root / "restored"));
  // Secrets sealed before the backup open after the restore: the same key came back.
  auto restored = events::SecretBox::open(root / "restored" / "secret.key");
  ASSERT_TRUE(restored);
  auto opened = restored->unseal(sealed);
  ASSERT_TRUE(opened) << opened.error().detail;
  EXPECT_EQ(*opened, "webhook secret");
  EXPECT_EQ(fs::status(root / "backup" / "secret.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(BackupTest, AnUnreferencedBlobCollectedMeanwhileIsLeftOut) {
  // The database copy knows the blob, its file is gone: what garbage collection does between
  // the copy of the database and the copy of the blobs.
  ASSERT_TRUE(fs::remove(blobFile(data / "registries" / "default", unreferenced())));
  auto backup = backupDataDirectory(data, root / "backup");
  ASSERT_TRUE(backup) << backup.error().detail;
  EXPECT_EQ(backup->registries[0].blobs, 1u);
  EXPECT_EQ(backup->registries[0].leftOut, 1u);
  EXPECT_EQ(blobsIn(root / "backup" / "berth.db"), 1u);
  EXPECT_TRUE(restoreDataDirectory(root / "backup", root / "restored"));
}

TEST_F(BackupTest, AReferencedBlobThatIsMissingFailsTheBackup) {
  ASSERT_TRUE(fs::remove(blobFile(data / "registries" / "default", referenced())));
  auto backup = backupDataDirectory(data, root / "backup");
  ASSERT_FALSE(backup);
  EXPECT_NE(backup.error().detail.find("although a manifest refers to it"), std::string::npos)
      << backup.error().detail;
  EXPECT_FALSE(fs::exists(root / "backup" / "backup.json"));
  EXPECT_FALSE(restoreDataDirectory(root / "backup", root / "restored"));
}

TEST_F(BackupTest, ARestoreVerifiesEveryBlobAgainstItsDigest) {
  ASSERT_TRUE(backupDataDirectory(data, root / "backup"));
  const auto copy = blobFile(root / "backup" / "registries" / "default", referenced());
  fs::permissions(copy, fs::perms::owner_all);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('X');
  }
  auto restored = restoreDataDirectory(root / "backup", root / "restored");
  ASSERT_FALSE(restored);
  EXPECT_NE(restored.error().detail.find("does not match its digest"), std::string::npos)
      << restored.error().detail;
}

}  // namespace
}  // namespace berth::app
