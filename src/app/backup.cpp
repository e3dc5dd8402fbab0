#include "app/backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <fstream>

#include "app/tenancy.hpp"
#include "core/digest.hpp"
#include "core/random.hpp"
#include "core/unique_fd.hpp"
#include "core/version.hpp"
#include "meta/sqlite/backup.hpp"
#include "storage/fs/fs_blob_store.hpp"

namespace berth::app {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMarker = "backup.json";

Error failure(std::string detail) { return makeError(ApiCode::Unknown, std::move(detail)); }

// `dir` must be absent or empty; it is created, readable by its owner only.
Result<void> freshDirectory(const fs::path& dir, std::string_view what) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
      return failure(std::string(what) + " " + dir.string() + " exists and is not empty");
    }
  } else if (!fs::create_directories(dir, ec) && ec) {
    return failure("cannot create " + dir.string() + ": " + ec.message());
  }
  ::chmod(dir.c_str(), 0700);
  return {};
}

// Writes a blob read from `reader` into `to` as `digest`, hashing it on the way: what arrives
// is what the digest names, or the copy fails. Memory: one chunk.
Result<void> copyBlob(const storage::BlobReader& reader, storage::BlobStore& to,
                      const Digest& digest) {
  if (auto there = to.stat(digest); there && *there) return {};
  const std::string id = newUuid();
  if (auto r = to.createUpload(id); !r) return r;
  auto done = [&](Result<void> r) -> Result<void> {
    if (!r) (void)to.cancelUpload(id);
    return r;
  };
  auto writer = to.appendLast(id, digest);
  if (!writer) return done(writer.takeError());
  Result<void> written;
  auto read = storage::readBlob(reader, 0, reader.size, [&](const char* data, size_t size) {
    written = (*writer)->write(data, size);
    return written.ok();
  });
  if (!written) return done(written);
  if (!read) return done(failure("cannot read blob " + digest.str() + ": " + read.error().detail));
  auto closed = (*writer)->close();
  writer->reset();
  // A store that places the bytes as they arrive checks them when the writer closes.
  auto committed = closed ? to.commitUpload(id, digest) : Result<storage::BlobInfo>(closed.error());
  if (!committed && committed.error().code == ApiCode::DigestInvalid) {
    return done(failure("blob " + digest.str() +
                        " does not match its digest: " + committed.error().detail));
  }
  if (!committed) {
    return done(failure("cannot store blob " + digest.str() + ": " + committed.error().detail));
  }
  return {};
}

// On disk, not only in the page cache: before the marker says the backup is whole.
Result<void> sync(const fs::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) {
    return failure("cannot sync " + file.string() + ": " + std::strerror(errno));
  }
  return {};
}

// Copies a file readable by its owner only (the database, the operator token).
Result<void> copyFile(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return failure("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
  }
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, ec);
  return sync(to);
}

// The operator token, and the key that seals the secrets in the database (webhooks'), go with
// the data, when they are in the directory: without the key a restored database's secrets
// would not open.
Result<void> copyKeys(const fs::path& fromDir, const fs::path& toDir) {
  for (const char* name : {"operator-token", "secret.key"}) {
    std::error_code ec;
    if (!fs::exists(fromDir / name, ec)) continue;
    if (auto r = copyFile(fromDir / name, toDir / name); !r) return r;
  }
  return {};
}

// Copies the blobs of one registry that the database at `db` knows from `from` to `to`. A blob
// absent from `from` fails the copy, unless `forgetUnreferenced` and nothing refers to it: it
// is then dropped from `db` (garbage collection removed it after the database was copied).
Result<BackupRegistry> copyRegistry(const fs::path& db, const meta::sqlite::SnapshotRegistry& r,
                                    storage::BlobStore& from, storage::BlobStore& to,
                                    bool forgetUnreferenced) {
  BackupRegistry out{r.name};
  std::vector<meta::sqlite::SnapshotBlob> forget;
  auto copied = meta::sqlite::forEachSnapshotBlob(
      db, r.id, [&](const meta::sqlite::SnapshotBlob& blob) -> Result<void> {
        auto digest = Digest::parse(blob.digest);
        if (!digest) return failure("invalid digest in the database: " + blob.digest);
        auto reader = from.open(*digest);
        if (!reader) {
          if (reader.error().code != ApiCode::BlobUnknown) return reader.takeError();
          if (forgetUnreferenced && !blob.referenced) {
            forget.push_back(blob);
            return {};
          }
          return failure(
              "blob " + blob.digest + " of registry " + r.name + " is missing" +
              (forgetUnreferenced ? " although a manifest refers to it" : " from the backup"));
        }
        if (reader->size != blob.size) {
          return failure("blob " + blob.digest + " of registry " + r.name + " has " +
                         std::to_string(reader->size) + " bytes, the database says " +
                         std::to_string(blob.size));
        }
        if (auto c = copyBlob(*reader, to, *digest); !c) return c;
        ++out.blobs;
        out.bytes += blob.size;
        return {};
      });
  if (!copied) return copied.takeError();
  if (auto f = meta::sqlite::forgetSnapshotBlobs(db, r.id, forget); !f) return f.takeError();
  out.leftOut = forget.size();
  return out;
}

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Result<BackupReport> backupDataDirectory(const fs::path& dataDir, const fs::path& out,
                                         const ServerStorage& storage) {
  const auto started = std::chrono::steady_clock::now();
  const fs::path live = dataDir / "berth.db";
  std::error_code ec;
  if (!fs::exists(live, ec)) return failure("no berth database in " + dataDir.string());
  if (auto r = freshDirectory(out, "backup directory"); !r) return r.takeError();
  const fs::path db = out / "berth.db";
  if (auto r = meta::sqlite::snapshotDatabase(live, db); !r) return r.takeError();
  ::chmod(db.c_str(), 0600);
  auto registries = meta::sqlite::snapshotRegistries(db);
  if (!registries) return registries.takeError();
  BackupReport report{out};
  for (const auto& r : *registries) {
    meta::RegistrySettings settings;
    settings.name = r.name;
    settings.storagePath = r.storagePath;
    auto from = openRegistryStore(dataDir, storage, settings);
    if (!from) return from.takeError();
    auto to = storage::FsBlobStore::open(out / "registries" / r.name, 0);
    if (!to) return to.takeError();
    auto copied = copyRegistry(db, r, **from, **to, true);
    if (!copied) return copied.takeError();
    report.registries.push_back(std::move(*copied));
  }
  if (auto c = copyKeys(dataDir, out); !c) return c.takeError();
  if (auto s = sync(db); !s) return s.takeError();
  // Last: its presence says the backup is whole; written aside, then renamed into place.
  boost::json::array listed;
  for (const auto& r : report.registries) {
    listed.push_back(boost::json::object{{"name", r.name}, {"blobs", r.blobs}, {"bytes", r.bytes}});
  }
  const boost::json::object marker{
      {"format", 1},
      {"version", std::string(version())},
      {"commit", std::string(commit())},
      {"created", std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()},
      {"registries", listed}};
  const fs::path partial = out / (std::string(kMarker) + ".partial");
  {
    std::ofstream file(partial);
    file << boost::json::serialize(marker) << "\n";
    if (!file.flush()) return failure("cannot write " + partial.string());
  }
  if (auto s = sync(partial); !s) return s.takeError();
  fs::rename(partial, out / kMarker, ec);
  if (ec) return failure("cannot write " + (out / kMarker).string() + ": " + ec.message());
  report.seconds = since(started);
  return report;
}

Result<BackupReport> restoreDataDirectory(const fs::path& from, const fs::path& dataDir,
                                          const ServerStorage& storage) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!fs::exists(from / kMarker, ec)) {
    return failure(from.string() + " is not a complete berth backup (no " + kMarker + ")");
  }
  if (auto r = freshDirectory(dataDir, "data directory"); !r) return r.takeError();
  const fs::path db = dataDir / "berth.db";
  if (auto c = copyFile(from / "berth.db", db); !c) return c.takeError();
  if (auto r = meta::sqlite::prepareRestoredDatabase(db); !r) return r.takeError();
  auto registries = meta::sqlite::snapshotRegistries(db);
  if (!registries) return registries.takeError();
  BackupReport report{dataDir};
  for (const auto& r : *registries) {
    auto source = storage::FsBlobStore::open(from / "registries" / r.name, 0);
    if (!source) return source.takeError();
    meta::RegistrySettings settings;
    settings.name = r.name;
    settings.storagePath = r.storagePath;
    auto target = openRegistryStore(dataDir, storage, settings);
    if (!target) return target.takeError();
    auto copied = copyRegistry(db, r, **source, **target, false);
    if (!copied) return copied.takeError();
    report.registries.push_back(std::move(*copied));
  }
  if (auto c = copyKeys(from, dataDir); !c) return c.takeError();
  report.seconds = since(started);
  return report;
}

}  // namespace berth::app
