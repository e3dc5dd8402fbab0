#pragma once
// The SQLite IdentityStore, in the same database file as the SQLite MetadataStore.
#include <filesystem>
#include <memory>

#include "core/disk_reserve.hpp"
#include "meta/identity_store.hpp"

namespace berth::meta {

Result<IdentityStorePtr> openSqliteIdentityStore(const std::filesystem::path& file,
                                                 std::shared_ptr<DiskReserve> reserve = nullptr);

}  // namespace berth::meta
