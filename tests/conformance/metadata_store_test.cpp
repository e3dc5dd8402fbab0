// The MetadataStore contract, typed over every driver. A new driver adds one Factory below.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "conformance/factories.hpp"
#include "core/random.hpp"

namespace berth::meta {
namespace {

// Now, in whole seconds, by the clock the stores stamp rows with. Not std::time: glibc reads a
// coarse clock for it that can still show the previous second after the stores' clock moved on.
int64_t storeNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using testing::PostgresFactory;
using testing::SqliteFactory;

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

template <class Factory>
class MetadataStoreConformance : public ::testing::Test {
 protected:
  Factory factory;
  MetadataStorePtr store = factory.meta();
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

using Drivers = ::testing::Types<SqliteFactory, PostgresFactory>;
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
  ASSERT_TRUE(this->store->linkBlob(this->registry, this->repo, kD2, 7));
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
  EXPECT_EQ(*this->store->deleteManifest(this->repo, kD1), std::vector<std::string>{kD1});
  EXPECT_FALSE(*this->store->resolveTag(this->repo, "v2"));
  EXPECT_FALSE(*this->store->getManifest(this->repo, kD1));
  EXPECT_TRUE(this->store->deleteManifest(this->repo, kD1)->empty());
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

// Other nodes' caches hear of every change of content made through another handle (PostgreSQL:
// within a second); SQLite has no other process to hear it, and calls nothing.
TYPED_TEST(MetadataStoreConformance, ChangesThroughAnotherHandleAreAnnounced) {
  std::mutex mutex;
  std::vector<ContentChange> heard;
  auto watch = this->store->watchContent([&](const ContentChange& change) {
    std::lock_guard lock(mutex);
    heard.push_back(change);
  });
  const bool announced = !TypeParam::kSeenAtOnce;
  // Whether `scope` of `id` was heard (within a second; SQLite is given a moment only); what
  // was heard is forgotten.
  auto hears = [&](ContentChange::Scope scope, int64_t id) {
    const auto until =
        std::chrono::steady_clock::now() +
        (announced ? std::chrono::milliseconds(1000) : std::chrono::milliseconds(50));
    for (;;) {
      {
        std::lock_guard lock(mutex);
        const bool found = std::any_of(heard.begin(), heard.end(), [&](const auto& c) {
          return c.scope == scope && c.id == id;
        });
        if (found || std::chrono::steady_clock::now() > until) {
          heard.clear();
          return found;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  using Scope = ContentChange::Scope;
  auto other = this->factory.otherMeta();
  const auto repo = this->repo;
  ASSERT_TRUE(other->linkBlob(this->registry, repo, kD1, 10));
  ASSERT_TRUE(other->linkBlob(this->registry, repo, kD2, 10));
  ASSERT_TRUE(other->putManifest(this->registry, repo, this->manifest(kD3), {{kD1, false}}, "v"));
  EXPECT_EQ(hears(Scope::Repository, repo), announced) << "a push";
  ASSERT_TRUE(other->pointTag(repo, "w", kD3, "created", {}));
  EXPECT_EQ(hears(Scope::Repository, repo), announced) << "a tag";
  ASSERT_TRUE(other->deleteTag(repo, "w"));
  EXPECT_EQ(hears(Scope::Repository, repo), announced) << "a tag deleted";
  ASSERT_TRUE(*other->updateRepository(repo, {.readEnabled = false}));
  EXPECT_EQ(hears(Scope::Repository, repo), announced) << "attributes";
  ASSERT_TRUE(*other->updateTag(repo, "v", {.writeEnabled = false}));
  EXPECT_EQ(hears(Scope::Repository, repo), announced) << "a tag's attributes";
  ASSERT_TRUE(*other->unlinkBlob(repo, kD2));
  EXPECT_EQ(hears(Scope::Repository, repo), announced) << "a link";
  ASSERT_TRUE(other->linkBlob(this->registry, repo, kD2, 10));
  ASSERT_EQ(*other->removeUnreferencedLinks(this->registry, storeNow() + 60, 100), 1u);
  EXPECT_EQ(hears(Scope::Registry, this->registry), announced) << "links collected";
  // A watch ended hears nothing more.
  watch.reset();
  ASSERT_TRUE(other->pointTag(repo, "x", kD3, "created", {}));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::lock_guard lock(mutex);
  EXPECT_TRUE(heard.empty());
}

// A job (garbage collection) runs in one process at a time: another handle on the database
// is refused it until the lease goes.
TYPED_TEST(MetadataStoreConformance, AJobRunsInOneProcessAtATime) {
  auto other = this->factory.otherMeta();
  auto lease = this->store->exclusive("gc");
  ASSERT_TRUE(lease);
  ASSERT_TRUE(*lease);
  auto refused = other->exclusive("gc");
  ASSERT_TRUE(refused);
  EXPECT_FALSE(*refused);
  auto another = other->exclusive("lifecycle");  // another job is free
  ASSERT_TRUE(another);
  EXPECT_TRUE(*another);
  lease->reset();
  auto taken = other->exclusive("gc");
  ASSERT_TRUE(taken);
  EXPECT_TRUE(*taken);
  EXPECT_FALSE(this->store->exclusive("gc").value());
}

TYPED_TEST(MetadataStoreConformance, DataSurvivesReopening) {
  ASSERT_TRUE(this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v"));
  this->store.reset();
  this->store = this->factory.otherMeta();
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

// Two handles (two nodes on PostgreSQL, two processes on SQLite) pushing at once: the quota is
// counted in the transaction that records each blob, so exactly the blobs that fit are taken.
TYPED_TEST(MetadataStoreConformance, TheQuotaHoldsWhenHandlesPushAtOnce) {
  constexpr uint64_t kQuota = 10ull * 1024 * 1024 * 1024;  // a new registry's (Basic)
  constexpr uint64_t kBlob = 1 << 20;
  constexpr int kFit = 7, kThreads = 8, kEach = 3;
  ASSERT_TRUE(this->store->linkBlob(this->registry, this->repo, kD1, kQuota - kFit * kBlob));
  std::vector<MetadataStorePtr> handles;
  handles.push_back(this->factory.otherMeta());
  handles.push_back(this->factory.otherMeta());
  std::atomic<int> taken{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto& store = *handles[static_cast<size_t>(t % 2)];
      for (int i = 0; i < kEach; ++i) {
        char hex[65];
        std::snprintf(hex, sizeof hex, "%064x", t * 100 + i + 1);
        auto linked =
            store.linkBlob(this->registry, this->repo, std::string("sha256:") + hex, kBlob);
        if (linked) {
          ++taken;
        } else if (linked.error().code == ApiCode::Denied) {
          ++refused;
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(taken.load(), kFit);
  EXPECT_EQ(refused.load(), kThreads * kEach - kFit);
  EXPECT_EQ(this->store->usage(this->registry)->storedBytes, kQuota);
}

// A pushed blob's link and the end of its upload session are one transaction: both happen,
// or, when the link is refused, neither.
TYPED_TEST(MetadataStoreConformance, LinkingABlobEndsItsUploadSession) {
  UploadRecord done{newUuid(), this->registry, "team/app", 0};
  ASSERT_TRUE(this->store->createUpload(done));
  UploadRecord other{newUuid(), this->registry, "team/app", 0};
  ASSERT_TRUE(this->store->createUpload(other));
  ASSERT_TRUE(this->store->linkBlob(this->registry, this->repo, kD1, 42, {}, done.uuid));
  EXPECT_TRUE(*this->store->linkedBlob(this->repo, kD1));
  EXPECT_FALSE(*this->store->getUpload(done.uuid));
  EXPECT_TRUE(*this->store->getUpload(other.uuid)) << "another session was ended";

  constexpr uint64_t kQuota = 10ull * 1024 * 1024 * 1024;  // a new registry's (Basic)
  auto refused = this->store->linkBlob(this->registry, this->repo, kD2, kQuota, {}, other.uuid);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ApiCode::Denied);
  EXPECT_TRUE(*this->store->getUpload(other.uuid)) << "a refused link ended its session";
}

// Writers on many threads at once: every link lands, each counted against the quota once, and
// the same blob linked from every thread at once counts once.
TYPED_TEST(MetadataStoreConformance, ConcurrentWritersLoseNothingAndCountOnce) {
  constexpr int kThreads = 6, kEach = 20;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto repo = this->store->ensureRepository(this->registry, "team/r" + std::to_string(t));
      if (!repo) {
        ++failed;
        return;
      }
      for (int i = 0; i < kEach; ++i) {
        char hex[65];
        std::snprintf(hex, sizeof hex, "%064d", t * 1000 + i);
        UploadRecord u{newUuid(), this->registry, "team/r" + std::to_string(t), 0};
        if (!this->store->createUpload(u) ||
            !this->store->linkBlob(this->registry, *repo, std::string("sha256:") + hex, 10, {},
                                   u.uuid) ||
            !this->store->linkBlob(this->registry, *repo, kD1, 1000)) {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  auto usage = this->store->usage(this->registry);
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->storedBytes, uint64_t{kThreads} * kEach * 10 + 1000);
  EXPECT_EQ(this->store->uploadsBefore(this->registry, storeNow() + 3600, 1000)->size(), 0u);
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
  EXPECT_FALSE(store.deleteManifest(this->repo, kD1)->empty());
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

TYPED_TEST(MetadataStoreConformance, AManifestIsStoredOnlyWithItsBlobsLinked) {
  auto refused = this->store->putManifest(this->registry, this->repo, this->manifest(kD1),
                                          {{kD2, false}}, "v");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ApiCode::ManifestBlobUnknown);
  auto child =
      this->store->putManifest(this->registry, this->repo, this->manifest(kD1), {{kD3, true}}, "v");
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().code, ApiCode::ManifestBlobUnknown);
  EXPECT_FALSE(*this->store->getManifest(this->repo, kD1));
  EXPECT_FALSE(*this->store->resolveTag(this->repo, "v"));
}

TYPED_TEST(MetadataStoreConformance, DeletingAManifestTakesItsReferrers) {
  auto& store = *this->store;
  const std::string kD4 = "sha256:" + std::string(64, '4');
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v"));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD2, kD1), {}, {}));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD3, kD2), {}, {}));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD4), {}, "other"));
  // A locked referrer keeps its subject.
  AttributeChange noDelete;
  noDelete.deleteEnabled = false;
  ASSERT_TRUE(*store.updateManifest(this->repo, kD3, noDelete));
  EXPECT_EQ(store.deleteManifest(this->repo, kD1).error().code, ApiCode::Denied);
  EXPECT_TRUE(*store.getManifest(this->repo, kD1));
  noDelete.deleteEnabled = true;
  ASSERT_TRUE(*store.updateManifest(this->repo, kD3, noDelete));

  EXPECT_EQ(*store.deleteManifest(this->repo, kD1), (std::vector<std::string>{kD1, kD2, kD3}));
  for (const auto& gone : {kD1, kD2, kD3}) EXPECT_FALSE(*store.getManifest(this->repo, gone));
  EXPECT_TRUE(*store.getManifest(this->repo, kD4));
}

TYPED_TEST(MetadataStoreConformance, UnreferencedLinksGoAfterTheGracePeriod) {
  auto& store = *this->store;
  const int64_t start = storeNow();
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD1, 10));
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD2, 20));
  ASSERT_TRUE(
      store.putManifest(this->registry, this->repo, this->manifest(kD3), {{kD1, false}}, "v"));
  // Young links stay, referenced or not.
  EXPECT_EQ(*store.countUnreferencedLinks(this->registry, start - 60), 0u);
  EXPECT_EQ(*store.removeUnreferencedLinks(this->registry, start - 60, 100), 0u);
  // Old enough: only the unreferenced one goes, and the registry then stores one blob that no
  // repository links.
  EXPECT_EQ(*store.countUnreferencedLinks(this->registry, start + 60), 1u);
  auto collectable = *store.countCollectableBlobs(this->registry, start + 60);
  EXPECT_EQ(collectable.blobs, 1u);
  EXPECT_EQ(collectable.bytes, 20u);
  EXPECT_EQ(*store.removeUnreferencedLinks(this->registry, start + 60, 100), 1u);
  EXPECT_TRUE(*store.linkedBlob(this->repo, kD1));
  EXPECT_FALSE(*store.linkedBlob(this->repo, kD2));
  auto unlinked = *store.unlinkedBlobs(this->registry, "", 100);
  ASSERT_EQ(unlinked.size(), 1u);
  EXPECT_EQ(unlinked[0].digest, kD2);
  EXPECT_EQ(unlinked[0].size, 20u);
  // Another registry's links are not this one's to remove.
  auto other = *store.ensureRegistry("second");
  EXPECT_EQ(*store.removeUnreferencedLinks(other, start + 60, 100), 0u);
}

TYPED_TEST(MetadataStoreConformance, DeletingAManifestRestartsTheGraceOfItsBlobs) {
  auto& store = *this->store;
  const int64_t linked = storeNow();
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD1, 10));
  ASSERT_TRUE(
      store.putManifest(this->registry, this->repo, this->manifest(kD3), {{kD1, false}}, "v"));
  // Times carry whole seconds: the deletion happens two seconds after the link.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  ASSERT_FALSE(store.deleteManifest(this->repo, kD3)->empty());
  // Linked before `linked + 1`, but unreferenced only since now.
  EXPECT_EQ(*store.removeUnreferencedLinks(this->registry, linked + 1, 100), 0u);
  EXPECT_EQ(*store.removeUnreferencedLinks(this->registry, storeNow() + 1, 100), 1u);
}

TYPED_TEST(MetadataStoreConformance, ABlobIsCollectedOnlyWhileNothingLinksIt) {
  auto& store = *this->store;
  int removals = 0;
  auto removeBytes = [&]() -> Result<void> {
    ++removals;
    return {};
  };
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD1, 1000));
  EXPECT_TRUE(store.unlinkedBlobs(this->registry, "", 100)->empty());
  EXPECT_FALSE(*store.collectBlob(this->registry, kD1, removeBytes));
  ASSERT_TRUE(*store.unlinkBlob(this->repo, kD1));
  ASSERT_EQ(store.unlinkedBlobs(this->registry, "", 100)->size(), 1u);
  // Linked again after the pass listed it (an upload, a mount): kept, bytes untouched.
  auto other = *store.ensureRepository(this->registry, "other");
  ASSERT_TRUE(store.linkBlob(this->registry, other, kD1, 1000));
  EXPECT_FALSE(*store.collectBlob(this->registry, kD1, removeBytes));
  EXPECT_EQ(removals, 0);
  ASSERT_TRUE(*store.unlinkBlob(other, kD1));
  // Bytes that cannot be removed keep the row and the usage.
  auto failed = store.collectBlob(this->registry, kD1,
                                  [] { return Result<void>(makeError(ApiCode::Unknown, "io")); });
  EXPECT_FALSE(failed);
  EXPECT_EQ(store.usage(this->registry)->storedBytes, 1000u);
  EXPECT_TRUE(*store.collectBlob(this->registry, kD1, removeBytes));
  EXPECT_EQ(removals, 1);
  EXPECT_EQ(store.usage(this->registry)->storedBytes, 0u);
  EXPECT_FALSE(*store.collectBlob(this->registry, kD1, removeBytes));
  EXPECT_EQ(removals, 1);
  // Pushed again, it is new to the registry and counts again.
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD1, 1000));
  EXPECT_EQ(store.usage(this->registry)->storedBytes, 1000u);
}

TYPED_TEST(MetadataStoreConformance, PlacingBytesIsPartOfTheLink) {
  auto& store = *this->store;
  auto failed = store.linkBlob(
      this->registry, this->repo, kD1, 10,
      [] { return Result<void>(makeError(ApiCode::InsufficientStorage, "full")); }, {});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ApiCode::InsufficientStorage);
  EXPECT_FALSE(*store.linkedBlob(this->repo, kD1));
  EXPECT_EQ(store.usage(this->registry)->storedBytes, 0u);
  bool placed = false;
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD1, 10,
                             [&]() -> Result<void> {
                               placed = true;
                               return {};
                             },
                             {}));
  EXPECT_TRUE(placed);
  EXPECT_TRUE(*store.linkedBlob(this->repo, kD1));
}

TYPED_TEST(MetadataStoreConformance, AMountNeedsTheSourceLink) {
  auto& store = *this->store;
  auto target = *store.ensureRepository(this->registry, "target");
  EXPECT_FALSE(*store.mountBlob(this->repo, target, kD1));
  EXPECT_FALSE(*store.linkedBlob(target, kD1));
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD1, 33));
  EXPECT_EQ(**store.mountBlob(this->repo, target, kD1), 33u);
  EXPECT_EQ(**store.linkedBlob(target, kD1), 33u);
  EXPECT_EQ(store.usage(this->registry)->storedBytes, 33u);
}

TYPED_TEST(MetadataStoreConformance, OrphansAreFilesTheRegistryHasNoRecordOf) {
  auto& store = *this->store;
  int removals = 0;
  auto removeBytes = [&]() -> Result<void> {
    ++removals;
    return {};
  };
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD1, 10));
  EXPECT_FALSE(*store.collectOrphan(this->registry, kD1, removeBytes));
  EXPECT_TRUE(*store.collectOrphan(this->registry, kD2, removeBytes));
  EXPECT_EQ(removals, 1);
}

TYPED_TEST(MetadataStoreConformance, ExpiredUploadsAndTheLastPass) {
  auto& store = *this->store;
  UploadRecord u{newUuid(), this->registry, "team/app", 0};
  ASSERT_TRUE(store.createUpload(u));
  const int64_t now = storeNow();
  EXPECT_TRUE(store.uploadsBefore(this->registry, now - 60, 10)->empty());
  auto old = *store.uploadsBefore(this->registry, now + 60, 10);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].uuid, u.uuid);
  EXPECT_TRUE(store.uploadsBefore(*store.ensureRegistry("second"), now + 60, 10)->empty());

  // A due purge schedule is claimed by one process only.
  PurgeSchedule schedule;
  schedule.registry = this->registry;
  schedule.cron = "* * * * *";
  schedule.untagged = true;
  schedule.nextRun = now - 1;
  const auto id = *store.createPurgeSchedule(schedule);
  ASSERT_EQ(store.duePurgeSchedules(now)->size(), 1u);
  EXPECT_TRUE(*store.claimPurgeSchedule(id, now - 1, now + 60));
  EXPECT_FALSE(*store.claimPurgeSchedule(id, now - 1, now + 60)) << "claimed twice";
  EXPECT_TRUE(store.duePurgeSchedules(now)->empty());
  ASSERT_TRUE(store.recordPurgeRun(id, now, now + 60, "{}"));
  EXPECT_EQ(store.purgeSchedules(this->registry)->at(0).lastRun, now);

  EXPECT_FALSE(*store.lastGcRun(this->registry));
  GcRun run;
  run.started = now;
  run.finished = now + 2;
  run.linksRemoved = 3;
  run.blobsRemoved = 2;
  run.bytesRemoved = 1234;
  run.error = "stopped";
  ASSERT_TRUE(store.recordGcRun(this->registry, run));
  run.error.clear();
  run.bytesRemoved = 99;
  ASSERT_TRUE(store.recordGcRun(this->registry, run));
  auto last = *store.lastGcRun(this->registry);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->bytesRemoved, 99u);
  EXPECT_EQ(last->linksRemoved, 3u);
  EXPECT_EQ(last->finished, now + 2);
  EXPECT_TRUE(last->error.empty());
}

TYPED_TEST(MetadataStoreConformance, EveryChangeOfATagIsInItsHistory) {
  auto& store = *this->store;
  const Actor admin{"admin", "10.0.0.1"};
  const Actor ci{"token:ci", "10.0.0.2"};
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v", admin));
  // Pushing what the tag already points at changes nothing.
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v", ci));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD2), {}, "v", ci));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD2), {}, "w", ci));
  ASSERT_TRUE(*store.deleteTag(this->repo, "v", admin));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v", admin));
  ASSERT_FALSE(store.deleteManifest(this->repo, kD1, ci)->empty());

  auto history = *store.tagHistory(this->registry, "team/app", "v", 0, 10);
  ASSERT_EQ(history.size(), 5u);
  auto is = [](const TagEvent& e, const char* action, const std::string& from,
               const std::string& to, const char* who) {
    return e.action == action && e.oldDigest == from && e.newDigest == to && e.identity == who;
  };
  EXPECT_TRUE(is(history[4], "created", "", kD1, "admin"));
  EXPECT_EQ(history[4].source, "10.0.0.1");
  EXPECT_TRUE(is(history[3], "moved", kD1, kD2, "token:ci"));
  EXPECT_TRUE(is(history[2], "deleted", kD2, "", "admin"));
  EXPECT_TRUE(is(history[1], "created", "", kD1, "admin"));
  EXPECT_TRUE(is(history[0], "deleted", kD1, "", "token:ci"));
  EXPECT_GT(history[0].id, history[1].id);
  EXPECT_GT(history[0].time, 0);
  // Paged by id; other tags have their own.
  auto older = *store.tagHistory(this->registry, "team/app", "v", history[1].id, 2);
  ASSERT_EQ(older.size(), 2u);
  EXPECT_EQ(older[0].id, history[2].id);
  EXPECT_EQ(store.tagHistory(this->registry, "team/app", "w", 0, 10)->size(), 1u);
  // It outlives the repository, whose deletion it records.
  ASSERT_TRUE(store.deleteRepository(this->repo, admin));
  auto w = *store.tagHistory(this->registry, "team/app", "w", 0, 10);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_TRUE(is(w[0], "deleted", kD2, "", "admin"));
  // Pruning forgets what is older than the given time.
  EXPECT_EQ(*store.pruneTagHistory(storeNow() - 3600), 0u);
  EXPECT_EQ(*store.pruneTagHistory(storeNow() + 1), 7u);
  EXPECT_TRUE(store.tagHistory(this->registry, "team/app", "v", 0, 10)->empty());
}

TYPED_TEST(MetadataStoreConformance, SoftDeletedManifestsAreRestorableUntilTheyExpire) {
  auto& store = *this->store;
  Policies policies;
  policies.softDelete.enabled = true;
  policies.softDelete.days = 3;
  ASSERT_TRUE(store.setPolicies(this->registry, policies));
  EXPECT_TRUE(store.policies(this->registry)->softDelete.enabled);
  EXPECT_FALSE(store.policies(*store.ensureRegistry("second"))->softDelete.enabled);
  ASSERT_TRUE(store.linkBlob(this->registry, this->repo, kD2, 10));
  const Actor admin{"admin", ""};
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {{kD2, false}},
                                "v", admin));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "w", admin));

  ASSERT_EQ(*store.deleteManifest(this->repo, kD1, admin), std::vector<std::string>{kD1});
  EXPECT_FALSE(*store.getManifest(this->repo, kD1));
  EXPECT_FALSE(*store.resolveTag(this->repo, "v"));
  auto deleted = *store.deletedManifests(this->repo);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].digest, kD1);
  EXPECT_EQ(deleted[0].tags, (std::vector<std::string>{"v", "w"}));
  EXPECT_EQ(deleted[0].deletedBy, "admin");
  EXPECT_EQ(*store.repositoriesWithDeleted(this->registry),
            (std::vector<std::pair<std::string, uint64_t>>{{"team/app", 1}}));
  // Its blob stays referenced: garbage collection keeps it.
  const int64_t later = storeNow() + 60;
  EXPECT_EQ(*store.removeUnreferencedLinks(this->registry, later, 100), 0u);

  // Restored with its tags, but for one that points elsewhere now.
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD3), {}, "w", admin));
  ASSERT_TRUE(*store.restoreManifest(this->repo, kD1, {}, admin));
  EXPECT_TRUE(*store.getManifest(this->repo, kD1));
  EXPECT_EQ(**store.resolveTag(this->repo, "v"), kD1);
  EXPECT_EQ(**store.resolveTag(this->repo, "w"), kD3);
  EXPECT_EQ(store.tagHistory(this->registry, "team/app", "v", 0, 1)->at(0).action, "restored");
  EXPECT_TRUE(store.deletedManifests(this->repo)->empty());
  EXPECT_FALSE(*store.restoreManifest(this->repo, kD1, {}, admin));

  // Deleted again and expired: gone for good, and its blob's link with it.
  ASSERT_FALSE(store.deleteManifest(this->repo, kD1, admin)->empty());
  EXPECT_EQ(*store.expireDeletedManifests(this->registry, storeNow() - 60), 0u);
  EXPECT_EQ(*store.expireDeletedManifests(this->registry, storeNow() + 1), 1u);
  EXPECT_FALSE(*store.restoreManifest(this->repo, kD1, {"v"}, admin));
  EXPECT_EQ(*store.removeUnreferencedLinks(this->registry, later, 100), 1u);
}

TYPED_TEST(MetadataStoreConformance, PushingASoftDeletedManifestAgainMakesItLive) {
  auto& store = *this->store;
  Policies policies;
  policies.softDelete.enabled = true;
  ASSERT_TRUE(store.setPolicies(this->registry, policies));
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v"));
  ASSERT_FALSE(store.deleteManifest(this->repo, kD1)->empty());
  ASSERT_TRUE(store.putManifest(this->registry, this->repo, this->manifest(kD1), {}, "v"));
  EXPECT_TRUE(store.deletedManifests(this->repo)->empty());
  EXPECT_EQ(*store.expireDeletedManifests(this->registry, storeNow() + 1), 0u);
  EXPECT_TRUE(*store.getManifest(this->repo, kD1));
}

}  // namespace
}  // namespace berth::meta
