#pragma once
// The SQLite database of the stores (src/meta/sql/database.hpp): one file in WAL mode, its
// schema, one writer connection and a pool of readers that SQLite keeps from writing.
// Internal to src/meta.
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "meta/sql/database.hpp"

namespace berth::meta::sqlite {

using sql::nowSeconds;

// The error of a failed SQLite call, logged with `op`: a full disk is InsufficientStorage
// (507), so that a client is told why; anything else is an internal error.
Error storeError(sqlite3* db, std::string_view op, std::string_view message);

class Statement final : public sql::Statement {
 public:
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  ~Statement() override {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::string_view v) override {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bindBlob(int i, std::string_view v) override {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind(int i, int64_t v) override {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int step() override {
    const int rc = sqlite3_step(s_);
    return rc == SQLITE_ROW ? sql::kRow : rc == SQLITE_DONE ? sql::kDone : rc;
  }
  int64_t integer(int col) override { return sqlite3_column_int64(s_, col); }
  bool isNull(int col) override { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) override {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }

 private:
  sqlite3_stmt* s_;
};

// One SQLite connection with its prepared statements, keyed by the SQL literal's address.
class Connection final : public sql::Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  sqlite3* db() { return db_; }
  sql::Dialect dialect() const override { return sql::Dialect::Sqlite; }

  Result<std::unique_ptr<sql::Statement>> prepare(const char* sql) override {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
          SQLITE_OK) {
        return fail("prepare");
      }
      it = statements_.emplace(sql, stmt).first;
    }
    return std::unique_ptr<sql::Statement>(std::make_unique<Statement>(it->second));
  }

  Result<void> exec(const char* sql) override {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "";
      sqlite3_free(message);
      return storeError(db_, "exec", text);
    }
    return {};
  }

  Error fail(std::string_view op) override { return storeError(db_, op, sqlite3_errmsg(db_)); }
  int64_t changes() override { return sqlite3_changes(db_); }
  Result<void> begin() override { return exec("BEGIN IMMEDIATE"); }
  // A COMMIT that fails for a full disk rolls the transaction back itself.
  Result<void> commit() override { return exec("COMMIT"); }
  void rollback() override { (void)exec("ROLLBACK"); }
  bool inTransaction() override { return !sqlite3_get_autocommit(db_); }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

// A pool of connections to one database file; the schema is created on open.
class Database final : public sql::Database {
 public:
  // `reserve`, when given, is released to let a change that frees space (see freeing()) or
  // the opening itself succeed on a full disk.
  static Result<std::shared_ptr<Database>> open(const std::filesystem::path& file,
                                                std::shared_ptr<DiskReserve> reserve = nullptr);
  sql::Dialect dialect() const override { return sql::Dialect::Sqlite; }
  std::string where() const override { return file_.string(); }

  // Other processes (`berth admin`) write the same file: a change is announced by appending a
  // byte to "<db>-<topic>", and its generation is that file's size and time. One stat(2) per
  // read replaces a query and SQLite's file locking.
  uint64_t generation(sql::Topic topic) override;
  void announce(sql::Topic topic) override;

 protected:
  Result<std::unique_ptr<sql::Connection>> connect(bool reader) override;

 private:
  Database(std::filesystem::path file, std::shared_ptr<DiskReserve> reserve)
      : sql::Database(std::move(reserve)), file_(std::move(file)) {}
  Result<void> prepareSchema();
  std::filesystem::path topicFile(sql::Topic topic) const;
  std::filesystem::path file_;
};

}  // namespace berth::meta::sqlite
