#pragma once
// MetadataStore: registries, repositories, manifests and their references, tags,
// repository<->blob links and upload sessions. Every row carries its registry.
#include <cstdint>
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

struct UploadRecord {
  std::string uuid;
  RegistryId registry = 0;
  std::string repository;
  int64_t created = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

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
  virtual Result<RepositoryDeletion> deleteRepository(RepositoryId repository) = 0;
  virtual Result<Usage> usage(RegistryId registry) = 0;

  // Records the blob in the registry and links it to the repository. DENIED, changing
  // nothing, when a blob new to the registry would take its stored bytes over its quota.
  virtual Result<void> linkBlob(RegistryId registry, RepositoryId repository,
                                std::string_view digest, uint64_t size) = 0;
  // The blob's size when it is linked to the repository.
  virtual Result<std::optional<uint64_t>> linkedBlob(RepositoryId repository,
                                                     std::string_view digest) = 0;
  virtual Result<bool> unlinkBlob(RepositoryId repository, std::string_view digest) = 0;

  // Stores the manifest with its references, and points `tag` at it when given. DENIED when
  // the tag would move away from a manifest while the tag or that manifest is locked.
  virtual Result<void> putManifest(RegistryId registry, RepositoryId repository,
                                   const ManifestRecord& manifest,
                                   const std::vector<ManifestRef>& refs,
                                   std::optional<std::string_view> tag) = 0;
  virtual Result<std::optional<ManifestRecord>> getManifest(RepositoryId repository,
                                                            std::string_view digest) = 0;
  // Deletes the manifest, its references and every tag pointing at it. DENIED when the
  // manifest or one of those tags is locked.
  virtual Result<bool> deleteManifest(RepositoryId repository, std::string_view digest) = 0;

  virtual Result<std::optional<std::string>> resolveTag(RepositoryId repository,
                                                        std::string_view tag) = 0;
  // DENIED when the tag, or the manifest it points at, is locked.
  virtual Result<bool> deleteTag(RepositoryId repository, std::string_view tag) = 0;
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
};
using MetadataStorePtr = std::unique_ptr<MetadataStore>;

}  // namespace berth::meta
