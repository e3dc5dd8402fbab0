#pragma once
// The SQLite IdentityStore, in the same database file as the SQLite MetadataStore.
#include <filesystem>

#include "meta/identity_store.hpp"

namespace berth::meta {

Result<IdentityStorePtr> openSqliteIdentityStore(const std::filesystem::path& file);

}  // namespace berth::meta
