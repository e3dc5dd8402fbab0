#pragma once
// A preallocated spare file on the data file system, released when the disk is full so that
// what frees space (deleting a manifest, a repository, an upload) and starting up still have
// room to write their metadata, and made again once space is back.
#include <cstdint>
#include <filesystem>
#include <mutex>

namespace berth {

class DiskReserve {
 public:
  // `bytes` 0 keeps no reserve.
  DiskReserve(std::filesystem::path file, uint64_t bytes);

  // Makes the file when it is missing and the file system has room for it and as much again
  // besides; true when the reserve is in place afterwards.
  bool restore();
  // Deletes the file; true when that freed space (it existed).
  bool release();
  bool held() const;
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  uint64_t bytes_;
  mutable std::mutex mutex_;
};

// True for the errno values of a file system that is full (or a quota that is exhausted).
bool isNoSpace(int err);

}  // namespace berth
