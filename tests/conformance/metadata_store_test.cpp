// The MetadataStore contract, typed over every driver. A new driver adds one Factory below.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "core/random.hpp"
#include "meta/sqlite/sqlite_store.hpp"

namespace berth::meta {
namespace {

struct SqliteFactory {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("berth-meta-" + newUuid());
  MetadataStorePtr make() {
    std::filesystem::create_directories(dir);
    return *openSqliteStore(dir / "berth.db");
  }
  ~SqliteFactory() { std::filesystem::remove_all(dir); }
};

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

template <class Factory>
class MetadataStoreConformance : public ::testing::Test {
 protected:
  Factory factory;
  MetadataStorePtr store = factory.make();
  RegistryId registry = *store->ensureRegistry("default");
  RepositoryId repo = *store->ensureRepository(registry, "team/app");

  ManifestRecord manifest(const std::string& digest, std::string subject = {}) {
    ManifestRecord m;
    m.digest = digest;
    m.mediaType = "application/vnd.oci.image.manifest.v1+json";
    m.payload = "{\"x\":\"" + digest + "\"}";
    m.size = m.payload.size();
    m.subject = std::move(subject);
    m.artifactType = "application/vnd.example";
    return m;
  }
};

using Drivers = ::testing::Types<SqliteFactory>;
TYPED_TEST_SUITE(MetadataStoreConformance, Drivers);

TYPED_TEST(MetadataStoreConformance, RegistriesAndRepositoriesAreIdempotent) {
  EXPECT_EQ(*this->store->ensureRegistry("default"), this->registry);
  EXPECT_EQ(*this->store->ensureRepository(this->registry, "team/app"), this->repo);
  EXPECT_EQ(**this->store->findRepository(this->registry, "team/app"), this->repo);
  EXPECT_FALSE(*this->store->findRepository(this->registry, "other"));
  // Another registry does not see this one's repositories.
  auto other = *this->store->ensureRegistry("second");
  EXPECT_NE(other, this->registry);
  EXPECT_FALSE(*this->store->findRepository(other, "team/app"));
}

TYPED_TEST(MetadataStoreConformance, BlobLinksArePerRepository) {
  ASSERT_TRUE(this->store->linkBlob(this->registry, this->repo, kD1, 42));
  EXPECT_EQ(**this->store->linkedBlob(this->repo, kD1), 42u);
  auto other = *this->store->ensureRepository(this->registry, "other");
  EXPECT_FALSE(*this->store->linkedBlob(other, kD1));
  EXPECT_TRUE(*this->store->unlinkBlob(this->repo, kD1));
  EXPECT_FALSE(*this->store->unlinkBlob(this->repo, kD1));
  EXPECT_FALSE(*this->store->linkedBlob(this->repo, kD1));
}

TYPED_TEST(MetadataStoreConformance, ManifestsTagsAndDeletion) {
  auto m = this->manifest(kD1);
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, m, {{kD2, false}}, "v1"));
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, m, {}, "v2"));
  auto got = *this->store->getManifest(this->repo, kD1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->payload, m.payload);
  EXPECT_EQ(got->mediaType, m.mediaType);
  EXPECT_EQ(**this->store->resolveTag(this->repo, "v1"), kD1);
  EXPECT_TRUE(*this->store->getManifest(this->repo, kD1));

  // Deleting a tag keeps the manifest.
  EXPECT_TRUE(*this->store->deleteTag(this->repo, "v1"));
  EXPECT_FALSE(*this->store->resolveTag(this->repo, "v1"));
  EXPECT_TRUE(*this->store->getManifest(this->repo, kD1));
  // Deleting the manifest takes its remaining tags along.
  EXPECT_TRUE(*this->store->deleteManifest(this->repo, kD1));
  EXPECT_FALSE(*this->store->resolveTag(this->repo, "v2"));
  EXPECT_FALSE(*this->store->getManifest(this->repo, kD1));
  EXPECT_FALSE(*this->store->deleteManifest(this->repo, kD1));
}

TYPED_TEST(MetadataStoreConformance, RetaggingMovesTheTag) {
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {}, "t"));
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD2), {}, "t"));
  EXPECT_EQ(**this->store->resolveTag(this->repo, "t"), kD2);
}

TYPED_TEST(MetadataStoreConformance, ListingPagesInByteOrder) {
  for (const char* tag : {"d", "b", "a", "c", "B"}) {
    ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {}, tag));
  }
  auto first = *this->store->listTags(this->repo, "", 2);
  EXPECT_EQ(first.items, (std::vector<std::string>{"B", "a"}));
  EXPECT_TRUE(first.more);
  auto rest = *this->store->listTags(this->repo, "a", 10);
  EXPECT_EQ(rest.items, (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_FALSE(rest.more);
  auto exact = *this->store->listTags(this->repo, "b", 2);
  EXPECT_EQ(exact.items.size(), 2u);
  EXPECT_FALSE(exact.more);

  ASSERT_TRUE(this->store->ensureRepository(this->registry, "alpha"));
  auto repos = *this->store->listRepositories(this->registry, "", 1);
  EXPECT_EQ(repos.items, (std::vector<std::string>{"alpha"}));
  EXPECT_TRUE(repos.more);
}

TYPED_TEST(MetadataStoreConformance, ReferrersBySubject) {
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {}, {}));
  ASSERT_TRUE(
      this->store->putManifest(this->registry, this->repo, this->manifest(kD3, kD1), {}, {}));
  ASSERT_TRUE(
      this->store->putManifest(this->registry, this->repo, this->manifest(kD2, kD1), {}, {}));
  auto refs = *this->store->referrers(this->repo, kD1);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].digest, kD2);
  EXPECT_EQ(refs[1].digest, kD3);
  EXPECT_EQ(refs[0].artifactType, "application/vnd.example");
  EXPECT_TRUE(this->store->referrers(this->repo, kD2)->empty());
  EXPECT_TRUE(this->store->referrers(this->repo, "")->empty());
}

TYPED_TEST(MetadataStoreConformance, UploadSessions) {
  UploadRecord u{newUuid(), this->registry, "team/app", 0};
  ASSERT_TRUE(this->store->createUpload(u));
  auto got = *this->store->getUpload(u.uuid);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->repository, "team/app");
  EXPECT_EQ(got->registry, this->registry);
  ASSERT_TRUE(this->store->deleteUpload(u.uuid));
  EXPECT_FALSE(*this->store->getUpload(u.uuid));
}

TYPED_TEST(MetadataStoreConformance, DataSurvivesReopening) {
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v"));
  this->store.reset();
  this->store = this->factory.make();
  auto repo = *this->store->findRepository(this->registry, "team/app");
  ASSERT_TRUE(repo);
  EXPECT_EQ(**this->store->resolveTag(*repo, "v"), kD1);
}

TYPED_TEST(MetadataStoreConformance, QuotaRefusesOnlyBlobsNewToTheRegistry) {
  constexpr uint64_t kQuota = 10ull * 1024 * 1024 * 1024;  // a new registry's (Basic)
  ASSERT_TRUE(this->store->linkBlob(this->registry, this->repo, kD1, kQuota - 100));
  auto refused = this->store->linkBlob(this->registry, this->repo, kD2, 101);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ApiCode::Denied);
  EXPECT_NE(refused.error().detail.find("quota"), std::string::npos) << refused.error().detail;
  // Nothing changed: the refused blob is not linked, the usage is what it was.
  EXPECT_FALSE(*this->store->linkedBlob(this->repo, kD2));
  EXPECT_EQ(this->store->usage(this->registry)->storedBytes, kQuota - 100);
  // A blob the registry already stores costs nothing more: another repository may link it.
  auto other = *this->store->ensureRepository(this->registry, "other");
  EXPECT_TRUE(this->store->linkBlob(this->registry, other, kD1, kQuota - 100));
  EXPECT_TRUE(this->store->linkBlob(this->registry, this->repo, kD2, 100));
  EXPECT_EQ(this->store->usage(this->registry)->storedBytes, kQuota);
  EXPECT_EQ(this->store->usage(this->registry)->repositories, 2u);
}

TYPED_TEST(MetadataStoreConformance, RepositoryDetailsAndAttributes) {
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {}, "a"));
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD2), {}, "b"));
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD2), {}, "c"));
  auto info = *this->store->repository(this->registry, "team/app");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, this->repo);
  EXPECT_EQ(info->manifestCount, 2u);
  EXPECT_EQ(info->tagCount, 3u);
  EXPECT_TRUE(info->attributes.listEnabled);
  EXPECT_FALSE(*this->store->repository(this->registry, "nothing"));

  AttributeChange hide;
  hide.listEnabled = false;
  EXPECT_TRUE(*this->store->updateRepository(this->repo, hide));
  info = *this->store->repository(this->registry, "team/app");
  EXPECT_FALSE(info->attributes.listEnabled);
  EXPECT_TRUE(info->attributes.readEnabled);  // untouched
  EXPECT_TRUE(this->store->listRepositories(this->registry, "", 10)->items.empty());
  EXPECT_FALSE(*this->store->updateRepository(this->repo + 1000, hide));
}

// Names in order, after checking that each follows the one before it: by time, then by name
// among equal times.
std::vector<std::string> timeOrdered(const std::vector<RepositoryInfo>& infos, bool newestFirst) {
  std::vector<std::string> names;
  for (size_t i = 0; i < infos.size(); ++i) {
    names.push_back(infos[i].name);
    if (i == 0) continue;
    const auto& a = infos[i - 1];
    const auto& b = infos[i];
    if (a.updated == b.updated) {
      EXPECT_LT(a.name, b.name) << "equal times are in name order";
    } else {
      EXPECT_EQ(a.updated > b.updated, newestFirst) << a.name << " before " << b.name;
    }
  }
  return names;
}

TYPED_TEST(MetadataStoreConformance, RepositoriesByTimeOfTheirLastUpdate) {
  // team/app is the fixture's, the oldest; a push a second later (times carry whole seconds)
  // makes it the newest.
  ASSERT_TRUE(this->store->ensureRepository(this->registry, "zed"));
  ASSERT_TRUE(this->store->ensureRepository(this->registry, "alpha"));
  auto other = *this->store->ensureRegistry("second");
  ASSERT_TRUE(this->store->ensureRepository(other, "elsewhere"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v1"));
  auto hidden = *this->store->ensureRepository(this->registry, "hidden");
  AttributeChange hide;
  hide.listEnabled = false;
  ASSERT_TRUE(*this->store->updateRepository(hidden, hide));

  auto newest = *this->store->repositoriesByTime(this->registry, true, 10);
  auto names = timeOrdered(newest, true);
  ASSERT_EQ(names.size(), 3u) << "hidden is left out";
  EXPECT_EQ(names[0], "team/app");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"team/app", "alpha", "zed"}));
  EXPECT_EQ(newest[0].id, this->repo);
  EXPECT_EQ(newest[0].manifestCount, 1u);
  EXPECT_EQ(newest[0].tagCount, 1u);

  auto oldest = timeOrdered(*this->store->repositoriesByTime(this->registry, false, 10), false);
  ASSERT_EQ(oldest.size(), 3u);
  EXPECT_EQ(oldest[2], "team/app");
  EXPECT_EQ(std::set<std::string>(oldest.begin(), oldest.end()),
            (std::set<std::string>{"team/app", "alpha", "zed"}));
  EXPECT_EQ(timeOrdered(*this->store->repositoriesByTime(this->registry, true, 1), true),
            (std::vector<std::string>{"team/app"}));
  EXPECT_EQ(timeOrdered(*this->store->repositoriesByTime(this->registry, false, 2), false),
            (std::vector<std::string>{oldest[0], oldest[1]}));
  EXPECT_EQ(timeOrdered(*this->store->repositoriesByTime(other, true, 10), true),
            (std::vector<std::string>{"elsewhere"}));
}

TYPED_TEST(MetadataStoreConformance, TagAndManifestDetails) {
  ASSERT_TRUE(this->store->linkBlob(this->registry, this->repo, kD2, 1000));
  ASSERT_TRUE(this->store->linkBlob(this->registry, this->repo, kD3, 20));
  auto m = this->manifest(kD1);
  ASSERT_TRUE(
      this->store->putManifest(this->registry, this->repo, m, {{kD2, false}, {kD3, false}}, "v1"));
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, m, {}, "latest"));
  auto tag = *this->store->tagInfo(this->repo, "v1");
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->digest, kD1);
  EXPECT_EQ(tag->size, m.size + 1020);
  EXPECT_GT(tag->created, 0);
  EXPECT_EQ(this->store->tagInfos(this->repo)->size(), 2u);
  EXPECT_FALSE(*this->store->tagInfo(this->repo, "none"));

  auto manifest = *this->store->manifestInfo(this->repo, kD1);
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->tags, (std::vector<std::string>{"latest", "v1"}));
  EXPECT_EQ(manifest->manifest.payload, m.payload);
  EXPECT_EQ(this->store->manifestInfos(this->repo)->size(), 1u);
  EXPECT_FALSE(*this->store->manifestInfo(this->repo, kD2));
}

TYPED_TEST(MetadataStoreConformance, LockedTagsAndManifestsRefuseChange) {
  auto& store = *this->store;
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v1"));
  AttributeChange noWrite;
  noWrite.writeEnabled = false;
  AttributeChange noDelete;
  noDelete.deleteEnabled = false;
  AttributeChange unlock;
  unlock.writeEnabled = true;
  unlock.deleteEnabled = true;

  // A write-locked tag does not move; re-pushing what it already points at is fine.
  ASSERT_TRUE(*store.updateTag(this->repo, "v1", noWrite));
  auto moved = store.putManifest(this->registry, this->repo, this->manifest(kD2), {}, "v1");
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, ApiCode::Denied);
  EXPECT_EQ(**store.resolveTag(this->repo, "v1"), kD1);
  EXPECT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v1"));
  EXPECT_FALSE(*store.getManifest(this->repo, kD2));  // the refused PUT stored nothing

  // A delete-locked tag survives deletion of itself and of its manifest.
  ASSERT_TRUE(*store.updateTag(this->repo, "v1", noDelete));
  EXPECT_EQ(store.deleteTag(this->repo, "v1").error().code, ApiCode::Denied);
  EXPECT_EQ(store.deleteManifest(this->repo, kD1).error().code, ApiCode::Denied);
  ASSERT_TRUE(*store.updateTag(this->repo, "v1", unlock));

  // A locked manifest keeps itself and its tags.
  ASSERT_TRUE(*store.updateManifest(this->repo, kD1, noWrite));
  EXPECT_EQ(store.deleteManifest(this->repo, kD1).error().code, ApiCode::Denied);
  EXPECT_EQ(store.deleteTag(this->repo, "v1").error().code, ApiCode::Denied);
  EXPECT_EQ(
      store.putManifest(this->registry, this->repo, this->manifest(kD2), {}, "v1").error().code,
      ApiCode::Denied);
  EXPECT_EQ(store.deleteRepository(this->repo).error().code, ApiCode::Denied);
  ASSERT_TRUE(*store.updateManifest(this->repo, kD1, unlock));
  EXPECT_TRUE(store.manifestInfo(this->repo, kD1)->value().attributes.writeEnabled);
  EXPECT_TRUE(*store.deleteTag(this->repo, "v1"));
  EXPECT_TRUE(*store.deleteManifest(this->repo, kD1));
  EXPECT_FALSE(*store.updateManifest(this->repo, kD1, unlock));
  EXPECT_FALSE(*store.updateTag(this->repo, "v1", unlock));
}

TYPED_TEST(MetadataStoreConformance, DeletingARepositoryTakesItsContent) {
  auto& store = *this->store;
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD3, 5));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v1"));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD2), {}, "v2"));
  AttributeChange noDelete;
  noDelete.deleteEnabled = false;
  ASSERT_TRUE(*store.updateRepository(this->repo, noDelete));
  EXPECT_EQ(store.deleteRepository(this->repo).error().code, ApiCode::Denied);
  EXPECT_EQ(store.deleteTag(this->repo, "v1").error().code, ApiCode::Denied);
  noDelete.deleteEnabled = true;
  ASSERT_TRUE(*store.updateRepository(this->repo, noDelete));

  auto deleted = store.deleteRepository(this->repo);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->manifests, (std::vector<std::string>{kD1, kD2}));
  EXPECT_EQ(deleted->tags, (std::vector<std::string>{"v1", "v2"}));
  EXPECT_FALSE(*store.findRepository(this->registry, "team/app"));
  EXPECT_FALSE(*store.getManifest(this->repo, kD1));
  EXPECT_FALSE(*store.linkedBlob(this->repo, kD3));
  // A repository of the same name starts empty.
  auto again = *store.ensureRepository(this->registry, "team/app");
  EXPECT_FALSE(*store.resolveTag(again, "v1"));
}

}  // namespace
}  // namespace berth::meta
