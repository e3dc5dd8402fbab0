#include "storage/blob_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <vector>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"

namespace berth::storage {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPartial = "partial";  // copies being written, under the cache's dir

const metrics::CacheCounters& lookups() {
  static const metrics::CacheCounters counters("object_blobs");
  return counters;
}

metrics::Gauge& cachedBytes() {
  static auto& gauge =
      metrics::gauges("berth_blob_cache_bytes",
                      "Bytes of blobs copied from object stores to this node's disk.")
          .with();
  return gauge;
}

}  // namespace

BlobCache::BlobCache(fs::path dir, uint64_t maxBytes, uint64_t keepFree)
    : dir_(std::move(dir)), maxBytes_(maxBytes), keepFree_(keepFree) {}

Result<std::shared_ptr<BlobCache>> BlobCache::open(const fs::path& dir, uint64_t maxBytes,
                                                   uint64_t keepFree) {
  std::error_code ec;
  fs::remove_all(dir / kPartial, ec);
  fs::create_directories(dir / kPartial, ec);
  if (ec) {
    return makeError(ApiCode::Unknown,
                     "blob cache: cannot make " + (dir / kPartial).string() + ": " + ec.message());
  }
  std::shared_ptr<BlobCache> cache(new BlobCache(dir, maxBytes, keepFree));
  // The copies of an earlier run, oldest first: they are the first evicted.
  struct Found {
    std::string digest;
    uint64_t size;
    fs::file_time_type written;
  };
  std::vector<Found> found;
  for (const char* algorithm : {"sha256", "sha512"}) {
    for (fs::directory_iterator it(dir / algorithm, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = algorithm + std::string(":") + it->path().filename().string();
      std::error_code statEc;
      const auto size = it->file_size(statEc);
      const auto written = it->last_write_time(statEc);
      if (!Digest::parse(name) || statEc) {
        fs::remove(it->path(), statEc);  // not a copy of berth's
        continue;
      }
      found.push_back({name, size, written});
    }
    ec.clear();
  }
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.written < b.written; });
  std::lock_guard lock(cache->mutex_);
  for (const auto& f : found) cache->insertLocked(f.digest, f.size);
  return cache;
}

fs::path BlobCache::pathOf(const std::string& digest) const {
  const auto colon = digest.find(':');
  return dir_ / digest.substr(0, colon) / digest.substr(colon + 1);
}

std::shared_ptr<const UniqueFd> BlobCache::find(const Digest& digest, uint64_t size) {
  {
    std::lock_guard lock(mutex_);
    auto it = index_.find(digest.str());
    if (it == index_.end() || it->second->size != size) {
      lookups().miss();
      return nullptr;
    }
    recent_.splice(recent_.begin(), recent_, it->second);
  }
  UniqueFd fd(::open(pathOf(digest.str()).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != size) {
    // Removed or cut short behind berth's back: forget it, the store still has the blob.
    erase(digest);
    lookups().miss();
    return nullptr;
  }
  lookups().hit();
  return std::make_shared<const UniqueFd>(std::move(fd));
}

std::unique_ptr<BlobCache::Fill> BlobCache::fill(const Digest& digest, uint64_t size) {
  if (size == 0 || size > maxBytes_ / 4) return nullptr;
  {
    std::lock_guard lock(mutex_);
    if (index_.contains(digest.str()) || !filling_.insert(digest.str()).second) return nullptr;
  }
  auto abandon = [&] {
    std::lock_guard lock(mutex_);
    filling_.erase(digest.str());
    return nullptr;
  };
  struct statvfs vfs {};
  if (::statvfs(dir_.c_str(), &vfs) != 0 ||
      static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize < size + keepFree_) {
    return abandon();
  }
  const fs::path temp = dir_ / kPartial / newUuid();
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) {
    log::warn("blob cache: cannot write a copy",
              {{"path", temp.string()}, {"error", std::strerror(errno)}});
    return abandon();
  }
  const auto algorithm = Hasher::forName(digest.algorithm());
  return std::unique_ptr<Fill>(new Fill(shared_from_this(), digest, size, std::move(fd), temp,
                                        algorithm.value_or(Hasher::Algorithm::Sha256)));
}

BlobCache::Fill::Fill(std::shared_ptr<BlobCache> cache, Digest digest, uint64_t size, UniqueFd fd,
                      fs::path temp, Hasher::Algorithm algorithm)
    : cache_(std::move(cache)),
      digest_(std::move(digest)),
      size_(size),
      fd_(std::move(fd)),
      temp_(std::move(temp)),
      hasher_(algorithm) {}

BlobCache::Fill::~Fill() {
  if (!done_) cache_->finished(*this, false);
}

bool BlobCache::Fill::add(const char* data, size_t size) {
  if (failed_ || done_) return false;
  if (written_ + size > size_) {
    failed_ = true;
    return false;
  }
  hasher_.update(data, size);
  while (size > 0) {
    const ssize_t n = ::write(fd_.get(), data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::warn("blob cache: a copy failed", {{"error", std::strerror(errno)}});
      failed_ = true;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  return true;
}

void BlobCache::Fill::finish() {
  if (done_) return;
  bool keep = !failed_ && written_ == size_;
  if (keep && hasher_.finish() != digest_.str()) {
    log::warn("blob cache: a blob read from the store does not match its digest",
              {{"digest", digest_.str()}});
    keep = false;
  }
  cache_->finished(*this, keep);
}

void BlobCache::finished(Fill& fill, bool keep) {
  fill.done_ = true;
  fill.fd_.reset();
  std::error_code ec;
  const std::string& digest = fill.digest_.str();
  if (keep) {
    const fs::path target = pathOf(digest);
    fs::create_directories(target.parent_path(), ec);
    if (!ec) fs::rename(fill.temp_, target, ec);
    if (ec) {
      log::warn("blob cache: cannot keep a copy",
                {{"path", target.string()}, {"error", ec.message()}});
      keep = false;
    }
  }
  if (!keep) fs::remove(fill.temp_, ec);
  std::lock_guard lock(mutex_);
  filling_.erase(digest);
  if (keep) insertLocked(digest, fill.size_);
}

void BlobCache::insertLocked(const std::string& digest, uint64_t size) {
  recent_.push_front({digest, size});
  index_.emplace(digest, recent_.begin());
  bytes_ += size;
  while (bytes_ > maxBytes_) dropLocked(std::prev(recent_.end()));
  cachedBytes().set(static_cast<int64_t>(bytes_));
}

void BlobCache::dropLocked(std::list<Entry>::iterator entry) {
  std::error_code ec;
  fs::remove(pathOf(entry->digest), ec);
  bytes_ -= entry->size;
  index_.erase(entry->digest);
  recent_.erase(entry);
  cachedBytes().set(static_cast<int64_t>(bytes_));
}

void BlobCache::erase(const Digest& digest) {
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(digest.str()); it != index_.end()) dropLocked(it->second);
}

uint64_t BlobCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace berth::storage
