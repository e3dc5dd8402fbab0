#pragma once
// The SQLite EventStore, in the same database file as the SQLite MetadataStore.
#include <filesystem>
#include <memory>

#include "core/disk_reserve.hpp"
#include "meta/event_store.hpp"

namespace berth::meta {

Result<EventStorePtr> openSqliteEventStore(const std::filesystem::path& file,
                                           std::shared_ptr<DiskReserve> reserve = nullptr);

}  // namespace berth::meta
