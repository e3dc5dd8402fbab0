#pragma once
// The BlobStore on an object store (S3, Azure Blob): blobs at <prefix>/blobs/<alg>/<2 hex>/<hex>;
// an upload session is <prefix>/uploads/<id>/state (JSON: the upload in parts, its parts, the
// size, the running SHA-256) with the bytes in parts of <prefix>/uploads/<id>/data and, between
// requests, the last part's beginning in <prefix>/uploads/<id>/tail-<generation>. Everything
// of a session lives in the store: it survives a restart and may go on on another node.
// ADR 8 has the design.
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "storage/blob_cache.hpp"
#include "storage/blob_store.hpp"
#include "storage/object/http_client.hpp"
#include "storage/object/object_api.hpp"
#include "storage/store_url.hpp"

namespace berth::storage {

struct ObjectStoreOptions {
  uint64_t partSize = 16ull << 20;  // at least 5 MiB (S3's smallest part)
  // Where a part is gathered before it is sent (an unnamed file; page cache, not memory).
  std::filesystem::path spoolDir = std::filesystem::temp_directory_path();
  int64_t redirectSeconds = 300;  // validity of redirect URLs
  object::HttpOptions http;
  // The node's copies of blobs read whole (none when null): a blob read again is a local file.
  std::shared_ptr<BlobCache> cache;
};

class ObjectBlobStore final : public BlobStore {
 public:
  // With `probe`, lists the store once: a wrong bucket, container, endpoint or key is refused
  // here, in one line.
  static Result<BlobStorePtr> open(const StoreUrl& url, std::unique_ptr<object::ObjectApi> api,
                                   const ObjectStoreOptions& options, bool probe = true);

  bool blocking() const override { return true; }
  Result<void> check() override;
  Result<std::optional<uint64_t>> stat(const Digest& digest) override;
  Result<BlobReader> open(const Digest& digest) override;
  Result<BlobReader> openSized(const Digest& digest, uint64_t size) override;
  std::string readUrl(const Digest& digest) override;
  Result<void> remove(const Digest& digest) override;

  Result<void> createUpload(std::string_view id) override;
  Result<uint64_t> uploadSize(std::string_view id) override;
  Result<UploadWriterPtr> appendUpload(std::string_view id) override;
  // An empty session's bytes go straight to the blob's place: in one PUT, or (S3) in parts of
  // a multipart upload completed there once the hash matches. Nothing is copied.
  Result<UploadWriterPtr> appendLast(std::string_view id, const Digest& digest) override;
  Result<BlobInfo> verifyUpload(std::string_view id, const Digest& expected) override;
  Result<void> placeUpload(std::string_view id, const Digest& digest) override;
  Result<void> cancelUpload(std::string_view id) override;
  Result<std::vector<std::string>> staleUploads(int64_t before, size_t limit) override;
  Result<void> forEachBlob(const std::function<bool(const StoredBlob&)>& visit) override;

  struct Session;  // the state object, parsed

 private:
  ObjectBlobStore(const StoreUrl& url, std::unique_ptr<object::ObjectApi> api,
                  const ObjectStoreOptions& options);
  std::string key(std::string_view tail) const;
  std::string blobKey(const Digest& digest) const;
  std::string sessionKey(std::string_view id, std::string_view name) const;
  Result<std::optional<Session>> loadSession(std::string_view id);
  Result<void> saveSession(std::string_view id, const Session& session);
  // Removes what the session holds in the store, its state last.
  Result<void> drop(std::string_view id, const Session& session);
  Result<UploadWriterPtr> append(std::string_view id, std::optional<Digest> last);
  bool claim(std::string_view id);
  void release(std::string_view id);
  // A new spool file holding the session's tail.
  Result<UniqueFd> spoolTail(std::string_view id, const Session& session);
  // The session's bytes, whole, at its data key (completing the multipart upload).
  Result<void> assemble(std::string_view id, Session& session);

  StoreUrl url_;
  ObjectStoreOptions options_;
  std::unique_ptr<object::ObjectApi> api_;
  std::mutex mutex_;
  std::set<std::string, std::less<>> writing_;  // sessions with a writer in this process
  friend class ObjectUploadWriter;
};

}  // namespace berth::storage
