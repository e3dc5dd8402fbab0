#pragma once
// The filesystem BlobStore: blobs at <root>/blobs/<alg>/<2 hex>/<hex>, sessions at
// <root>/uploads/<uuid>. Commit is fsync + rename, so a blob is whole or absent.
#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/lru_cache.hpp"
#include "storage/blob_store.hpp"
#include "storage/fs/hash_pool.hpp"

namespace berth::storage {

class FsBlobStore final : public BlobStore {
 public:
  // Creates the directory layout under `root` when missing.
  // Keeps up to `openBlobs` recently read blobs open (one descriptor each).
  static Result<BlobStorePtr> open(const std::filesystem::path& root, size_t openBlobs = 256);

  Result<void> check() override;
  Result<std::optional<uint64_t>> stat(const Digest& digest) override;
  Result<BlobReader> open(const Digest& digest) override;
  Result<void> remove(const Digest& digest) override;

  Result<void> createUpload(std::string_view id) override;
  Result<uint64_t> uploadSize(std::string_view id) override;
  Result<UploadWriterPtr> appendUpload(std::string_view id) override;
  Result<BlobInfo> verifyUpload(std::string_view id, const Digest& expected) override;
  Result<void> placeUpload(std::string_view id, const Digest& digest) override;
  Result<void> cancelUpload(std::string_view id) override;
  Result<std::vector<std::string>> staleUploads(int64_t before, size_t limit) override;
  Result<void> forEachBlob(const std::function<bool(const StoredBlob&)>& visit) override;

  // The running hash of a session, kept while the process lives so that commit need not
  // re-read the data (hash_pool.hpp). After a restart, commit re-hashes the file instead.
  using HashState = storage::HashState;

 private:
  FsBlobStore(std::filesystem::path root, size_t openBlobs)
      : root_(std::move(root)), openBlobs_(openBlobs, "open_blobs") {}
  std::filesystem::path blobPath(const Digest& digest) const;
  Result<std::filesystem::path> uploadPath(std::string_view id) const;
  class Claim;
  std::shared_ptr<HashState> claim(std::string_view id, bool& busy);
  void release(std::string_view id);

  std::filesystem::path root_;
  // Open descriptors of recently read blobs: a small-blob GET then costs no open(2).
  LruCache<std::string, BlobReader> openBlobs_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<HashState>> hashes_;
  friend class FsUploadWriter;
};

}  // namespace berth::storage
