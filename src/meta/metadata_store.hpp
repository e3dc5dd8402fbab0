#pragma once
// MetadataStore: registries, repositories, manifests and their references, tags,
// repository<->blob links and upload sessions. Every row carries its registry.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace berth::meta {

using RegistryId = int64_t;
using RepositoryId = int64_t;

struct ManifestRecord {
  std::string digest;
  std::string mediaType;
  std::string artifactType;  // empty when none
  uint64_t size = 0;
  std::string payload;
  std::string subject;      // digest of the subject manifest, empty when none
  std::string annotations;  // JSON object text, empty when none
  int64_t created = 0;
};

// What a manifest points at: blobs (config, layers) or child manifests (index entries).
struct ManifestRef {
  std::string digest;
  bool manifest = false;
};

// Who makes a change, for the tag history: "admin", "token:<name>", "operator", or a job
// ("purge", "retention"); and the client's address ("" for jobs).
// The request that made it, when one did, goes into the outbox's events (webhook payloads).
struct Actor {
  std::string identity;
  std::string source;
  std::string requestId, host, method, userAgent;
};

// One change of a tag: "created", "moved" (from oldDigest to newDigest), "deleted" or
// "restored".
struct TagEvent {
  int64_t id = 0;  // increasing: the history's order
  std::string tag;
  std::string action;
  std::string oldDigest;  // empty for created and restored
  std::string newDigest;  // empty for deleted
  std::string identity;
  std::string source;
  int64_t time = 0;
};

struct Page {
  std::vector<std::string> items;
  bool more = false;
};

// The attributes a repository, tag or manifest can have switched off (ACR's "changeable
// attributes"). Tags and manifests use deleteEnabled and writeEnabled only.
struct Attributes {
  bool deleteEnabled = true;
  bool writeEnabled = true;
  bool readEnabled = true;
  bool listEnabled = true;
};
// Fields left empty keep their value.
struct AttributeChange {
  std::optional<bool> deleteEnabled;
  std::optional<bool> writeEnabled;
  std::optional<bool> readEnabled;
  std::optional<bool> listEnabled;
};

struct RepositoryInfo {
  RepositoryId id = 0;
  std::string name;
  int64_t created = 0;
  int64_t updated = 0;
  Attributes attributes;
  uint64_t manifestCount = 0;
  uint64_t tagCount = 0;
};

struct TagInfo {
  std::string name;
  std::string digest;
  // The manifest's size plus the blobs it references directly (config and layers).
  uint64_t size = 0;
  int64_t created = 0;
  int64_t updated = 0;
  Attributes attributes;
};

struct ManifestInfo {
  ManifestRecord manifest;  // with its payload
  std::vector<std::string> tags;
  Attributes attributes;
};

struct RepositoryDeletion {
  std::vector<std::string> manifests;
  std::vector<std::string> tags;
};

struct Usage {
  uint64_t storedBytes = 0;  // bytes of the distinct blobs stored in the registry
  uint64_t repositories = 0;
};

// Work on stored bytes that must happen inside a metadata transaction: placing an uploaded
// blob in the transaction that links it, removing a blob in the transaction that proves
// nothing links it. Garbage collection relies on it (see src/jobs/gc.hpp).
using BytesStep = std::function<Result<void>()>;

// One garbage-collection pass over one registry.
struct GcRun {
  int64_t started = 0;
  int64_t finished = 0;
  bool dryRun = false;
  uint64_t uploadsRemoved = 0;
  uint64_t linksRemoved = 0;
  uint64_t blobsRemoved = 0;
  uint64_t bytesRemoved = 0;
  uint64_t orphansRemoved = 0;  // files in the blob store no metadata knew of
  std::string error;            // empty when the pass completed
};

struct BlobRecord {
  std::string digest;
  uint64_t size = 0;
};

struct BlobTotals {
  uint64_t blobs = 0;
  uint64_t bytes = 0;
};

// A registry's lifecycle policies, as ACR's: untagged manifests deleted after `days`; deleted
// manifests and tags restorable for `days`.
struct Policy {
  bool enabled = false;
  uint32_t days = 7;
  int64_t updated = 0;
};
struct Policies {
  Policy retention;
  Policy softDelete;
};

// A purge that runs on a schedule: "repo-regex:tag-regex" filters and purge's flags.
struct PurgeSchedule {
  int64_t id = 0;
  RegistryId registry = 0;
  std::string cron;
  std::vector<std::string> filters;
  int64_t agoSeconds = 0;
  bool untagged = false;
  uint32_t keep = 0;
  int64_t created = 0;
  int64_t nextRun = 0;
  int64_t lastRun = 0;     // 0: never ran
  std::string lastResult;  // JSON text of the last run's summary
};

// A manifest deleted while the registry's soft-delete policy was enabled: restorable until it
// is `days` old, its blobs kept until then.
struct DeletedManifest {
  std::string repository;
  std::string digest;
  std::string mediaType;
  std::string artifactType;
  uint64_t size = 0;
  std::vector<std::string> tags;  // the tags it had
  int64_t created = 0;
  int64_t deleted = 0;
  std::string deletedBy;
};

struct UploadRecord {
  std::string uuid;
  RegistryId registry = 0;
  std::string repository;
  int64_t created = 0;
};

// A change of content that others may hold copies of (the data plane's caches): one
// repository's tags, manifests, links or attributes, everything of a registry, or anything
// at all (changes may have been missed).
struct ContentChange {
  enum class Scope { Repository, Registry, Everything };
  Scope scope = Scope::Everything;
  int64_t id = 0;  // of the repository or the registry
};
// Holds a watch on changes; dropping it ends the watch.
using Watch = std::shared_ptr<void>;
// Holds the right to run a job alone (MetadataStore::exclusive); dropping it gives it up.
using JobLease = std::shared_ptr<void>;

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Calls `changed` (on a thread of the store's) for every change made through another process
  // that shares the database (other nodes on PostgreSQL), shortly after it commits; changes
  // of this process are the caller's to know. SQLite, one process: never called.
  virtual Watch watchContent(std::function<void(const ContentChange&)> changed) = 0;
  // The right to run `job` (garbage collection, retention) in one process of all that share the
  // database at a time, until the lease is dropped or the process ends (on PostgreSQL, a
  // session advisory lock: a node that dies gives it up with its connection). Null when another
  // process holds it now.
  virtual Result<JobLease> exclusive(std::string_view job) = 0;

  virtual Result<RegistryId> ensureRegistry(std::string_view name) = 0;

  virtual Result<std::optional<RepositoryId>> findRepository(RegistryId registry,
                                                             std::string_view name) = 0;
  virtual Result<RepositoryId> ensureRepository(RegistryId registry, std::string_view name) = 0;
  // Names after `after`, in byte order, at most `limit`; repositories whose listEnabled is
  // false are left out.
  virtual Result<Page> listRepositories(RegistryId registry, std::string_view after,
                                        size_t limit) = 0;
  virtual Result<std::optional<RepositoryInfo>> repository(RegistryId registry,
                                                           std::string_view name) = 0;
  // At most `limit` repositories by lastUpdateTime, newest or oldest first, name order among
  // equal times; those whose listEnabled is false are left out.
  virtual Result<std::vector<RepositoryInfo>> repositoriesByTime(RegistryId registry,
                                                                 bool newestFirst,
                                                                 size_t limit) = 0;
  // False when the repository does not exist.
  virtual Result<bool> updateRepository(RepositoryId repository, const AttributeChange& change) = 0;
  // Deletes the repository with its manifests, tags, references and blob links. DENIED when
  // the repository, or a manifest or tag in it, may not be deleted.
  virtual Result<RepositoryDeletion> deleteRepository(RepositoryId repository,
                                                      const Actor& actor) = 0;
  Result<RepositoryDeletion> deleteRepository(RepositoryId repository) {
    return deleteRepository(repository, Actor{});
  }
  virtual Result<Usage> usage(RegistryId registry) = 0;

  // Records the blob in the registry and links it to the repository, running `placeBytes`
  // (when given) last, inside the same transaction: the bytes are in the store whenever the
  // link is. DENIED, changing nothing, when a blob new to the registry would take its stored
  // bytes over its quota. Linking again refreshes the link's time (see removeUnreferencedLinks).
  // `endsUpload`, when not empty, names the upload session the blob completes: its record goes
  // in the same transaction (one write fewer per pushed blob), and stays when the link fails.
  virtual Result<void> linkBlob(RegistryId registry, RepositoryId repository,
                                std::string_view digest, uint64_t size, const BytesStep& placeBytes,
                                std::string_view endsUpload) = 0;
  Result<void> linkBlob(RegistryId registry, RepositoryId repository, std::string_view digest,
                        uint64_t size) {
    return linkBlob(registry, repository, digest, size, {}, {});
  }
  // Links a blob of repository `from` to `repository` as well (a cross-repository mount): the
  // blob's size, or nullopt, changing nothing, when `from` does not link it.
  virtual Result<std::optional<uint64_t>> mountBlob(RepositoryId from, RepositoryId repository,
                                                    std::string_view digest) = 0;
  // The blob's size when it is linked to the repository.
  virtual Result<std::optional<uint64_t>> linkedBlob(RepositoryId repository,
                                                     std::string_view digest) = 0;
  virtual Result<bool> unlinkBlob(RepositoryId repository, std::string_view digest) = 0;

  // Stores the manifest with its references, and points `tag` at it when given. DENIED when
  // the tag would move away from a manifest while the tag or that manifest is locked;
  // MANIFEST_BLOB_UNKNOWN when a blob reference is not linked to the repository, checked in
  // the storing transaction (garbage collection removes links in transactions of its own).
  virtual Result<void> putManifest(RegistryId registry, RepositoryId repository,
                                   const ManifestRecord& manifest,
                                   const std::vector<ManifestRef>& refs,
                                   std::optional<std::string_view> tag, const Actor& actor) = 0;
  Result<void> putManifest(RegistryId registry, RepositoryId repository,
                           const ManifestRecord& manifest, const std::vector<ManifestRef>& refs,
                           std::optional<std::string_view> tag) {
    return putManifest(registry, repository, manifest, refs, tag, Actor{});
  }
  virtual Result<std::optional<ManifestRecord>> getManifest(RepositoryId repository,
                                                            std::string_view digest) = 0;
  // Deletes the manifest, its references, every tag pointing at it and, as their subject is
  // gone, its referrers (signatures, SBOMs; recursively). The digests deleted, the manifest's
  // first; empty when it did not exist. DENIED when one of them or one of those tags is locked.
  // The blobs they referenced stay linked for the grace period from now. With the registry's
  // soft-delete policy enabled, the manifests are kept aside, references and all, restorable
  // (see restoreManifest) until expireDeletedManifests removes them.
  virtual Result<std::vector<std::string>> deleteManifest(RepositoryId repository,
                                                          std::string_view digest,
                                                          const Actor& actor) = 0;
  Result<std::vector<std::string>> deleteManifest(RepositoryId repository,
                                                  std::string_view digest) {
    return deleteManifest(repository, digest, Actor{});
  }

  virtual Result<std::optional<std::string>> resolveTag(RepositoryId repository,
                                                        std::string_view tag) = 0;
  // DENIED when the tag, or the manifest it points at, is locked.
  virtual Result<bool> deleteTag(RepositoryId repository, std::string_view tag,
                                 const Actor& actor) = 0;
  Result<bool> deleteTag(RepositoryId repository, std::string_view tag) {
    return deleteTag(repository, tag, Actor{});
  }
  // Soft-deleted manifests of a repository, newest deletion first.
  virtual Result<std::vector<DeletedManifest>> deletedManifests(RepositoryId repository) = 0;
  // Repositories of the registry with soft-deleted manifests, and how many each has.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> repositoriesWithDeleted(
      RegistryId registry) = 0;
  // Puts a soft-deleted manifest back and points `tags` at it (those it had when none are
  // given, except tags that point elsewhere now). False when there is no such deleted manifest.
  virtual Result<bool> restoreManifest(RepositoryId repository, std::string_view digest,
                                       const std::vector<std::string>& tags,
                                       const Actor& actor) = 0;
  // Forgets the registry's manifests soft-deleted before `before`, with their references; the
  // blobs they alone referenced then go after the grace period. How many.
  virtual Result<uint64_t> expireDeletedManifests(RegistryId registry, int64_t before) = 0;
  // Points `tag` at a manifest the repository holds (a rollback, a restore), recording the
  // change. False, changing nothing, when the repository holds no such manifest; DENIED when
  // the tag, or the manifest it leaves, is locked.
  virtual Result<bool> pointTag(RepositoryId repository, std::string_view tag,
                                std::string_view digest, std::string_view action,
                                const Actor& actor) = 0;
  // The changes of a tag of the named repository (kept when the repository is deleted), newest
  // first: those with an id below `beforeId` (0: from the newest), at most `limit`.
  virtual Result<std::vector<TagEvent>> tagHistory(RegistryId registry, std::string_view repository,
                                                   std::string_view tag, int64_t beforeId,
                                                   size_t limit) = 0;
  // Forgets the changes made before `before`; how many.
  virtual Result<uint64_t> pruneTagHistory(int64_t before) = 0;
  virtual Result<Page> listTags(RepositoryId repository, std::string_view after, size_t limit) = 0;
  // Every tag with its details, in no particular order.
  virtual Result<std::vector<TagInfo>> tagInfos(RepositoryId repository) = 0;
  virtual Result<std::optional<TagInfo>> tagInfo(RepositoryId repository, std::string_view tag) = 0;
  virtual Result<bool> updateTag(RepositoryId repository, std::string_view tag,
                                 const AttributeChange& change) = 0;
  // Every manifest with its tags, in no particular order.
  virtual Result<std::vector<ManifestInfo>> manifestInfos(RepositoryId repository) = 0;
  virtual Result<std::optional<ManifestInfo>> manifestInfo(RepositoryId repository,
                                                           std::string_view digest) = 0;
  virtual Result<bool> updateManifest(RepositoryId repository, std::string_view digest,
                                      const AttributeChange& change) = 0;

  // Manifests whose subject is `subject`, without payloads, ordered by digest.
  virtual Result<std::vector<ManifestRecord>> referrers(RepositoryId repository,
                                                        std::string_view subject) = 0;

  virtual Result<void> createUpload(const UploadRecord& upload) = 0;
  virtual Result<std::optional<UploadRecord>> getUpload(std::string_view uuid) = 0;
  virtual Result<void> deleteUpload(std::string_view uuid) = 0;
  // Sessions of the registry created before `before` (seconds since the epoch), at most `limit`.
  virtual Result<std::vector<UploadRecord>> uploadsBefore(RegistryId registry, int64_t before,
                                                          size_t limit) = 0;

  // Garbage collection. Each removal is its own transaction that re-checks, while it holds
  // the rows, what made the item collectable; see src/jobs/gc.hpp for the whole protocol.
  //
  // Removes at most `limit` links of the registry that no manifest of their repository
  // references and that were last linked or referenced before `before`; returns how many.
  virtual Result<uint64_t> removeUnreferencedLinks(RegistryId registry, int64_t before,
                                                   size_t limit) = 0;
  // How many links removeUnreferencedLinks would remove, and the blobs that would then have no
  // link left (with those that already have none): what a dry run reports.
  virtual Result<uint64_t> countUnreferencedLinks(RegistryId registry, int64_t before) = 0;
  virtual Result<BlobTotals> countCollectableBlobs(RegistryId registry, int64_t before) = 0;
  // Blobs of the registry no repository links, digests after `after`, at most `limit`.
  virtual Result<std::vector<BlobRecord>> unlinkedBlobs(RegistryId registry, std::string_view after,
                                                        size_t limit) = 0;
  // Removes the blob when still no repository links it: runs `removeBytes` and, when that
  // succeeds, deletes the blob's row and takes its size off the registry's used bytes, in one
  // transaction. False when a link appeared meanwhile (nothing is removed).
  virtual Result<bool> collectBlob(RegistryId registry, std::string_view digest,
                                   const BytesStep& removeBytes) = 0;
  // For a file in the blob store: runs `removeBytes` inside a transaction when the registry
  // has no record of the blob. False when it has one.
  virtual Result<bool> collectOrphan(RegistryId registry, std::string_view digest,
                                     const BytesStep& removeBytes) = 0;
  virtual Result<void> recordGcRun(RegistryId registry, const GcRun& run) = 0;
  virtual Result<std::optional<GcRun>> lastGcRun(RegistryId registry) = 0;

  // Lifecycle policies; a registry that never set them has the defaults (disabled, 7 days).
  virtual Result<Policies> policies(RegistryId registry) = 0;
  virtual Result<void> setPolicies(RegistryId registry, const Policies& policies) = 0;
  // Registries whose retention policy is enabled, with their policies.
  virtual Result<std::vector<std::pair<RegistryId, Policies>>> retainingRegistries() = 0;

  // Purge schedules. create returns the id; `id` and times of the argument are ignored but
  // nextRun.
  virtual Result<int64_t> createPurgeSchedule(const PurgeSchedule& schedule) = 0;
  virtual Result<std::vector<PurgeSchedule>> purgeSchedules(RegistryId registry) = 0;
  virtual Result<bool> deletePurgeSchedule(RegistryId registry, int64_t id) = 0;
  // Schedules of every registry whose next run is at or before `now`.
  virtual Result<std::vector<PurgeSchedule>> duePurgeSchedules(int64_t now) = 0;
  // Takes a due schedule for one run: moves its next run from `due` to `nextRun`. False when
  // another process took it first (its next run is no longer `due`): that one runs it.
  virtual Result<bool> claimPurgeSchedule(int64_t id, int64_t due, int64_t nextRun) = 0;
  virtual Result<void> recordPurgeRun(int64_t id, int64_t ran, int64_t nextRun,
                                      std::string_view result) = 0;
};
using MetadataStorePtr = std::unique_ptr<MetadataStore>;

}  // namespace berth::meta
