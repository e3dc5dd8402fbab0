#include "core/disk_reserve.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.hpp"
#include "core/unique_fd.hpp"

namespace berth {

bool isNoSpace(int err) { return err == ENOSPC || err == EDQUOT; }

DiskReserve::DiskReserve(std::filesystem::path file, uint64_t bytes)
    : file_(std::move(file)), bytes_(bytes) {}

bool DiskReserve::held() const {
  std::lock_guard lock(mutex_);
  struct stat st {};
  return bytes_ > 0 && ::stat(file_.c_str(), &st) == 0 &&
         static_cast<uint64_t>(st.st_blocks) * 512 >= bytes_;
}

bool DiskReserve::restore() {
  if (bytes_ == 0) return false;
  std::lock_guard lock(mutex_);
  struct stat st {};
  if (::stat(file_.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_blocks) * 512 >= bytes_) {
    return true;
  }
  struct statvfs fs {};
  const auto dir = file_.parent_path();
  if (::statvfs(dir.c_str(), &fs) != 0) return false;
  const uint64_t available = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  // Taking the last free bytes for the reserve would only move the full disk earlier.
  if (available < 2 * bytes_) return false;
  UniqueFd fd(::open(file_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return false;
  const int rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes_));
  if (rc != 0) {
    ::unlink(file_.c_str());
    log::warn("cannot preallocate the disk reserve",
              {{"path", file_.string()}, {"error", std::strerror(rc)}});
    return false;
  }
  log::info("disk reserve in place", {{"path", file_.string()}, {"bytes", bytes_}});
  return true;
}

bool DiskReserve::release() {
  std::lock_guard lock(mutex_);
  if (bytes_ == 0 || ::unlink(file_.c_str()) != 0) return false;
  log::warn("disk full: released the disk reserve", {{"path", file_.string()}});
  return true;
}

}  // namespace berth
