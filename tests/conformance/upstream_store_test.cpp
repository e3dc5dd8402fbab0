// The UpstreamStore contract (credential sets, import jobs), typed over every driver.
#include <gtest/gtest.h>

#include <filesystem>

#include "conformance/factories.hpp"
#include "core/random.hpp"

namespace berth::meta {
namespace {

using testing::PostgresFactory;
using testing::SqliteFactory;

template <class Factory>
class UpstreamStoreConformance : public ::testing::Test {
 protected:
  Factory factory;
  UpstreamStorePtr store = factory.upstreams();
  RegistryId registry = *factory.meta()->ensureRegistry("one");
  RegistryId other = *factory.meta()->ensureRegistry("two");

  CredentialSet set(std::string name, RegistryId in) {
    return CredentialSet{in, std::move(name), "docker.io", "user", "sealed", 0, 0};
  }
  ImportJob job(RegistryId in, int64_t createdMs) {
    ImportJob j;
    j.id = newUuid();
    j.registry = in;
    j.source = "docker.io/library/alpine:3";
    j.targets = {"base/alpine:3", "alpine"};
    j.identity = "operator";
    j.createdMs = j.updatedMs = createdMs;
    return j;
  }
};
TYPED_TEST_SUITE_P(UpstreamStoreConformance);

TYPED_TEST_P(UpstreamStoreConformance, CredentialSetsAreKeptPerRegistry) {
  auto& s = *this->store;
  ASSERT_TRUE(s.createCredentialSet(this->set("hub", this->registry)));
  ASSERT_TRUE(s.createCredentialSet(this->set("ghcr", this->registry)));
  ASSERT_TRUE(s.createCredentialSet(this->set("hub", this->other)));
  auto again = s.createCredentialSet(this->set("hub", this->registry));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ApiCode::Conflict);
  auto listed = s.credentialSets(this->registry);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "ghcr");
  EXPECT_EQ((*listed)[1].name, "hub");
  EXPECT_GT((*listed)[1].created, 0);

  auto changed = this->set("hub", this->registry);
  changed.loginServer = "registry.example.com:5000";
  changed.username = "other";
  changed.sealedPassword = "resealed";
  EXPECT_TRUE(*s.updateCredentialSet(changed));
  auto read = *s.credentialSet(this->registry, "hub");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->loginServer, "registry.example.com:5000");
  EXPECT_EQ(read->username, "other");
  EXPECT_EQ(read->sealedPassword, "resealed");
  // The other registry's set of the same name is its own.
  EXPECT_EQ((*s.credentialSet(this->other, "hub"))->username, "user");
  EXPECT_FALSE(*s.updateCredentialSet(this->set("none", this->registry)));

  EXPECT_TRUE(*s.deleteCredentialSet(this->registry, "hub"));
  EXPECT_FALSE(*s.deleteCredentialSet(this->registry, "hub"));
  EXPECT_FALSE(*s.credentialSet(this->registry, "hub"));
  EXPECT_TRUE(*s.credentialSet(this->other, "hub"));
}

TYPED_TEST_P(UpstreamStoreConformance, ImportJobsRecordTheirProgressNewestFirst) {
  auto& s = *this->store;
  auto first = this->job(this->registry, 1000);
  auto second = this->job(this->registry, 2000);
  ASSERT_TRUE(s.createImportJob(first));
  ASSERT_TRUE(s.createImportJob(second));
  ASSERT_TRUE(s.createImportJob(this->job(this->other, 3000)));
  second.state = "succeeded";
  second.digest = "sha256:abc";
  second.manifests = 3;
  second.blobsCopied = 4;
  second.blobsMounted = 5;
  second.blobsPresent = 6;
  second.bytesCopied = 1ull << 40;
  second.updatedMs = second.finishedMs = 2500;
  EXPECT_TRUE(*s.updateImportJob(second));
  auto read = *s.importJob(this->registry, second.id);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->state, "succeeded");
  EXPECT_EQ(read->digest, "sha256:abc");
  EXPECT_EQ(read->targets, second.targets);
  EXPECT_EQ(read->manifests, 3u);
  EXPECT_EQ(read->blobsCopied, 4u);
  EXPECT_EQ(read->blobsMounted, 5u);
  EXPECT_EQ(read->blobsPresent, 6u);
  EXPECT_EQ(read->bytesCopied, 1ull << 40);
  EXPECT_EQ(read->finishedMs, 2500);
  EXPECT_EQ(read->identity, "operator");
  // Another registry's job is not found through this one.
  EXPECT_FALSE(*s.importJob(this->other, second.id));
  auto listed = *s.importJobs(this->registry, 10);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, second.id);
  EXPECT_EQ(listed[1].id, first.id);
  EXPECT_EQ(s.importJobs(this->registry, 1)->size(), 1u);

  // Only finished jobs are forgotten, by when they finished.
  EXPECT_EQ(*s.pruneImportJobs(2000), 0u);
  EXPECT_EQ(*s.pruneImportJobs(3000), 1u);
  EXPECT_FALSE(*s.importJob(this->registry, second.id));
  EXPECT_TRUE(*s.importJob(this->registry, first.id));
}

TYPED_TEST_P(UpstreamStoreConformance, ARegistryDeletedTakesItsSetsAndJobs) {
  auto& s = *this->store;
  ASSERT_TRUE(s.createCredentialSet(this->set("hub", this->registry)));
  ASSERT_TRUE(s.createCredentialSet(this->set("hub", this->other)));
  const auto job = this->job(this->registry, 1000);
  ASSERT_TRUE(s.createImportJob(job));
  ASSERT_TRUE(s.createImportJob(this->job(this->other, 1000)));
  ASSERT_TRUE(s.createCacheRule(CacheRule{this->registry, "r", "docker.io/*", "hub/*", "", 0, 0}));
  ASSERT_TRUE(s.recordCachedTag(this->registry, "hub/alpine", "3", {"sha256:aa", 1000}));
  ASSERT_TRUE(*this->factory.identities()->deleteRegistry(this->registry));
  EXPECT_TRUE(s.credentialSets(this->registry)->empty());
  EXPECT_TRUE(s.importJobs(this->registry, 10)->empty());
  EXPECT_TRUE(s.cacheRules(this->registry)->empty());
  EXPECT_FALSE(*s.cachedTag(this->registry, "hub/alpine", "3"));
  EXPECT_EQ(s.credentialSets(this->other)->size(), 1u);
  EXPECT_EQ(s.importJobs(this->other, 10)->size(), 1u);
}

TYPED_TEST_P(UpstreamStoreConformance, CacheRulesHaveOneTargetEachAndHoldTheirSet) {
  auto& s = *this->store;
  ASSERT_TRUE(s.createCredentialSet(this->set("hub", this->registry)));
  const CacheRule rule{this->registry, "hub", "docker.io/library/*", "hub/*", "hub", 0, 0};
  ASSERT_TRUE(s.createCacheRule(rule));
  ASSERT_TRUE(s.createCacheRule(
      CacheRule{this->registry, "alpine", "docker.io/library/alpine", "alpine", "", 0, 0}));
  ASSERT_TRUE(s.createCacheRule(CacheRule{this->other, "hub", "docker.io/*", "hub/*", "", 0, 0}));
  // Another rule of the same name, or for the same target, in the same registry.
  auto again = s.createCacheRule(CacheRule{this->registry, "hub", "ghcr.io/*", "g/*", "", 0, 0});
  EXPECT_EQ(again.error().code, ApiCode::Conflict);
  again = s.createCacheRule(CacheRule{this->registry, "other", "ghcr.io/*", "hub/*", "", 0, 0});
  EXPECT_EQ(again.error().code, ApiCode::Conflict);
  auto listed = *s.cacheRules(this->registry);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "alpine");
  EXPECT_EQ(listed[1].source, "docker.io/library/*");
  EXPECT_EQ(listed[1].credentialSet, "hub");

  // The set cannot go while the rule uses it.
  auto held = s.deleteCredentialSet(this->registry, "hub");
  ASSERT_FALSE(held);
  EXPECT_EQ(held.error().code, ApiCode::Conflict);
  EXPECT_NE(held.error().detail.find("cache rule hub"), std::string::npos);
  auto changed = rule;
  changed.credentialSet = "";
  EXPECT_TRUE(*s.updateCacheRule(changed));
  EXPECT_EQ((*s.cacheRule(this->registry, "hub"))->credentialSet, "");
  EXPECT_TRUE(*s.deleteCredentialSet(this->registry, "hub"));

  EXPECT_TRUE(*s.deleteCacheRule(this->registry, "hub"));
  EXPECT_FALSE(*s.deleteCacheRule(this->registry, "hub"));
  EXPECT_FALSE(*s.cacheRule(this->registry, "hub"));
  EXPECT_TRUE(*s.cacheRule(this->other, "hub"));
}

TYPED_TEST_P(UpstreamStoreConformance, CachedTagsRememberTheLastCheck) {
  auto& s = *this->store;
  EXPECT_FALSE(*s.cachedTag(this->registry, "hub/alpine", "3"));
  ASSERT_TRUE(s.recordCachedTag(this->registry, "hub/alpine", "3", {"sha256:aa", 1000}));
  ASSERT_TRUE(s.recordCachedTag(this->registry, "hub/alpine", "3", {"sha256:bb", 2000}));
  ASSERT_TRUE(s.recordCachedTag(this->other, "hub/alpine", "3", {"sha256:cc", 3000}));
  auto seen = *s.cachedTag(this->registry, "hub/alpine", "3");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->digest, "sha256:bb");
  EXPECT_EQ(seen->checkedMs, 2000);
  EXPECT_EQ((*s.cachedTag(this->other, "hub/alpine", "3"))->digest, "sha256:cc");
}

ReplicationTask task(RegistryId registry, std::string replication, std::string repository,
                     std::string digest, int64_t eventMs) {
  ReplicationTask t;
  t.registry = registry;
  t.replication = std::move(replication);
  t.action = "push";
  t.repository = std::move(repository);
  t.tag = "v1";
  t.digest = std::move(digest);
  t.eventMs = eventMs;
  return t;
}

TYPED_TEST_P(UpstreamStoreConformance, ReplicationsAreKeptPerRegistryAndHoldTheirSet) {
  auto& s = *this->store;
  ASSERT_TRUE(s.createCredentialSet(this->set("dr", this->registry)));
  Replication r{this->registry, "dr", "https://dr.example.com/mirror", "dr", {"team/*"}};
  ASSERT_TRUE(s.createReplication(r));
  auto again = s.createReplication(r);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ApiCode::Conflict);
  ASSERT_TRUE(s.createReplication({this->registry, "all", "https://other.example.com", "", {}}));
  ASSERT_TRUE(s.createReplication({this->other, "dr", "https://x.example.com", "", {}}));
  auto listed = *s.replications(this->registry);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "all");
  EXPECT_EQ(listed[1].scopes, std::vector<std::string>{"team/*"});
  EXPECT_EQ(listed[1].mode, "push");
  EXPECT_TRUE(listed[1].enabled);

  auto held = s.deleteCredentialSet(this->registry, "dr");
  ASSERT_FALSE(held);
  EXPECT_NE(held.error().detail.find("replication dr"), std::string::npos);
  r.credentialSet = "";
  r.scopes = {"prod/*", "base:3*"};
  r.enabled = false;
  EXPECT_TRUE(*s.updateReplication(r));
  auto read = **s.replication(this->registry, "dr");
  EXPECT_EQ(read.scopes, (std::vector<std::string>{"prod/*", "base:3*"}));
  EXPECT_FALSE(read.enabled);
  EXPECT_TRUE(*s.deleteCredentialSet(this->registry, "dr"));

  ASSERT_TRUE(*s.requestSync(this->registry, "dr", 1500));
  ASSERT_TRUE(*s.queueSync(this->registry, "dr",
                           {task(this->registry, "dr", "prod/app", "sha256:aa", 1000)}, 2000));
  EXPECT_TRUE(*s.deleteReplication(this->registry, "dr"));
  EXPECT_FALSE(*s.deleteReplication(this->registry, "dr"));
  EXPECT_TRUE(s.replicationQueues()->empty()) << "its queued changes went with it";
  EXPECT_TRUE(*s.replication(this->other, "dr"));

  ASSERT_TRUE(*s.requestSync(this->registry, "all", 1500));
  ASSERT_TRUE(*s.queueSync(this->registry, "all",
                           {task(this->registry, "all", "prod/app", "sha256:aa", 1000)}, 2000));
  ASSERT_TRUE(*this->factory.identities()->deleteRegistry(this->registry));
  EXPECT_TRUE(s.replications(this->registry)->empty());
  EXPECT_TRUE(s.replicationQueues()->empty());
}

TYPED_TEST_P(UpstreamStoreConformance, ReplicationTasksGoInOrderPerRepository) {
  auto& s = *this->store;
  ASSERT_TRUE(s.createReplication({this->registry, "dr", "https://dr.example.com", "", {}}));
  // Queued with the outbox cursor: a second taker of the same events changes nothing.
  std::vector<ReplicationTask> tasks{task(this->registry, "dr", "a", "sha256:a1", 1000),
                                     task(this->registry, "dr", "a", "sha256:a2", 1100),
                                     task(this->registry, "dr", "b", "sha256:b1", 1200)};
  ASSERT_TRUE(*s.queueReplicationTasks("replication", 0, 3, tasks, {}));
  EXPECT_FALSE(*s.queueReplicationTasks("replication", 0, 3, tasks,
                                        {{std::to_string(this->registry) + "/dr", 5}}));
  auto status = *s.replicationStatus(this->registry, "dr");
  EXPECT_EQ(status.queued, 3u);
  EXPECT_EQ(status.oldestEventMs, 1000);
  EXPECT_EQ(status.dropped, 0u);

  // The first change of each repository; the second of "a" waits for the first.
  auto claimed = *s.claimReplicationTasks(5000, 60000, 10, {});
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].digest, "sha256:a1");
  EXPECT_EQ(claimed[1].digest, "sha256:b1");
  // Leased: not claimed again before the lease ends, even with nothing busy.
  EXPECT_TRUE(s.claimReplicationTasks(6000, 60000, 10, {})->empty());
  auto again =
      *s.claimReplicationTasks(70000, 60000, 10, {std::to_string(this->registry) + "/dr/b"});
  ASSERT_EQ(again.size(), 1u) << "a busy repository's task is skipped";
  EXPECT_EQ(again[0].digest, "sha256:a1");

  // a1 fails and is retried later: a2 still waits behind it.
  ASSERT_TRUE(s.recordReplicationOutcomes(
      {{claimed[0].id, this->registry, "dr", "retry", 200000, 70500, "target down"},
       {claimed[1].id, this->registry, "dr", "done", 0, 70500, ""}}));
  status = *s.replicationStatus(this->registry, "dr");
  EXPECT_EQ(status.queued, 2u);
  EXPECT_EQ(status.replicated, 1u);
  EXPECT_EQ(status.lastError, "target down");
  EXPECT_EQ(status.lastSuccessMs, 70500);
  EXPECT_TRUE(s.claimReplicationTasks(100000, 60000, 10, {})->empty());
  auto retried = *s.claimReplicationTasks(200000, 60000, 10, {});
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].digest, "sha256:a1");
  EXPECT_EQ(retried[0].attempts, 1u);
  EXPECT_EQ(retried[0].error, "target down");
  ASSERT_TRUE(s.recordReplicationOutcomes(
      {{retried[0].id, this->registry, "dr", "failed", 0, 200100, "refused for good"}}));
  auto last = *s.claimReplicationTasks(300000, 60000, 10, {});
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].digest, "sha256:a2");
  status = *s.replicationStatus(this->registry, "dr");
  EXPECT_EQ(status.failed, 1u);
  EXPECT_EQ(status.lastError, "refused for good");
  EXPECT_EQ(status.queued, 1u);
  EXPECT_EQ(status.oldestEventMs, 1100);

  // Dropped changes are counted; a sync asked for is listed until it is queued.
  ASSERT_TRUE(*s.queueReplicationTasks("replication", 3, 4, {},
                                       {{std::to_string(this->registry) + "/dr", 2}}));
  EXPECT_EQ(s.replicationStatus(this->registry, "dr")->dropped, 2u);
  EXPECT_TRUE(*s.requestSync(this->registry, "dr", 400000));
  EXPECT_FALSE(*s.requestSync(this->registry, "none", 400000));
  ASSERT_EQ(s.syncsRequested()->size(), 1u);
  EXPECT_EQ(s.replicationStatus(this->registry, "dr")->syncRequestedMs, 400000);
  ASSERT_TRUE(*s.queueSync(this->registry, "dr",
                           {task(this->registry, "dr", "c", "sha256:c1", 400100)}, 400200));
  EXPECT_TRUE(s.syncsRequested()->empty());
  // A second node that read the same request queues nothing: the sync runs once.
  EXPECT_FALSE(*s.queueSync(this->registry, "dr",
                            {task(this->registry, "dr", "c", "sha256:c1", 400100)}, 400300));
  status = *s.replicationStatus(this->registry, "dr");
  EXPECT_EQ(status.lastSyncMs, 400200);
  EXPECT_EQ(status.syncRequestedMs, 0);
  EXPECT_EQ(status.queued, 2u);
  auto queues = *s.replicationQueues();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].second, 2u);

  // A claimed task let go (its node stopping) is due again at once, nothing counted.
  auto held = *s.claimReplicationTasks(500000, 600000, 10, {});
  ASSERT_EQ(held.size(), 2u);
  ASSERT_TRUE(s.recordReplicationOutcomes(
      {{held[0].id, this->registry, "dr", "release", 500100, 500100, ""}}));
  auto back = *s.claimReplicationTasks(500200, 600000, 10, {});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].id, held[0].id);
  EXPECT_EQ(back[0].attempts, held[0].attempts);
  EXPECT_EQ(s.replicationStatus(this->registry, "dr")->lastError, "refused for good");

  // A long copy keeps its task: its lease extended, no one else claims it before then.
  ASSERT_TRUE(s.extendReplicationLeases({held[0].id, held[1].id}, 2000000));
  EXPECT_TRUE(s.claimReplicationTasks(1500000, 600000, 10, {})->empty());
  EXPECT_EQ(s.claimReplicationTasks(2000000, 600000, 10, {})->size(), 2u);
}

REGISTER_TYPED_TEST_SUITE_P(UpstreamStoreConformance, CredentialSetsAreKeptPerRegistry,
                            ImportJobsRecordTheirProgressNewestFirst,
                            ARegistryDeletedTakesItsSetsAndJobs,
                            CacheRulesHaveOneTargetEachAndHoldTheirSet,
                            CachedTagsRememberTheLastCheck,
                            ReplicationsAreKeptPerRegistryAndHoldTheirSet,
                            ReplicationTasksGoInOrderPerRepository);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, UpstreamStoreConformance, SqliteFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, UpstreamStoreConformance, PostgresFactory);

}  // namespace
}  // namespace berth::meta
