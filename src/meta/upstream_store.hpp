#pragma once
// UpstreamStore: what berth keeps about other registries it talks to — credential sets (an
// upstream's login, its password sealed: events/secret_box.hpp), import jobs with their
// progress, pull-through cache rules with what the cache learnt of upstream tags, and
// replications with the changes they still have to copy. Every row
// carries its registry; deleting a registry deletes them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "meta/metadata_store.hpp"

namespace berth::meta {

struct CredentialSet {
  RegistryId registry = 0;
  std::string name;
  std::string loginServer;  // the upstream's host[:port]
  std::string username;
  std::string sealedPassword;
  int64_t created = 0;  // seconds since the epoch
  int64_t updated = 0;
};

struct ImportJob {
  std::string id;  // a UUID
  RegistryId registry = 0;
  std::string source;                // as asked: HOST/REPO:TAG or @DIGEST
  std::vector<std::string> targets;  // REPO:TAG
  std::string state = "queued";      // queued, running, succeeded, failed
  std::string error;                 // why it failed
  std::string digest;                // of what was imported, once known
  uint64_t manifests = 0;            // stored (an index's children and referrers included)
  uint64_t blobsCopied = 0;          // fetched from the upstream
  uint64_t blobsMounted = 0;         // found in the registry's store already
  uint64_t blobsPresent = 0;         // linked to the target already
  uint64_t bytesCopied = 0;
  std::string identity;  // who asked
  int64_t createdMs = 0;
  int64_t updatedMs = 0;  // last progress: a running job not updated for long died with its node
  int64_t finishedMs = 0;
};

// A pull-through cache rule: pulls of `target` (a repository, or a prefix ending in "/*") that
// miss are fetched from `source` (HOST/REPOSITORY, or HOST/PREFIX/* for the repositories under
// it), logged in with the credential set named, if any.
struct CacheRule {
  RegistryId registry = 0;
  std::string name;
  std::string source;
  std::string target;
  std::string credentialSet;  // empty: anonymous
  int64_t created = 0;
  int64_t updated = 0;
};

// What the cache last learnt of an upstream tag: its digest, and when it was checked.
struct CachedTag {
  std::string digest;
  int64_t checkedMs = 0;
};

// A replication: every push and delete in the registry matching `scopes` is copied to another
// registry (`target`: https://HOST[:PORT][/PREFIX], or http:// for an insecure one), logged in
// with the credential set named, if any.
struct Replication {
  RegistryId registry = 0;
  std::string name;
  std::string target;
  std::string credentialSet;        // empty: anonymous
  std::vector<std::string> scopes;  // "repo[:tag]" patterns as webhooks'; none: everything
  std::string mode = "push";
  bool enabled = true;
  int64_t created = 0;  // seconds since the epoch
  int64_t updated = 0;
};

// One change still to copy (or to try again), kept until it is copied or given up.
struct ReplicationTask {
  int64_t id = 0;
  RegistryId registry = 0;
  std::string replication;
  std::string action;  // "push" or "delete"
  std::string repository;
  std::string tag;  // empty: by digest
  std::string digest;
  int64_t eventMs = 0;  // when the change happened (the lag counts from it)
  uint32_t attempts = 0;
  int64_t nextAttemptMs = 0;
  std::string error;  // of the last attempt
};

// How a replication is doing.
struct ReplicationStatus {
  uint64_t queued = 0;        // changes waiting (or being tried again)
  int64_t oldestEventMs = 0;  // of the oldest of them; 0 when none
  uint64_t replicated = 0;    // changes copied since the replication was made
  uint64_t failed = 0;        // changes given up
  uint64_t dropped = 0;       // changes not queued because the queue was full
  int64_t lastSuccessMs = 0;
  int64_t lastErrorMs = 0;
  std::string lastError;
  int64_t syncRequestedMs = 0;  // a sync asked for and not yet queued; 0 when none
  int64_t lastSyncMs = 0;       // when the last sync was queued
};

// What became of a task's attempt.
struct TaskOutcome {
  int64_t task = 0;
  RegistryId registry = 0;
  std::string replication;
  std::string state;  // "done", "retry" (at nextAttemptMs), "failed", or "release" (not
                      // attempted: due again at nextAttemptMs, nothing counted)
  int64_t nextAttemptMs = 0;
  int64_t atMs = 0;
  std::string error;
};

class UpstreamStore {
 public:
  virtual ~UpstreamStore() = default;

  // CONFLICT when the name is taken.
  virtual Result<void> createCredentialSet(const CredentialSet& set) = 0;
  virtual Result<std::optional<CredentialSet>> credentialSet(RegistryId registry,
                                                             std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<CredentialSet>> credentialSets(RegistryId registry) = 0;
  // Replaces login server, username and password of the set named `set.name`; false when none.
  virtual Result<bool> updateCredentialSet(const CredentialSet& set) = 0;
  // CONFLICT, deleting nothing, while a cache rule uses it.
  virtual Result<bool> deleteCredentialSet(RegistryId registry, std::string_view name) = 0;

  // CONFLICT when the name is taken or another rule has the same target.
  virtual Result<void> createCacheRule(const CacheRule& rule) = 0;
  virtual Result<std::optional<CacheRule>> cacheRule(RegistryId registry,
                                                     std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<CacheRule>> cacheRules(RegistryId registry) = 0;
  // Replaces the credential set of the rule named `rule.name`; false when none.
  virtual Result<bool> updateCacheRule(const CacheRule& rule) = 0;
  // With what the cache learnt under it (its tags' records stay with the repositories).
  virtual Result<bool> deleteCacheRule(RegistryId registry, std::string_view name) = 0;

  virtual Result<std::optional<CachedTag>> cachedTag(RegistryId registry,
                                                     std::string_view repository,
                                                     std::string_view tag) = 0;
  virtual Result<void> recordCachedTag(RegistryId registry, std::string_view repository,
                                       std::string_view tag, const CachedTag& seen) = 0;

  virtual Result<void> createImportJob(const ImportJob& job) = 0;
  // Replaces the progress, state, error, digest and times of the job `job.id`; false when none.
  virtual Result<bool> updateImportJob(const ImportJob& job) = 0;
  virtual Result<std::optional<ImportJob>> importJob(RegistryId registry, std::string_view id) = 0;
  // Newest first.
  virtual Result<std::vector<ImportJob>> importJobs(RegistryId registry, size_t limit) = 0;
  // Forgets finished jobs that finished before `beforeMs`; how many.
  virtual Result<uint64_t> pruneImportJobs(int64_t beforeMs) = 0;

  // CONFLICT when the name is taken.
  virtual Result<void> createReplication(const Replication& replication) = 0;
  virtual Result<std::optional<Replication>> replication(RegistryId registry,
                                                         std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<Replication>> replications(RegistryId registry) = 0;
  // Replaces target, credential set, scopes and enabled of `replication.name`; false when none.
  virtual Result<bool> updateReplication(const Replication& replication) = 0;
  // With its queued changes.
  virtual Result<bool> deleteReplication(RegistryId registry, std::string_view name) = 0;
  virtual Result<ReplicationStatus> replicationStatus(RegistryId registry,
                                                      std::string_view name) = 0;
  // Queued changes per replication, as "<registry id>/<name>".
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> replicationQueues() = 0;
  // Moves the outbox cursor of `consumer` from `from` to `to`, queues `tasks` (their ids
  // ignored) and counts `dropped` ("<registry id>/<name>" → changes left out), in one
  // transaction. False, changing nothing, when the cursor is no longer at `from`.
  virtual Result<bool> queueReplicationTasks(
      std::string_view consumer, int64_t from, int64_t to,
      const std::vector<ReplicationTask>& tasks,
      const std::vector<std::pair<std::string, uint64_t>>& dropped) = 0;
  // Marks the sync asked for done and queues `tasks` (outside the outbox), in one transaction;
  // false, queueing nothing, when no sync is asked for (another node queued it already).
  virtual Result<bool> queueSync(RegistryId registry, std::string_view name,
                                 const std::vector<ReplicationTask>& tasks, int64_t nowMs) = 0;
  // Asks for a sync of the replication; false when there is none.
  virtual Result<bool> requestSync(RegistryId registry, std::string_view name, int64_t nowMs) = 0;
  // Replications with a sync asked for.
  virtual Result<std::vector<Replication>> syncsRequested() = 0;
  // Takes up to `limit` tasks due at `nowMs`: the oldest of each replication and repository
  // (changes to one repository are copied in order), skipping the keys in `busy`
  // ("<registry id>/<replication>/<repository>"); each is not due again for `leaseMs`.
  virtual Result<std::vector<ReplicationTask>> claimReplicationTasks(
      int64_t nowMs, int64_t leaseMs, size_t limit, const std::vector<std::string>& busy) = 0;
  // Keeps tasks being copied claimed until `untilMs` (a long copy outlives its first lease).
  virtual Result<void> extendReplicationLeases(const std::vector<int64_t>& tasks,
                                               int64_t untilMs) = 0;
  // The attempts' outcomes, in one transaction: done and failed tasks go, with the
  // replication's counts and last success or error; retried ones wait until their time.
  virtual Result<void> recordReplicationOutcomes(const std::vector<TaskOutcome>& outcomes) = 0;
};
using UpstreamStorePtr = std::unique_ptr<UpstreamStore>;

}  // namespace berth::meta
