#pragma once
// What berth's stores need of a SQL database, and the two databases that provide it: SQLite
// (src/meta/sqlite: one file, the default) and PostgreSQL (src/meta/postgres: many nodes).
// The stores (src/meta/sql) are written once against this: statements prepared once per
// connection, a pool of connections to read and one writer at a time to write, transactions.
//
// The SQL the stores write is what both understand: numbered parameters (`?1`) or ordered
// ones (`?`), `INSERT ... ON CONFLICT`, `RETURNING`, row values, CASE instead of SQLite's
// two-argument MAX; where the two differ (an aggregate, say) a statement asks dialect().
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "core/disk_reserve.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"

namespace berth::meta::sql {

// What step() returns besides an error: a row is ready, or there are no more.
inline constexpr int kRow = 100;
inline constexpr int kDone = 101;

enum class Dialect { Sqlite, Postgres };

// What a change is about, for those that keep copies of it (caches of other processes).
enum class Topic { Identity, Content };

int64_t nowSeconds();

// A prepared statement, ready to bind; reset when it goes.
class Statement {
 public:
  virtual ~Statement() = default;
  virtual Statement& bind(int i, std::string_view v) = 0;
  virtual Statement& bindBlob(int i, std::string_view v) = 0;
  virtual Statement& bind(int i, int64_t v) = 0;
  // kRow, kDone, or anything else for an error (the connection's fail() says which).
  virtual int step() = 0;
  // A column of the current row: NULL reads as 0 and as an empty string.
  virtual int64_t integer(int col) = 0;
  virtual bool isNull(int col) = 0;
  virtual std::string text(int col) = 0;
};

// One connection, with its prepared statements.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // `sql` must be a string literal: its address is the cache key.
  virtual Result<std::unique_ptr<Statement>> prepare(const char* sql) = 0;
  // Runs statements that return no rows.
  virtual Result<void> exec(const char* sql) = 0;
  // The error of the call that just failed, logged with `op`.
  virtual Error fail(std::string_view op) = 0;
  // Rows the last INSERT, UPDATE or DELETE changed.
  virtual int64_t changes() = 0;
  // A write transaction: begun, committed, rolled back. commit() may fail and leave the
  // transaction open or not: inTransaction() tells.
  virtual Result<void> begin() = 0;
  virtual Result<void> commit() = 0;
  virtual void rollback() = 0;
  virtual bool inTransaction() = 0;
  // Whether the connection can be used again (a dropped connection cannot).
  virtual bool healthy() { return true; }
};

using Stmt = Statement;

// A LIMIT that limits nothing, for an OFFSET (SQLite needs a LIMIT before one).
#define BERTH_NO_LIMIT "9223372036854775807"

// Runs a statement that returns no rows.
Result<void> run(Connection& c, Stmt& s);

// Tells other processes on the database about a change of `key` under `topic`, when the
// transaction the connection is in commits (at once outside one). Only PostgreSQL has other
// processes to tell: nothing happens on SQLite.
Result<void> notify(Connection& c, Topic topic, std::string_view key);
// The payload notify() sends: "<topic>:<key>".
std::string notification(Topic topic, std::string_view key);
const char* topicName(Topic topic);
// Runs an INSERT ... RETURNING id: the id, or nothing when no row was inserted (ON CONFLICT DO
// NOTHING).
Result<std::optional<int64_t>> insertedId(Connection& c, Stmt& s);

// begin() ... commit(), rolled back when the scope ends without commit().
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  Result<void> begin() {
    auto r = c_.begin();
    open_ = r.ok();
    return r;
  }
  Result<void> commit() {
    auto r = c_.commit();
    if (r || !c_.inTransaction()) open_ = false;
    return r;
  }
  ~Transaction() {
    if (open_) c_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

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

// A pool of connections to one database.
class Database : public std::enable_shared_from_this<Database> {
 public:
  virtual ~Database();
  virtual Dialect dialect() const = 0;

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

  // A connection borrowed from the pool for the length of one call.
  // Timed from the borrowing to the return, as one operation named after the function that
  // borrowed it (berth_metadata_operation_duration_seconds{op}); failed when a database call
  // failed meanwhile on this thread.
  class Lease {
   public:
    Lease(Database& db, std::unique_ptr<Connection> c, metrics::Operation op, bool writer);
    ~Lease();
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Database& db_;
    std::unique_ptr<Connection> c_;
    metrics::Operation op_;
    std::chrono::steady_clock::time_point started_;
    uint64_t errorsBefore_;
    bool writer_;
  };
  // A connection to read with.
  Result<Lease> lease(const char* caller = BERTH_CALLER);
  // The one connection this process writes through, for the length of one call: the threads
  // of one process take turns in memory, and writers of all processes one at a time (SQLite's
  // lock; a PostgreSQL advisory lock), so a change reads and writes as if alone. Not to be
  // taken again by a thread that holds it.
  Result<Lease> writer(const char* caller = BERTH_CALLER);

  // A number that changes whenever announce(topic) was called, in this process or another.
  virtual uint64_t generation(Topic topic) = 0;
  virtual void announce(Topic topic) = 0;

  // The right to run `job` in one process at a time, until the handle goes; null when another
  // process holds it (MetadataStore::exclusive). Here: among the handles on where() of this
  // process (a SQLite database has no other process running jobs).
  virtual Result<std::shared_ptr<void>> exclusive(std::string_view job);
  // The database's file or server, as the handles of one process name it.
  virtual std::string where() const = 0;

  // Calls `heard` with the key of every notify(topic, key) other processes commit, and with
  // "*" when some may have been missed (a reconnection). What it returns ends the watch.
  std::shared_ptr<void> subscribe(Topic topic, std::function<void(std::string_view key)> heard);

  // Called by the drivers when a call fails: what a lease counts.
  static void countError();

 protected:
  // Passes a notification on to the topic's subscribers.
  void dispatch(Topic topic, std::string_view key);

 protected:
  // `maxReaders`: connections to read with, at most (0: as many as threads ask for at once).
  explicit Database(std::shared_ptr<DiskReserve> reserve, size_t maxReaders = 0)
      : reserve_(std::move(reserve)), maxReaders_(maxReaders) {}
  virtual Result<std::unique_ptr<Connection>> connect(bool reader) = 0;
  // Taken after the process's writer mutex, before the writer is used; released after.
  virtual Result<void> lockWriter(Connection&) { return {}; }
  virtual void unlockWriter(Connection&) {}

 private:
  void giveBack(std::unique_ptr<Connection> c, bool writer);
  struct Subscriber {
    Topic topic;
    std::function<void(std::string_view)> heard;
    std::mutex calling;  // held while `heard` runs, and to end the watch
    bool watching = true;
  };
  std::mutex subscribersMutex_;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
  std::shared_ptr<DiskReserve> reserve_;
  const size_t maxReaders_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t readers_ = 0;  // open, idle or leased
  std::mutex writerMutex_;
  std::unique_ptr<Connection> writer_;  // guarded by writerMutex_
};

using DatabasePtr = std::shared_ptr<Database>;

}  // namespace berth::meta::sql
