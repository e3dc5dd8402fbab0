#pragma once
// Backup and restore of the embedded default (SQLite and blobs on the local file system), while
// the server runs: `berth admin backup` and `berth admin restore`.
//
// A backup is a directory: berth.db (a copy of the database as of one moment, taken with
// SQLite's online backup API), registries/<name>/ (every blob that copy knows, each re-hashed
// against its digest as it is written), operator-token, and backup.json, written last, which
// marks the backup complete. The database is copied first and the blobs after it, so every
// manifest in the backup finds its blobs: a blob is never removed while a manifest refers to it,
// and garbage collection keeps what a manifest stopped referring to for gc_grace_seconds. A blob
// that vanished meanwhile is left out if nothing refers to it, and fails the backup otherwise.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/tenancy.hpp"
#include "core/result.hpp"

namespace berth::app {

struct BackupRegistry {
  std::string name;
  uint64_t blobs = 0;
  uint64_t bytes = 0;
  uint64_t leftOut = 0;  // unreferenced blobs garbage collection removed during the backup
};

struct BackupReport {
  std::filesystem::path path;
  std::vector<BackupRegistry> registries;
  double seconds = 0;
};

// `out` must not exist, or be an empty directory. Blobs are copied into it from wherever the
// registries keep them, object stores included.
Result<BackupReport> backupDataDirectory(const std::filesystem::path& dataDir,
                                         const std::filesystem::path& out,
                                         const ServerStorage& storage = {});

// Makes `dataDir` (which must not exist, or be empty) a data directory holding what the backup
// at `from` holds; every blob is verified against its digest on the way. Registries whose blobs
// lived in a directory of their own keep them under the new data directory; registries in an
// object store get them back there.
Result<BackupReport> restoreDataDirectory(const std::filesystem::path& from,
                                          const std::filesystem::path& dataDir,
                                          const ServerStorage& storage = {});

}  // namespace berth::app
