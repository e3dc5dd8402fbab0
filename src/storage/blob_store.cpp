#include "storage/blob_store.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>

namespace berth::storage {

Result<void> UploadWriter::writeFromPipe(int pipe, size_t size) {
  std::array<char, 64 * 1024> buffer;
  while (size > 0) {
    const ssize_t n = ::read(pipe, buffer.data(), std::min(size, buffer.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return makeError(ApiCode::Unknown, "request body lost between socket and store");
    if (auto r = write(buffer.data(), static_cast<size_t>(n)); !r) return r;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> readBlob(const BlobReader& blob, uint64_t first, uint64_t length,
                      const ByteSink& sink) {
  if (blob.fetch) return blob.fetch(first, length, sink);
  if (!blob.fd) return makeError(ApiCode::Unknown, "blob has no bytes to read");
  std::array<char, 256 * 1024> chunk;
  while (length > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length, chunk.size()));
    const ssize_t n = ::pread(blob.fd->get(), chunk.data(), want, static_cast<off_t>(first));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return makeError(ApiCode::Unknown, "blob shorter than its size");
    if (!sink(chunk.data(), static_cast<size_t>(n))) return {};
    first += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return {};
}

}  // namespace berth::storage
