#pragma once
// The SQLite layer shared by berth's SQLite drivers: the schema, one writer connection and a
// pool of reader connections, each with cached prepared statements, and transactions. Internal
// to src/meta/sqlite.
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/disk_reserve.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"

namespace berth::meta::sqlite {

int64_t nowSeconds();

// The error of a failed SQLite call, logged with `op`: a full disk is InsufficientStorage
// (507), so that a client is told why; anything else is an internal error.
Error storeError(sqlite3* db, std::string_view op, std::string_view message);

// One SQLite connection with its prepared statements, keyed by the SQL literal's address.
class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  sqlite3* db() { return db_; }

  // A prepared statement, reset and ready to bind; the Statement resets it again on exit.
  class Statement {
   public:
    explicit Statement(sqlite3_stmt* s) : s_(s) {}
    ~Statement() {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int i, std::string_view v) {
      sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      return *this;
    }
    Statement& bindBlob(int i, std::string_view v) {
      sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      return *this;
    }
    Statement& bind(int i, int64_t v) {
      sqlite3_bind_int64(s_, i, v);
      return *this;
    }
    // SQLITE_ROW, SQLITE_DONE, or an error code.
    int step() { return sqlite3_step(s_); }
    int64_t integer(int col) { return sqlite3_column_int64(s_, col); }
    bool isNull(int col) { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    std::string text(int col) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s_, col));
      return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
    }

   private:
    sqlite3_stmt* s_;
  };

  // `sql` must be a string literal: its address is the cache key.
  Result<std::unique_ptr<Statement>> prepare(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
          SQLITE_OK) {
        return fail("prepare");
      }
      it = statements_.emplace(sql, stmt).first;
    }
    return std::make_unique<Statement>(it->second);
  }

  Result<void> exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "";
      sqlite3_free(message);
      return storeError(db_, "exec", text);
    }
    return {};
  }

  Error fail(std::string_view op) { return storeError(db_, op, sqlite3_errmsg(db_)); }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

using Stmt = Connection::Statement;

// Runs a statement that returns no rows.
Result<void> run(Connection& c, Stmt& s);

// BEGIN IMMEDIATE ... COMMIT, rolled back when the scope ends without commit().
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  Result<void> begin() {
    auto r = c_.exec("BEGIN IMMEDIATE");
    open_ = r.ok();
    return r;
  }
  Result<void> commit() {
    auto r = c_.exec("COMMIT");
    // A COMMIT that fails for a full disk rolls the transaction back itself.
    if (r || sqlite3_get_autocommit(c_.db())) open_ = false;
    return r;
  }
  ~Transaction() {
    if (open_) (void)c_.exec("ROLLBACK");
  }

 private:
  Connection& c_;
  bool open_ = false;
};

// The signature of the function that calls the function whose default argument this is: the
// name a lease is measured under. clang 14 with libstdc++ has no std::source_location; its
// __builtin_FUNCTION() gives the bare name (inside a lambda, "operator()").
#if defined(__cpp_lib_source_location)
#define BERTH_CALLER std::source_location::current().function_name()
#else
#define BERTH_CALLER __builtin_FUNCTION()
#endif

// A pool of connections to one database file; the schema is created on open.
class Database {
 public:
  // `reserve`, when given, is released to let a change that frees space (see freeing()) or
  // the opening itself succeed on a full disk.
  static Result<std::shared_ptr<Database>> open(const std::filesystem::path& file,
                                                std::shared_ptr<DiskReserve> reserve = nullptr);

  // Runs `change`, a deletion; should the disk be too full even for that, releases the reserve
  // and runs it once more: what frees space must work when nothing else does.
  template <class Change>
  auto freeing(Change&& change) -> decltype(change()) {
    auto r = change();
    if (!r && r.error().code == ApiCode::InsufficientStorage && reserve_ && reserve_->release()) {
      return change();
    }
    return r;
  }

  // A connection borrowed from the pool for the length of one call, to read.
  // Timed from the borrowing to the return, as one operation named after the function that
  // borrowed it (berth_metadata_operation_duration_seconds{op}); failed when a SQLite call
  // failed meanwhile on this thread.
  class Lease {
   public:
    Lease(Database& db, std::unique_ptr<Connection> c, metrics::Operation op,
          std::unique_lock<std::mutex> writing = {});
    ~Lease();
    Lease(Lease&&) noexcept = default;
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Database& db_;
    std::unique_ptr<Connection> c_;
    metrics::Operation op_;
    std::chrono::steady_clock::time_point started_;
    uint64_t errorsBefore_;
    std::unique_lock<std::mutex> writing_;  // held while this is the writer connection
  };
  Result<Lease> lease(const char* caller = BERTH_CALLER);
  // The one connection this process writes through, for the length of one call: the threads
  // of one process take turns in memory instead of polling SQLite's lock, and the writer's
  // page cache stays valid from one write to the next (a connection drops it whenever another
  // connection has written). Not to be taken again by a thread that holds it.
  Result<Lease> writer(const char* caller = BERTH_CALLER);

 private:
  Database(std::filesystem::path file, std::shared_ptr<DiskReserve> reserve)
      : file_(std::move(file)), reserve_(std::move(reserve)) {}
  Result<void> prepareSchema();
  std::filesystem::path file_;
  std::shared_ptr<DiskReserve> reserve_;
  Result<std::unique_ptr<Connection>> connect(bool reader);
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::mutex writerMutex_;
  std::unique_ptr<Connection> writer_;  // guarded by writerMutex_
};

}  // namespace berth::meta::sqlite
