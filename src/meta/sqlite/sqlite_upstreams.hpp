#pragma once
// The SQLite UpstreamStore, in the same database file as the SQLite MetadataStore.
#include <filesystem>
#include <memory>

#include "core/disk_reserve.hpp"
#include "meta/upstream_store.hpp"

namespace berth::meta {

Result<UpstreamStorePtr> openSqliteUpstreamStore(const std::filesystem::path& file,
                                                 std::shared_ptr<DiskReserve> reserve = nullptr);

}  // namespace berth::meta
