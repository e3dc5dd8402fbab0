#pragma once
// BlobStore: content-addressed, immutable blobs and the upload sessions that create them.
// All registry semantics (which repository sees which blob) live above this interface.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace berth::storage {

struct BlobInfo {
  std::string digest;
  uint64_t size = 0;
};

// A blob as the store holds it, for the garbage collector's sweep of files no metadata knows.
struct StoredBlob {
  std::string digest;
  uint64_t size = 0;
  int64_t modified = 0;  // seconds since the epoch
};

using ByteSink = std::function<bool(const char*, size_t)>;  // false: stop

// An open blob. The filesystem driver hands out a descriptor so bytes leave with sendfile(2).
// Blobs are immutable, so one descriptor may serve many readers at once (with pread or
// sendfile at an explicit offset, never moving the file position). Object stores hand out a
// fetch that streams a range from the store (blocking).
struct BlobReader {
  std::shared_ptr<const UniqueFd> fd;
  uint64_t size = 0;
  std::function<Result<void>(uint64_t first, uint64_t length, const ByteSink& sink)> fetch;
};

// Bytes first..first+length-1 of an open blob to `sink`, however the store holds them.
Result<void> readBlob(const BlobReader& blob, uint64_t first, uint64_t length,
                      const ByteSink& sink);

// Appends to one upload session; only one writer per session exists at a time.
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  virtual Result<void> write(const char* data, size_t size) = 0;
  // Whether writeFromPipe() moves bytes without a copy through user space (splice(2)), so that
  // a server should hand it a pipe filled from the socket rather than a buffer.
  virtual bool acceptsPipe() const { return false; }
  // Appends exactly `size` bytes waiting in the pipe `pipe`. This one reads them into a buffer
  // and calls write(); a driver that can splice overrides it.
  virtual Result<void> writeFromPipe(int pipe, size_t size);
  // Bytes in the session so far, including what this writer appended.
  virtual uint64_t size() const = 0;
  // Makes what this writer appended part of the session, for good: called once the request's
  // body has ended (whole or not). When it fails, the session is as it was before this writer.
  virtual Result<void> close() { return {}; }
  // Whether write() and close() may block on the network (an object store).
  virtual bool blocking() const { return false; }
};
using UploadWriterPtr = std::unique_ptr<UploadWriter>;

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Whether the store answers: its places exist and can be written (for /readyz).
  virtual Result<void> check() = 0;
  // Whether calls may block on the network (object stores): requests then make them on the
  // server's blocking pool.
  virtual bool blocking() const { return false; }
  virtual Result<std::optional<uint64_t>> stat(const Digest& digest) = 0;
  virtual Result<BlobReader> open(const Digest& digest) = 0;
  // open() for a caller that knows the blob's size already (from metadata). An object store
  // then asks the store nothing here; a blob gone from it fails the first fetch with
  // BlobUnknown instead.
  virtual Result<BlobReader> openSized(const Digest& digest, uint64_t size) {
    (void)size;
    return open(digest);
  }
  // With redirects on (object stores), a URL the client may read the blob from itself for a
  // few minutes; else "". Computed here, without a request to the store.
  virtual std::string readUrl(const Digest& digest) {
    (void)digest;
    return {};
  }
  virtual Result<void> remove(const Digest& digest) = 0;

  // `id` must satisfy isUuid(); drivers refuse anything else.
  virtual Result<void> createUpload(std::string_view id) = 0;
  virtual Result<uint64_t> uploadSize(std::string_view id) = 0;
  virtual Result<UploadWriterPtr> appendUpload(std::string_view id) = 0;
  // Appends the session's last bytes: the request carrying them names the blob's digest (a PUT
  // ?digest= with a body, a monolithic POST ?digest=), and verifyUpload follows. A store may
  // then write a session that receives all its bytes here straight to the blob's place, after
  // checking them against `digest` (close() fails with DigestInvalid and keeps nothing when
  // they do not match). Otherwise it is appendUpload.
  virtual Result<UploadWriterPtr> appendLast(std::string_view id, const Digest& digest) {
    (void)digest;
    return appendUpload(id);
  }
  // Verifies the session's content against `expected` and makes it durable. The session
  // stays until placeUpload or cancelUpload.
  virtual Result<BlobInfo> verifyUpload(std::string_view id, const Digest& expected) = 0;
  // Makes a verified session the blob, atomically; when the store holds the blob already, the
  // session's copy is dropped. Runs inside the metadata transaction that links the blob.
  // Object stores, whose copies take a round trip or more, put the bytes at the blob's
  // content-addressed place in verifyUpload already (unlinked, it is garbage a collection
  // removes after its grace) and only drop the session here.
  virtual Result<void> placeUpload(std::string_view id, const Digest& digest) = 0;
  // verifyUpload, then placeUpload.
  Result<BlobInfo> commitUpload(std::string_view id, const Digest& expected) {
    auto info = verifyUpload(id, expected);
    if (!info) return info;
    if (auto placed = placeUpload(id, expected); !placed) return placed.takeError();
    return info;
  }
  virtual Result<void> cancelUpload(std::string_view id) = 0;

  // For garbage collection: sessions nothing has written to since `before` (seconds since the
  // epoch), at most `limit`; and every stored blob, until `visit` returns false.
  virtual Result<std::vector<std::string>> staleUploads(int64_t before, size_t limit) = 0;
  virtual Result<void> forEachBlob(const std::function<bool(const StoredBlob&)>& visit) = 0;
};
using BlobStorePtr = std::unique_ptr<BlobStore>;

}  // namespace berth::storage
