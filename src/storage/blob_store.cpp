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

}  // namespace berth::storage
