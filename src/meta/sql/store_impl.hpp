#pragma once
// The MetadataStore on a SQL database. Internal to src/meta/sql: store.cpp holds the data
// plane's methods, catalog.cpp those of the control plane, gc.cpp and policies.cpp the
// lifecycle's.
#include "meta/metadata_store.hpp"
#include "meta/sql/database.hpp"
#include "meta/sql/stores.hpp"

namespace berth::meta {

// Lock checks run inside the transaction of the change they guard; DENIED names the lock.
// A tag moving to `digest`: the tag and the manifest it leaves must both allow it.
Result<void> refuseTagMove(sql::Connection& c, RepositoryId repository, std::string_view tag,
                           std::string_view digest);
Result<void> refuseTagDelete(sql::Connection& c, RepositoryId repository, std::string_view tag);
Result<void> refuseManifestDelete(sql::Connection& c, RepositoryId repository,
                                  std::string_view digest);

// Appends a change of `tag` to the tag history, inside the caller's transaction.
Result<void> recordTagChange(sql::Connection& c, RepositoryId repository, std::string_view tag,
                             std::string_view action, std::string_view oldDigest,
                             std::string_view newDigest, const Actor& actor, int64_t now);
// recordTagChange(deleted) for every tag of the repository, or those pointing at `digest`.
Result<void> recordTagDeletions(sql::Connection& c, RepositoryId repository,
                                std::optional<std::string_view> digest, const Actor& actor,
                                int64_t now);

// Moves an outbox consumer's cursor from `from` to `to`, inside the caller's transaction; false
// when it is no longer at `from` (another process took those events).
Result<bool> moveEventCursor(sql::Connection& c, std::string_view consumer, int64_t from,
                             int64_t to);

// Appends a change to the outbox (src/meta/event_store.hpp), inside the caller's transaction:
// `action` ("push", "delete") of the manifest `digest` of the repository, through `tag` when
// one is named. The manifest's media type and size are read from its row, so a deletion is
// recorded before the row goes.
Result<void> recordEvent(sql::Connection& c, RepositoryId repository, std::string_view action,
                         std::string_view digest, std::string_view tag, const Actor& actor);

// Tells other nodes that the content of a repository or of a whole registry changed (their
// caches), when the caller's transaction commits.
Result<void> repositoryChanged(sql::Connection& c, RepositoryId repository);
Result<void> registryChanged(sql::Connection& c, RegistryId registry);
// Runs an UPDATE or DELETE of one repository's rows; true when it changed one, which is then
// announced with repositoryChanged().
Result<bool> changeOf(sql::Connection& c, sql::Stmt& s, RepositoryId repository);

class SqlStore final : public MetadataStore {
 public:
  explicit SqlStore(std::shared_ptr<sql::Database> db) : db_(std::move(db)) {}
  ~SqlStore() override;

  Watch watchContent(std::function<void(const ContentChange&)> changed) override;
  Result<JobLease> exclusive(std::string_view job) override { return db_->exclusive(job); }
  Result<RegistryId> ensureRegistry(std::string_view name) override;
  Result<std::optional<RepositoryId>> findRepository(RegistryId registry,
                                                     std::string_view name) override;
  Result<RepositoryId> ensureRepository(RegistryId registry, std::string_view name) override;
  Result<Page> listRepositories(RegistryId registry, std::string_view after, size_t limit) override;
  using MetadataStore::linkBlob;
  Result<void> linkBlob(RegistryId registry, RepositoryId repository, std::string_view digest,
                        uint64_t size, const BytesStep& placeBytes,
                        std::string_view endsUpload) override;
  Result<std::optional<uint64_t>> mountBlob(RepositoryId from, RepositoryId repository,
                                            std::string_view digest) override;
  Result<std::optional<uint64_t>> linkedBlob(RepositoryId repository,
                                             std::string_view digest) override;
  Result<bool> unlinkBlob(RepositoryId repository, std::string_view digest) override;
  using MetadataStore::putManifest;
  Result<void> putManifest(RegistryId registry, RepositoryId repository,
                           const ManifestRecord& manifest, const std::vector<ManifestRef>& refs,
                           std::optional<std::string_view> tag, const Actor& actor) override;
  Result<std::optional<ManifestRecord>> getManifest(RepositoryId repository,
                                                    std::string_view digest) override;
  using MetadataStore::deleteManifest;
  Result<std::vector<std::string>> deleteManifest(RepositoryId repository, std::string_view digest,
                                                  const Actor& actor) override;
  Result<std::optional<std::string>> resolveTag(RepositoryId repository,
                                                std::string_view tag) override;
  using MetadataStore::deleteTag;
  Result<bool> deleteTag(RepositoryId repository, std::string_view tag,
                         const Actor& actor) override;
  Result<std::vector<TagEvent>> tagHistory(RegistryId registry, std::string_view repository,
                                           std::string_view tag, int64_t beforeId,
                                           size_t limit) override;
  Result<uint64_t> pruneTagHistory(int64_t before) override;
  Result<std::vector<DeletedManifest>> deletedManifests(RepositoryId repository) override;
  Result<std::vector<std::pair<std::string, uint64_t>>> repositoriesWithDeleted(
      RegistryId registry) override;
  Result<bool> restoreManifest(RepositoryId repository, std::string_view digest,
                               const std::vector<std::string>& tags, const Actor& actor) override;
  Result<uint64_t> expireDeletedManifests(RegistryId registry, int64_t before) override;
  Result<bool> pointTag(RepositoryId repository, std::string_view tag, std::string_view digest,
                        std::string_view action, const Actor& actor) override;
  Result<Page> listTags(RepositoryId repository, std::string_view after, size_t limit) override;
  Result<std::vector<ManifestRecord>> referrers(RepositoryId repository,
                                                std::string_view subject) override;
  Result<std::optional<RepositoryInfo>> repository(RegistryId registry,
                                                   std::string_view name) override;
  Result<std::vector<RepositoryInfo>> repositoriesByTime(RegistryId registry, bool newestFirst,
                                                         size_t limit) override;
  Result<bool> updateRepository(RepositoryId repository, const AttributeChange& change) override;
  using MetadataStore::deleteRepository;
  Result<RepositoryDeletion> deleteRepository(RepositoryId repository, const Actor& actor) override;
  Result<Usage> usage(RegistryId registry) override;
  Result<std::vector<TagInfo>> tagInfos(RepositoryId repository) override;
  Result<std::optional<TagInfo>> tagInfo(RepositoryId repository, std::string_view tag) override;
  Result<bool> updateTag(RepositoryId repository, std::string_view tag,
                         const AttributeChange& change) override;
  Result<std::vector<ManifestInfo>> manifestInfos(RepositoryId repository) override;
  Result<std::optional<ManifestInfo>> manifestInfo(RepositoryId repository,
                                                   std::string_view digest) override;
  Result<bool> updateManifest(RepositoryId repository, std::string_view digest,
                              const AttributeChange& change) override;
  Result<void> createUpload(const UploadRecord& upload) override;
  Result<std::optional<UploadRecord>> getUpload(std::string_view uuid) override;
  Result<void> deleteUpload(std::string_view uuid) override;
  Result<std::vector<UploadRecord>> uploadsBefore(RegistryId registry, int64_t before,
                                                  size_t limit) override;
  Result<uint64_t> removeUnreferencedLinks(RegistryId registry, int64_t before,
                                           size_t limit) override;
  Result<uint64_t> countUnreferencedLinks(RegistryId registry, int64_t before) override;
  Result<BlobTotals> countCollectableBlobs(RegistryId registry, int64_t before) override;
  Result<std::vector<BlobRecord>> unlinkedBlobs(RegistryId registry, std::string_view after,
                                                size_t limit) override;
  Result<bool> collectBlob(RegistryId registry, std::string_view digest,
                           const BytesStep& removeBytes) override;
  Result<bool> collectOrphan(RegistryId registry, std::string_view digest,
                             const BytesStep& removeBytes) override;
  Result<void> recordGcRun(RegistryId registry, const GcRun& run) override;
  Result<std::optional<GcRun>> lastGcRun(RegistryId registry) override;
  Result<Policies> policies(RegistryId registry) override;
  Result<void> setPolicies(RegistryId registry, const Policies& policies) override;
  Result<std::vector<std::pair<RegistryId, Policies>>> retainingRegistries() override;
  Result<int64_t> createPurgeSchedule(const PurgeSchedule& schedule) override;
  Result<std::vector<PurgeSchedule>> purgeSchedules(RegistryId registry) override;
  Result<bool> deletePurgeSchedule(RegistryId registry, int64_t id) override;
  Result<std::vector<PurgeSchedule>> duePurgeSchedules(int64_t now) override;
  Result<bool> claimPurgeSchedule(int64_t id, int64_t due, int64_t nextRun) override;
  Result<void> recordPurgeRun(int64_t id, int64_t ran, int64_t nextRun,
                              std::string_view result) override;

 private:
  Result<sql::Database::Lease> lease(const char* caller = BERTH_CALLER) {
    return db_->lease(caller);
  }
  Result<sql::Database::Lease> writer(const char* caller = BERTH_CALLER) {
    return db_->writer(caller);
  }

  std::shared_ptr<sql::Database> db_;
};

}  // namespace berth::meta
