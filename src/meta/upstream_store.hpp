#pragma once
// UpstreamStore: what berth keeps about other registries it talks to — credential sets (an
// upstream's login, its password sealed: events/secret_box.hpp), import jobs with their
// progress, and pull-through cache rules with what the cache learnt of upstream tags. Every row
// carries its registry; deleting a registry deletes them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
};
using UpstreamStorePtr = std::unique_ptr<UpstreamStore>;

}  // namespace berth::meta
