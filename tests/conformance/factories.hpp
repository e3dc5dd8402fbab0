#pragma once
// The databases the stores' contracts are typed over: SQLite (a file) and PostgreSQL (a
// database of its own on the suite's server, tests/support/postgres.hpp). A factory hands out
// its database (one per test), and another handle on it as another process or node has.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "core/random.hpp"
#include "meta/postgres/database.hpp"
#include "meta/sql/database.hpp"
#include "meta/sql/stores.hpp"
#include "meta/sqlite/database.hpp"
#include "support/postgres.hpp"

namespace berth::meta::testing {

template <class Self>
struct StoresOn {
  MetadataStorePtr meta() { return makeSqlStore(self().database()); }
  IdentityStorePtr identities() { return makeSqlIdentityStore(self().database()); }
  EventStorePtr events() { return makeSqlEventStore(self().database()); }
  UpstreamStorePtr upstreams() { return makeSqlUpstreamStore(self().database()); }
  // Stores on another handle: what another process (`berth admin`) or node writes through.
  IdentityStorePtr otherIdentities() { return makeSqlIdentityStore(self().another()); }
  MetadataStorePtr otherMeta() { return makeSqlStore(self().another()); }

  // Rows of `registry` in every table that has a registry_id column (and its registries row),
  // so that a table added later is covered without being named here.
  int64_t rowsOf(RegistryId registry) {
    auto db = self().database();
    auto c = db->lease();
    if (!c) return -1;
    std::vector<std::string> tables;
    {
      auto s = (*c)->prepare(
          db->dialect() == sql::Dialect::Sqlite
              ? "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS "
                "(SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'registry_id')"
              : "SELECT table_name FROM information_schema.columns WHERE column_name = "
                "'registry_id' AND table_schema = current_schema()");
      if (!s) return -1;
      while ((*s)->step() == sql::kRow) tables.push_back((*s)->text(0));
    }
    if (tables.size() < 12) return -1;
    tables.emplace_back("registries");
    int64_t rows = 0;
    for (const auto& table : tables) {
      // Statements are cached by the address of their text: each must stay where it is.
      static std::set<std::string> texts;
      const auto& sql = *texts
                             .insert("SELECT COUNT(*) FROM " + table + " WHERE " +
                                     (table == "registries" ? "id" : "registry_id") + " = ?")
                             .first;
      auto s = (*c)->prepare(sql.c_str());
      if (!s) return -1;
      (*s)->bind(1, registry);
      if ((*s)->step() != sql::kRow) return -1;
      rows += (*s)->integer(0);
    }
    return rows;
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }
};

struct SqliteFactory : StoresOn<SqliteFactory> {
  // A change through another handle is seen on the next read.
  static constexpr bool kSeenAtOnce = true;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("berth-db-" + newUuid());
  sql::DatabasePtr db;

  sql::DatabasePtr database() {
    if (!db) db = another();
    return db;
  }
  sql::DatabasePtr another() {
    std::filesystem::create_directories(dir);
    return *sqlite::Database::open(dir / "berth.db");
  }
  ~SqliteFactory() {
    db.reset();
    std::filesystem::remove_all(dir);
  }
};

struct PostgresFactory : StoresOn<PostgresFactory> {
  // A change through another node is announced to this one, and seen within a second.
  static constexpr bool kSeenAtOnce = false;
  std::string url = berth_test::newPostgresDatabase();
  sql::DatabasePtr db;

  sql::DatabasePtr database() {
    if (!db) db = another();
    return db;
  }
  sql::DatabasePtr another() {
    postgres::Options options;
    options.url = url;
    options.connections = 8;
    auto opened = postgres::open(options);
    if (!opened) throw std::runtime_error("cannot open " + url + ": " + opened.error().detail);
    return *opened;
  }
  ~PostgresFactory() {
    db.reset();
    berth_test::dropPostgresDatabase(url);
  }
};

// Whether `check` holds now (kSeenAtOnce) or becomes true within a second.
template <class Factory>
bool seen(const std::function<bool()>& check) {
  if (Factory::kSeenAtOnce) return check();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!check()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace berth::meta::testing
