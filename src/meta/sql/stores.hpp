#pragma once
// berth's stores on a SQL database (src/meta/sql/database.hpp): SQLite or PostgreSQL, one
// implementation of each store for both.
#include <memory>

#include "meta/event_store.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/upstream_store.hpp"

namespace berth::meta {

namespace sql {
class Database;
using DatabasePtr = std::shared_ptr<Database>;
}  // namespace sql

MetadataStorePtr makeSqlStore(sql::DatabasePtr db);
IdentityStorePtr makeSqlIdentityStore(sql::DatabasePtr db);
EventStorePtr makeSqlEventStore(sql::DatabasePtr db);
UpstreamStorePtr makeSqlUpstreamStore(sql::DatabasePtr db);

// The four stores on one database, sharing its connections.
struct Stores {
  MetadataStorePtr meta;
  IdentityStorePtr identities;
  EventStorePtr events;
  UpstreamStorePtr upstreams;
};
Stores makeSqlStores(const sql::DatabasePtr& db);

}  // namespace berth::meta
