#pragma once
// What the object store driver needs of a store: objects, ranges, uploads in parts, server-side
// copies, listings and read URLs. S3Client and AzureClient provide it; ObjectBlobStore builds
// the BlobStore on it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace berth::storage::object {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  int64_t modified = 0;  // seconds since the epoch
};

class ObjectApi {
 public:
  virtual ~ObjectApi() = default;

  // One listing under the store's prefix: whether the store exists and the credentials may
  // read it, in one line naming the problem when not.
  virtual Result<void> probe() = 0;

  virtual Result<std::optional<uint64_t>> head(const std::string& key) = 0;
  virtual Result<void> put(const std::string& key, std::string_view body) = 0;
  virtual Result<void> putFile(const std::string& key, int fd, uint64_t offset,
                               uint64_t length) = 0;
  // Nothing when the object does not exist; bodies larger than `limit` are an error.
  virtual Result<std::optional<std::string>> getSmall(const std::string& key, size_t limit) = 0;
  // Bytes first..first+length-1 to `onData` (return false to stop); with length kToEnd, every
  // byte from `first` on (from 0: the whole object, asked for without a range).
  static constexpr uint64_t kToEnd = UINT64_MAX;
  virtual Result<void> get(const std::string& key, uint64_t first, uint64_t length,
                           const std::function<bool(const char*, size_t)>& onData) = 0;
  // Deleting what does not exist succeeds.
  virtual Result<void> remove(const std::string& key) = 0;

  // An object written in numbered parts (1, 2, ...), then completed into one: S3's multipart
  // uploads, Azure's blocks. beginParts names the upload; sendPart returns what completeParts
  // needs of the part (its ETag, its block id).
  virtual Result<std::string> beginParts(const std::string& key) = 0;
  virtual Result<std::string> sendPart(const std::string& key, const std::string& upload,
                                       int number, int fd, uint64_t offset, uint64_t length) = 0;
  virtual Result<void> completeParts(const std::string& key, const std::string& upload,
                                     const std::vector<std::pair<int, std::string>>& parts) = 0;
  virtual Result<void> abortParts(const std::string& key, const std::string& upload) = 0;
  // Whether uploads in parts to the same key go on side by side, each completed or aborted on
  // its own (S3's multipart uploads). Azure's uncommitted blocks belong to the blob: committing
  // one block list discards every block not in it, another upload's too.
  virtual bool separateParts() const = 0;

  // A copy made by the store itself of `from` (of `size` bytes) to `to`.
  virtual Result<void> copy(const std::string& from, const std::string& to, uint64_t size) = 0;

  // Every object under `prefix`, in key order, until `visit` returns false; `pageSize` keys
  // per request.
  virtual Result<void> list(const std::string& prefix,
                            const std::function<bool(const ObjectInfo&)>& visit,
                            int pageSize = 1000) = 0;

  // A URL that GETs `key` without credentials for `seconds`.
  virtual std::string readUrl(const std::string& key, int64_t seconds) const = 0;
};

}  // namespace berth::storage::object
