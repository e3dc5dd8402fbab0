#pragma once
// The SQLite MetadataStore (WAL): one database file, a pool of connections so that readers on
// different threads do not wait for one another.
#include <filesystem>

#include "meta/metadata_store.hpp"

namespace berth::meta {

// Opens (creating when missing) the database at `file` and brings its schema up to date.
Result<MetadataStorePtr> openSqliteStore(const std::filesystem::path& file);

}  // namespace berth::meta
