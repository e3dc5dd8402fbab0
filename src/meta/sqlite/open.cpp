// The stores on SQLite: each opener opens the database file (creating it and its schema).
#include "meta/sql/stores.hpp"
#include "meta/sqlite/database.hpp"
#include "meta/sqlite/identity_store.hpp"
#include "meta/sqlite/sqlite_events.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "meta/sqlite/sqlite_upstreams.hpp"

namespace berth::meta {
namespace {

template <class Ptr>
Result<Ptr> openWith(const std::filesystem::path& file, std::shared_ptr<DiskReserve> reserve,
                     Ptr (*make)(sql::DatabasePtr)) {
  auto db = sqlite::Database::open(file, std::move(reserve));
  if (!db) return db.takeError();
  return make(std::move(*db));
}

}  // namespace

Result<MetadataStorePtr> openSqliteStore(const std::filesystem::path& file,
                                         std::shared_ptr<DiskReserve> reserve) {
  return openWith(file, std::move(reserve), makeSqlStore);
}

Result<IdentityStorePtr> openSqliteIdentityStore(const std::filesystem::path& file,
                                                 std::shared_ptr<DiskReserve> reserve) {
  return openWith(file, std::move(reserve), makeSqlIdentityStore);
}

Result<EventStorePtr> openSqliteEventStore(const std::filesystem::path& file,
                                           std::shared_ptr<DiskReserve> reserve) {
  return openWith(file, std::move(reserve), makeSqlEventStore);
}

Result<UpstreamStorePtr> openSqliteUpstreamStore(const std::filesystem::path& file,
                                                 std::shared_ptr<DiskReserve> reserve) {
  return openWith(file, std::move(reserve), makeSqlUpstreamStore);
}

}  // namespace berth::meta
