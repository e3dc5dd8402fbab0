#include "storage/fs/fs_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/disk_reserve.hpp"
#include "core/log.hpp"
#include "core/random.hpp"

namespace berth::storage {
namespace fs = std::filesystem;
namespace {

Error ioError(std::string_view what, const fs::path& path, int err = errno) {
  log::error("storage i/o failed",
             {{"op", what}, {"path", path.string()}, {"error", std::strerror(err)}});
  if (isNoSpace(err)) return makeError(ApiCode::InsufficientStorage, "blob store: disk full");
  return makeError(ApiCode::Unknown, "storage error");
}

Error uploadUnknown() { return makeError(ApiCode::BlobUploadUnknown); }

Result<void> fsyncPath(const fs::path& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) return ioError("open for fsync", path);
  if (::fsync(fd.get()) != 0) return ioError("fsync", path);
  return {};
}

Result<void> writeAt(int fd, const char* data, size_t size, uint64_t offset, const fs::path& path) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("write", path);
    }
    data += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

class FsUploadWriter final : public UploadWriter {
 public:
  FsUploadWriter(FsBlobStore& store, std::string id, fs::path path, UniqueFd fd, uint64_t size,
                 std::shared_ptr<FsBlobStore::HashState> state)
      : store_(store),
        id_(std::move(id)),
        path_(std::move(path)),
        fd_(std::move(fd)),
        size_(size),
        state_(std::move(state)) {}
  ~FsUploadWriter() override { store_.release(id_); }

  Result<void> write(const char* data, size_t size) override {
    return append(size, data, [&] { return writeAt(fd_.get(), data, size, size_, path_); });
  }

  // splice(2) moves the socket's pages into the page cache: one copy fewer than read + write.
  // The hash then comes from the file (the pool, or commit for the tail), never from here.
  bool acceptsPipe() const override { return true; }
  Result<void> writeFromPipe(int pipe, size_t size) override {
    return append(size, nullptr, [&]() -> Result<void> {
      auto offset = static_cast<loff_t>(size_);
      size_t left = size;
      while (left > 0) {
        const ssize_t n = ::splice(pipe, nullptr, fd_.get(), &offset, left, SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EINVAL && left == size) {
          // A file system that takes no splice: the pipe still holds every byte.
          return UploadWriter::writeFromPipe(pipe, size);
        }
        if (n < 0) return ioError("splice", path_);
        if (n == 0)
          return makeError(ApiCode::Unknown, "request body lost between socket and store");
        left -= static_cast<size_t>(n);
      }
      return {};
    });
  }
  uint64_t size() const override { return size_; }

 private:
  // Appends `size` bytes with `put`, keeping the running hash's bookkeeping: `data` is the
  // bytes in memory, or null when they go from a pipe straight to the file.
  template <class Put>
  Result<void> append(size_t size, const char* data, Put&& put) {
    const auto pool = HashPool::current();
    // The running hash continues only while it describes every byte before these.
    bool chained = false;
    bool hashHere = false;
    {
      std::lock_guard lock(state_->mutex);
      chained =
          !state_->stopped && state_->hashed != HashState::kInvalid && state_->written == size_;
      // The request hashes as it writes (the claim makes the hasher its own) when no pool
      // thread has the session and nothing is left for one, and either there is no pool or
      // the session is still small; else the pool or, at the end, commit hashes what is left.
      hashHere = data != nullptr && chained && !state_->queued && state_->hashed == size_ &&
                 (!pool->enabled() || size_ + size <= HashPool::kInlineBytes);
    }
    if (hashHere) state_->hasher.update(data, size);
    auto written = put();
    bool submit = false;
    {
      std::lock_guard lock(state_->mutex);
      if (!written) {
        // The file may hold part of this chunk: the running hash no longer describes it.
        state_->hashed = HashState::kInvalid;
      } else if (chained) {
        state_->written = size_ + size;
        if (hashHere) {
          state_->hashed = state_->written;
        } else if (pool->enabled() && !state_->queued) {
          state_->queued = submit = true;
        }
      }
    }
    if (!written) return written;
    size_ += size;
    if (submit) pool->submit(state_);
    return {};
  }

  FsBlobStore& store_;
  std::string id_;
  fs::path path_;
  UniqueFd fd_;
  uint64_t size_;
  std::shared_ptr<FsBlobStore::HashState> state_;
};

Result<BlobStorePtr> FsBlobStore::open(const fs::path& root, size_t openBlobs) {
  std::error_code ec;
  fs::create_directories(root / "blobs", ec);
  if (!ec) fs::create_directories(root / "uploads", ec);
  if (ec) return ioError("create directories", root, ec.value());
  return BlobStorePtr(new FsBlobStore(root, openBlobs));
}

fs::path FsBlobStore::blobPath(const Digest& digest) const {
  const auto hex = digest.hex();
  return root_ / "blobs" / std::string(digest.algorithm()) / std::string(hex.substr(0, 2)) /
         std::string(hex);
}

Result<fs::path> FsBlobStore::uploadPath(std::string_view id) const {
  // The id comes from a request path: only our own uuid shape may become a file name.
  if (!isUuid(id)) return uploadUnknown();
  return root_ / "uploads" / std::string(id);
}

Result<void> FsBlobStore::check() {
  for (const char* part : {"blobs", "uploads"}) {
    const auto dir = root_ / part;
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return ioError("stat", dir);
    if (!S_ISDIR(st.st_mode)) return ioError("stat", dir, ENOTDIR);
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return ioError("access", dir);
  }
  return {};
}

Result<std::optional<uint64_t>> FsBlobStore::stat(const Digest& digest) {
  const auto path = blobPath(digest);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<uint64_t>{};
    return ioError("stat", path);
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(st.st_size));
}

Result<BlobReader> FsBlobStore::open(const Digest& digest) {
  if (auto cached = openBlobs_.get(digest.str())) return std::move(*cached);
  const auto path = blobPath(digest);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return makeError(ApiCode::BlobUnknown);
    return ioError("open", path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ioError("fstat", path);
  BlobReader reader{std::make_shared<const UniqueFd>(std::move(fd)),
                    static_cast<uint64_t>(st.st_size)};
  openBlobs_.put(digest.str(), reader);
  return reader;
}

Result<void> FsBlobStore::remove(const Digest& digest) {
  openBlobs_.erase(digest.str());
  const auto path = blobPath(digest);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ioError("unlink", path);
  return {};
}

Result<void> FsBlobStore::createUpload(std::string_view id) {
  auto path = uploadPath(id);
  if (!path) return path.takeError();
  UniqueFd fd(::open(path->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!fd) return ioError("create upload", *path);
  auto state = std::make_shared<HashState>();
  state->file = *path;
  std::lock_guard lock(mutex_);
  hashes_[std::string(id)] = std::move(state);
  return {};
}

Result<uint64_t> FsBlobStore::uploadSize(std::string_view id) {
  auto path = uploadPath(id);
  if (!path) return path.takeError();
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0) {
    if (errno == ENOENT) return uploadUnknown();
    return ioError("stat upload", *path);
  }
  return static_cast<uint64_t>(st.st_size);
}

std::shared_ptr<FsBlobStore::HashState> FsBlobStore::claim(std::string_view id, bool& busy) {
  std::lock_guard lock(mutex_);
  auto& state = hashes_[std::string(id)];
  if (!state) {
    // A session this process did not create (it ran before a restart): no running hash.
    state = std::make_shared<HashState>();
    if (auto path = uploadPath(id)) state->file = *path;
    state->hashed = HashState::kInvalid;
  }
  busy = state->busy;
  if (!busy) state->busy = true;
  return state;
}

void FsBlobStore::release(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = hashes_.find(std::string(id));
  if (it != hashes_.end()) it->second->busy = false;
}

Result<UploadWriterPtr> FsBlobStore::appendUpload(std::string_view id) {
  auto path = uploadPath(id);
  if (!path) return path.takeError();
  // No O_APPEND: splice(2) refuses a file opened so. The writer writes at its own offset, and
  // the claim makes it the only one.
  UniqueFd fd(::open(path->c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return uploadUnknown();
    return ioError("open upload", *path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ioError("fstat upload", *path);
  bool busy = false;
  auto state = claim(id, busy);
  if (busy) {
    return makeError(ApiCode::BlobUploadInvalid, "another request is writing to this upload", 409);
  }
  return UploadWriterPtr(new FsUploadWriter(*this, std::string(id), *path, std::move(fd),
                                            static_cast<uint64_t>(st.st_size), std::move(state)));
}

// Claims a session for one operation; the claim ends with the scope.
class FsBlobStore::Claim {
 public:
  Claim(FsBlobStore& store, std::string_view id) : store_(store), id_(id) {
    state_ = store.claim(id, busy_);
  }
  ~Claim() {
    if (!busy_) store_.release(id_);
  }
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;
  bool busy() const { return busy_; }
  HashState& state() { return *state_; }

 private:
  FsBlobStore& store_;
  std::string_view id_;
  bool busy_ = false;
  std::shared_ptr<HashState> state_;
};

namespace {

Error busyUpload() {
  return makeError(ApiCode::BlobUploadInvalid, "another request is writing to this upload", 409);
}

}  // namespace

Result<BlobInfo> FsBlobStore::verifyUpload(std::string_view id, const Digest& expected) {
  auto path = uploadPath(id);
  if (!path) return path.takeError();
  UniqueFd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return uploadUnknown();
    return ioError("open upload", *path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ioError("fstat upload", *path);
  const auto size = static_cast<uint64_t>(st.st_size);

  Claim claim(*this, id);
  if (claim.busy()) return busyUpload();
  auto& state = claim.state();
  const auto algorithm = Hasher::forName(expected.algorithm()).value_or(Hasher::Algorithm::Sha256);
  // The pool stops hashing the session; what it has not reached yet is hashed here.
  HashPool::takeOver(state);
  bool running = false;
  uint64_t offset = 0;
  {
    std::lock_guard lock(state.mutex);
    running = algorithm == Hasher::Algorithm::Sha256 && state.hashed != HashState::kInvalid &&
              state.written == size && state.hashed <= size;
    if (running) offset = state.hashed;
  }
  // No usable running hash (restart, failed write, sha512): read the whole session back.
  Hasher fresh(algorithm);
  Hasher& hasher = running ? state.hasher : fresh;
  std::vector<char> buffer(static_cast<size_t>(std::min<uint64_t>(size - offset, 1 << 20)));
  while (offset < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(size - offset, buffer.size()));
    const ssize_t n = ::pread(fd.get(), buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("read upload", *path);
    if (n == 0) return ioError("read upload", *path, EIO);  // shorter than it was a moment ago
    hasher.update(buffer.data(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  const std::string actual = hasher.finish();
  // The running hash is consumed: should this commit fail, the next one re-reads the file.
  {
    std::lock_guard lock(state.mutex);
    state.hasher = Hasher();
    state.hashed = size == 0 ? 0 : HashState::kInvalid;
  }
  if (actual != expected.str()) {
    return makeError(ApiCode::DigestInvalid,
                     "content digest " + actual + " does not match " + expected.str());
  }
  // Durable before it becomes the blob, and outside the metadata transaction that places it.
  if (::fsync(fd.get()) != 0) return ioError("fsync upload", *path);
  return BlobInfo{expected.str(), size};
}

Result<void> FsBlobStore::placeUpload(std::string_view id, const Digest& digest) {
  auto path = uploadPath(id);
  if (!path) return path.takeError();
  Claim claim(*this, id);
  if (claim.busy()) return busyUpload();
  const auto target = blobPath(digest);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) return ioError("create blob directory", target.parent_path(), ec.value());
  struct stat existing {};
  if (::stat(target.c_str(), &existing) == 0) {
    // Content-addressed: the same bytes are already stored.
    if (::unlink(path->c_str()) != 0) {
      if (errno == ENOENT) return uploadUnknown();
      return ioError("unlink upload", *path);
    }
  } else {
    if (::rename(path->c_str(), target.c_str()) != 0) {
      if (errno == ENOENT) return uploadUnknown();
      return ioError("rename upload", target);
    }
    if (auto synced = fsyncPath(target.parent_path(), O_RDONLY | O_DIRECTORY); !synced) {
      return synced.takeError();
    }
  }
  std::lock_guard lock(mutex_);
  hashes_.erase(std::string(id));
  return {};
}

Result<void> FsBlobStore::cancelUpload(std::string_view id) {
  auto path = uploadPath(id);
  if (!path) return path.takeError();
  if (::unlink(path->c_str()) != 0) {
    if (errno == ENOENT) return uploadUnknown();
    return ioError("unlink upload", *path);
  }
  std::lock_guard lock(mutex_);
  hashes_.erase(std::string(id));
  return {};
}

}  // namespace berth::storage

namespace berth::storage {

Result<std::vector<std::string>> FsBlobStore::staleUploads(int64_t before, size_t limit) {
  std::vector<std::string> out;
  const auto dir = root_ / "uploads";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && out.size() < limit;
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!isUuid(name)) continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;  // removed meanwhile
    if (st.st_mtime >= before) continue;
    {
      std::lock_guard lock(mutex_);
      auto state = hashes_.find(name);
      if (state != hashes_.end() && state->second->busy) continue;  // being written now
    }
    out.push_back(name);
  }
  if (ec) return ioError("list uploads", dir, ec.value());
  return out;
}

Result<void> FsBlobStore::forEachBlob(const std::function<bool(const StoredBlob&)>& visit) {
  const auto base = root_ / "blobs";
  std::error_code ec;
  for (fs::directory_iterator algorithms(base, ec), end; !ec && algorithms != end;
       algorithms.increment(ec)) {
    const auto algorithm = algorithms->path().filename().string();
    for (fs::directory_iterator prefixes(algorithms->path(), ec); !ec && prefixes != end;
         prefixes.increment(ec)) {
      for (fs::directory_iterator files(prefixes->path(), ec); !ec && files != end;
           files.increment(ec)) {
        // Only files named as blobs are: anything else was not put there by berth.
        auto digest = Digest::parse(algorithm + ":" + files->path().filename().string());
        if (!digest || blobPath(*digest) != files->path()) continue;
        struct stat st {};
        if (::stat(files->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (!visit(StoredBlob{digest->str(), static_cast<uint64_t>(st.st_size),
                              static_cast<int64_t>(st.st_mtime)})) {
          return {};
        }
      }
    }
  }
  if (ec) return ioError("list blobs", base, ec.value());
  return {};
}

}  // namespace berth::storage
