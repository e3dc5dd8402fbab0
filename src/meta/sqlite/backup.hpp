#pragma once
// What a backup of the embedded default needs of its SQLite database: a consistent copy taken
// while the server writes (SQLite's online backup API), the blobs that copy knows, and a copy
// made fit to serve from a new data directory.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace berth::meta::sqlite {

// Copies the database `from` into the new file `to`, as of one moment, while other processes
// go on reading and writing it.
Result<void> snapshotDatabase(const std::filesystem::path& from, const std::filesystem::path& to);

struct SnapshotRegistry {
  int64_t id = 0;
  std::string name;
  std::string storagePath;  // empty: under the data directory
};
Result<std::vector<SnapshotRegistry>> snapshotRegistries(const std::filesystem::path& db);

struct SnapshotBlob {
  std::string digest;
  uint64_t size = 0;
  bool referenced = false;  // a manifest (or a soft-deleted one) refers to it
};
// Every blob of a registry in the database, one at a time.
Result<void> forEachSnapshotBlob(const std::filesystem::path& db, int64_t registry,
                                 const std::function<Result<void>(const SnapshotBlob&)>& visit);
// Drops blobs no manifest refers to, which garbage collection removed while the backup ran
// (one transaction).
Result<void> forgetSnapshotBlobs(const std::filesystem::path& db, int64_t registry,
                                 const std::vector<SnapshotBlob>& blobs);

// Makes a restored database serve from its new data directory: upload sessions (whose files
// are not in a backup) are dropped, every registry keeps its blobs under the data directory,
// and SQLite's integrity check must pass.
Result<void> prepareRestoredDatabase(const std::filesystem::path& db);

}  // namespace berth::meta::sqlite
