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
  // Names after `after`, in byte order, at most `limit`.
  virtual Result<Page> listRepositories(RegistryId registry, std::string_view after,
                                        size_t limit) = 0;

  // Records the blob in the registry and links it to the repository.
  virtual Result<void> linkBlob(RegistryId registry, RepositoryId repository,
                                std::string_view digest, uint64_t size) = 0;
  // The blob's size when it is linked to the repository.
  virtual Result<std::optional<uint64_t>> linkedBlob(RepositoryId repository,
                                                     std::string_view digest) = 0;
  virtual Result<bool> unlinkBlob(RepositoryId repository, std::string_view digest) = 0;

  // Stores the manifest with its references, and points `tag` at it when given.
  virtual Result<void> putManifest(RegistryId registry, RepositoryId repository,
                                   const ManifestRecord& manifest,
                                   const std::vector<ManifestRef>& refs,
                                   std::optional<std::string_view> tag) = 0;
  virtual Result<std::optional<ManifestRecord>> getManifest(RepositoryId repository,
                                                            std::string_view digest) = 0;
  virtual Result<bool> hasManifest(RepositoryId repository, std::string_view digest) = 0;
  // Deletes the manifest, its references and every tag pointing at it.
  virtual Result<bool> deleteManifest(RepositoryId repository, std::string_view digest) = 0;

  virtual Result<std::optional<std::string>> resolveTag(RepositoryId repository,
                                                        std::string_view tag) = 0;
  virtual Result<bool> deleteTag(RepositoryId repository, std::string_view tag) = 0;
  virtual Result<Page> listTags(RepositoryId repository, std::string_view after, size_t limit) = 0;

  // Manifests whose subject is `subject`, without payloads, ordered by digest.
  virtual Result<std::vector<ManifestRecord>> referrers(RepositoryId repository,
                                                        std::string_view subject) = 0;

  virtual Result<void> createUpload(const UploadRecord& upload) = 0;
  virtual Result<std::optional<UploadRecord>> getUpload(std::string_view uuid) = 0;
  virtual Result<void> deleteUpload(std::string_view uuid) = 0;
};
using MetadataStorePtr = std::unique_ptr<MetadataStore>;

}  // namespace berth::meta
