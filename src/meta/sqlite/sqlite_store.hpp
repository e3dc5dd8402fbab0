#pragma once
// The SQLite MetadataStore (WAL): one database file, a pool of connections so that readers on
// different threads do not wait for one another.
#include <filesystem>
#include <memory>

#include "core/disk_reserve.hpp"
#include "meta/metadata_store.hpp"

namespace berth::meta {

// Opens (creating when missing) the database at `file` and brings its schema up to date.
// `reserve`: released when the disk is too full to delete (see sqlite::Database::freeing).
Result<MetadataStorePtr> openSqliteStore(const std::filesystem::path& file,
                                         std::shared_ptr<DiskReserve> reserve = nullptr);

}  // namespace berth::meta
