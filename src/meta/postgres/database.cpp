#include "meta/postgres/database.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "core/log.hpp"
#include "meta/postgres/schema.hpp"

namespace berth::meta::postgres {
namespace {

// Type OIDs of the parameters berth binds (pg_type.h).
constexpr Oid kInt8 = 20;
constexpr Oid kText = 25;
constexpr Oid kBytea = 17;

// Advisory lock keys: the writers' turn, and the migrations'.
constexpr int64_t kWriterLock = 0x6265727468'0001;
constexpr int64_t kMigrationLock = 0x6265727468'0002;

// The channel changes are announced on; the payload names the topic.
constexpr const char* kChannel = "berth_changes";

constexpr std::array kTopics = {sql::Topic::Identity, sql::Topic::Content};

// `?N` becomes `$N`, and each bare `?` the next number after the largest so far (SQLite's
// rule); string literals are left alone. The number of parameters goes to `count`, and which
// of them the text uses to `used`.
std::string translate(const char* sql, int& count, std::vector<bool>& used) {
  std::string out;
  count = 0;
  bool quoted = false;
  for (const char* p = sql; *p; ++p) {
    if (*p == '\'') quoted = !quoted;
    if (quoted || *p != '?') {
      out += *p;
      continue;
    }
    int n = 0;
    while (p[1] >= '0' && p[1] <= '9') n = n * 10 + (*++p - '0');
    if (n == 0) n = count + 1;
    count = std::max(count, n);
    if (used.size() < static_cast<size_t>(n)) used.resize(static_cast<size_t>(n));
    used[static_cast<size_t>(n - 1)] = true;
    out += '$';
    out += std::to_string(n);
  }
  return out;
}

// A text parameter as PostgreSQL accepts it: UTF-8 without NUL. What a client sent that is
// not (a header stored with an event, say) is kept with U+FFFD in place of the bad bytes,
// rather than refused along with the change it came with.
std::string validText(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  size_t i = 0;
  while (i < v.size()) {
    const auto c = static_cast<unsigned char>(v[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len > 0 && c != 0 && i + len <= v.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(v[i + k]) & 0xc0) == 0x80;
    }
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
      uint32_t cp = c & (0x7f >> len);
      for (size_t k = 1; k < len; ++k) cp = cp << 6 | (static_cast<unsigned char>(v[i + k]) & 0x3f);
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    }
    if (ok) {
      out.append(v.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

// Whether `v` is plain ASCII without NUL: nothing to check further (names, digests, numbers).
bool plainAscii(std::string_view v) {
  for (unsigned char c : v) {
    if (c == 0 || c >= 0x80) return false;
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

class Connection;

// A statement prepared on one connection, by the types of its parameters.
struct Prepared {
  std::string sql;  // translated
  int params = 0;
  std::vector<bool> used;                              // by parameter: whether the text uses it
  std::unordered_map<std::string, std::string> names;  // type signature -> statement name
};

class Statement final : public sql::Statement {
 public:
  Statement(Connection& c, Prepared& p)
      : c_(c),
        p_(p),
        values_(static_cast<size_t>(p.params)),
        types_(static_cast<size_t>(p.params), 0),
        formats_(static_cast<size_t>(p.params), 0),
        result_(nullptr, &PQclear) {}

  Statement& bind(int i, std::string_view v) override {
    return set(i, plainAscii(v) ? std::string(v) : validText(v), kText, 0);
  }
  Statement& bindBlob(int i, std::string_view v) override {
    return set(i, std::string(v), kBytea, 1);
  }
  Statement& bind(int i, int64_t v) override { return set(i, std::to_string(v), kInt8, 0); }
  int step() override;
  int64_t integer(int col) override {
    if (PQgetisnull(result_.get(), row_, col)) return 0;
    const char* v = PQgetvalue(result_.get(), row_, col);
    if (v[0] == 't' && v[1] == 0) return 1;  // a boolean
    if (v[0] == 'f' && v[1] == 0) return 0;
    int64_t n = 0;
    std::from_chars(v, v + PQgetlength(result_.get(), row_, col), n);
    return n;
  }
  bool isNull(int col) override { return PQgetisnull(result_.get(), row_, col) != 0; }
  std::string text(int col) override {
    const char* v = PQgetvalue(result_.get(), row_, col);
    const auto n = static_cast<size_t>(PQgetlength(result_.get(), row_, col));
    if (PQftype(result_.get(), col) != kBytea) return std::string(v, n);
    // bytea comes as text in hex: \x0a1b...
    std::string out;
    if (n < 2) return out;
    out.reserve((n - 2) / 2);
    for (size_t i = 2; i + 1 < n; i += 2) {
      out += static_cast<char>(hexValue(v[i]) << 4 | hexValue(v[i + 1]));
    }
    return out;
  }

 private:
  Statement& set(int i, std::string value, Oid type, int format) {
    if (i < 1 || i > p_.params) return *this;  // a parameter the SQL does not have
    const auto k = static_cast<size_t>(i - 1);
    values_[k] = std::move(value);
    types_[k] = type;
    formats_[k] = format;
    return *this;
  }

  Connection& c_;
  Prepared& p_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
  ResultPtr result_;
  int row_ = 0;
  int rows_ = 0;
};

class Connection final : public sql::Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection() override { PQfinish(conn_); }
  PGconn* conn() { return conn_; }
  sql::Dialect dialect() const override { return sql::Dialect::Postgres; }

  Result<std::unique_ptr<sql::Statement>> prepare(const char* sql) override {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      Prepared p;
      p.sql = translate(sql, p.params, p.used);
      it = prepared_.emplace(sql, std::move(p)).first;
    }
    return std::unique_ptr<sql::Statement>(std::make_unique<Statement>(*this, it->second));
  }

  Result<void> exec(const char* sql) override {
    ResultPtr r(PQexec(conn_, sql), &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      remember(r.get());
      return fail("exec");
    }
    return {};
  }

  // Runs the statement `p` with these parameters: its result, or nothing (fail() tells why).
  ResultPtr execute(Prepared& p, const std::vector<std::optional<std::string>>& values,
                    std::vector<Oid>& types, const std::vector<int>& formats) {
    // A number the text skips (?6 without ?5) has no type PostgreSQL could infer: any will do.
    for (size_t i = 0; i < types.size(); ++i) {
      if (!p.used[i] && types[i] == 0) types[i] = kText;
    }
    const bool alone = PQtransactionStatus(conn_) == PQTRANS_IDLE;
    auto r = attempt(p, values, types, formats);
    // The connection dropped (the server restarted, a proxy or a firewall cut it): a query
    // that changes nothing and was not part of a transaction is asked again on a new one. A
    // change is not: it may have been made before the connection went.
    if (!r && alone && PQstatus(conn_) == CONNECTION_BAD && p.sql.starts_with("SELECT") &&
        reconnect()) {
      r = attempt(p, values, types, formats);
    }
    return r;
  }

  // A new session on the same server: what was prepared on the old one is gone with it.
  bool reconnect() {
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    log::warn("metadata database connection dropped; reconnected", {});
    for (auto& [sql, prepared] : prepared_) prepared.names.clear();
    error_.clear();
    state_.clear();
    return true;
  }

  ResultPtr attempt(Prepared& p, const std::vector<std::optional<std::string>>& values,
                    const std::vector<Oid>& types, const std::vector<int>& formats) {
    // One letter per parameter's type: the statement is prepared once per combination.
    std::string signature(types.size(), '-');
    for (size_t i = 0; i < types.size(); ++i) {
      signature[i] = types[i] == kInt8    ? 'i'
                     : types[i] == kText  ? 't'
                     : types[i] == kBytea ? 'b'
                                          : '-';
    }
    auto name = p.names.find(signature);
    if (name == p.names.end()) {
      std::string statement = "s" + std::to_string(++statements_);
      ResultPtr r(PQprepare(conn_, statement.c_str(), p.sql.c_str(), p.params, types.data()),
                  &PQclear);
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        remember(r.get());
        sql_ = p.sql;
        return ResultPtr(nullptr, &PQclear);
      }
      name = p.names.emplace(signature, std::move(statement)).first;
    }
    std::vector<const char*> pointers(values.size(), nullptr);
    std::vector<int> lengths(values.size(), 0);
    for (size_t i = 0; i < values.size(); ++i) {
      if (!values[i]) continue;
      pointers[i] = values[i]->data();
      lengths[i] = static_cast<int>(values[i]->size());
    }
    ResultPtr r(PQexecPrepared(conn_, name->second.c_str(), p.params, pointers.data(),
                               lengths.data(), formats.data(), 0),
                &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      remember(r.get());
      sql_ = p.sql;
      return ResultPtr(nullptr, &PQclear);
    }
    if (status == PGRES_COMMAND_OK) {
      const char* n = PQcmdTuples(r.get());
      changes_ = 0;
      std::from_chars(n, n + std::strlen(n), changes_);
    }
    return r;
  }

  Error fail(std::string_view op) override {
    sql::Database::countError();
    const bool dropped = PQstatus(conn_) != CONNECTION_OK;
    log::error("postgres failed",
               {{"op", op},
                {"error", error_.empty() ? PQerrorMessage(conn_) : error_.c_str()},
                {"sqlstate", state_},
                {"sql", sql_}});
    sql_.clear();
    const std::string state = std::move(state_);
    error_.clear();
    state_.clear();
    if (dropped) return makeError(ApiCode::Unknown, "metadata database unavailable", 503);
    // 53100: disk full; 53200: out of memory; 53300: too many connections.
    if (state == "53100") {
      return makeError(ApiCode::InsufficientStorage, "metadata store: disk full");
    }
    if (state.starts_with("53") || state == "57014" || state == "55P03") {
      // Out of resources, a statement timed out or a lock was not had in time: try later.
      return makeError(ApiCode::Unknown, "metadata database busy", 503);
    }
    return makeError(ApiCode::Unknown, "metadata store error");
  }

  int64_t changes() override { return changes_; }
  Result<void> begin() override { return exec("BEGIN"); }
  Result<void> commit() override { return exec("COMMIT"); }
  void rollback() override { (void)exec("ROLLBACK"); }
  bool inTransaction() override {
    const auto s = PQtransactionStatus(conn_);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
  }
  bool healthy() override { return PQstatus(conn_) == CONNECTION_OK; }

 private:
  void remember(const PGresult* r) {
    const char* message = r ? PQresultErrorMessage(r) : nullptr;
    error_ = message && *message ? message : PQerrorMessage(conn_);
    while (!error_.empty() && (error_.back() == '\n' || error_.back() == ' ')) error_.pop_back();
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    state_ = state ? state : "";
  }

  PGconn* conn_;
  std::unordered_map<const char*, Prepared> prepared_;
  uint64_t statements_ = 0;
  int64_t changes_ = 0;
  std::string error_;
  std::string state_;
  std::string sql_;  // of the statement that failed, for the log
};

int Statement::step() {
  if (!result_) {
    result_ = c_.execute(p_, values_, types_, formats_);
    if (!result_) return 1;
    row_ = 0;
    rows_ = PQresultStatus(result_.get()) == PGRES_TUPLES_OK ? PQntuples(result_.get()) : 0;
  } else {
    ++row_;
  }
  return row_ < rows_ ? sql::kRow : sql::kDone;
}

}  // namespace

namespace {

// The server's notices (a table that exists already, a session ended by an administrator) go
// to the log, not to stderr.
void notice(void*, const char* message) {
  std::string_view text(message);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  log::write(log::Level::Debug, "postgres notice", {{"message", text}});
}

}  // namespace

bool isUrl(std::string_view text) {
  return text.starts_with("postgres://") || text.starts_with("postgresql://");
}

std::string redacted(std::string_view url) {
  // postgres://user:password@host/...: the password goes.
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto at = url.find('@', scheme + 3);
  const auto colon = url.find(':', scheme + 3);
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) {
    return std::string(url);
  }
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

namespace {

class Database final : public sql::Database {
 public:
  explicit Database(Options options)
      : sql::Database(nullptr, options.connections), options_(std::move(options)) {}
  ~Database() override {
    stopping_ = true;
    if (listener_.joinable()) {
      [[maybe_unused]] auto n = ::write(wake_[1], "x", 1);
      listener_.join();
    }
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
  }

  sql::Dialect dialect() const override { return sql::Dialect::Postgres; }
  std::string where() const override { return redacted(options_.url); }

  uint64_t generation(sql::Topic topic) override {
    return generations_[static_cast<size_t>(topic)].load(std::memory_order_acquire);
  }

  void announce(sql::Topic topic) override {
    // This process's readers see the change at once; the others when the notification comes.
    generations_[static_cast<size_t>(topic)].fetch_add(1, std::memory_order_acq_rel);
    auto c = lease("announce");
    if (!c) return;  // the change is made; other nodes' caches catch up on their next reconnect
    auto s = (*c)->prepare("SELECT pg_notify(?, ?)");
    if (!s) return;
    (*s)->bind(1, kChannel).bind(2, sql::notification(topic, ""));
    (void)sql::run(**c, **s);
  }

  Result<void> start() {
    if (::pipe2(wake_.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
      return makeError(ApiCode::Unknown, "cannot create a pipe");
    }
    auto c = connect(false);
    if (!c) return c.takeError();
    if (auto r = migrate(static_cast<Connection&>(**c)); !r) return r;
    listener_ = std::thread([this] { listen(); });
    return {};
  }

 protected:
  Result<std::unique_ptr<sql::Connection>> connect(bool) override {
    const std::string statementTimeout = std::to_string(options_.statementTimeoutMs);
    const std::string lockTimeout = std::to_string(options_.lockTimeoutMs);
    const std::string settings =
        "-c statement_timeout=" + statementTimeout + " -c lock_timeout=" + lockTimeout;
    // Defaults first: what the URL says wins.
    const char* keys[] = {"connect_timeout",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "application_name",
                          "options",
                          "dbname",
                          nullptr};
    const char* values[] = {
        "5", "1", "10", "5", "3", "berth", settings.c_str(), options_.url.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keys, values, 1);
    if (conn != nullptr) PQsetNoticeProcessor(conn, notice, nullptr);
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
      std::string message = conn ? PQerrorMessage(conn) : "out of memory";
      while (!message.empty() && message.back() == '\n') message.pop_back();
      PQfinish(conn);
      sql::Database::countError();
      log::error("cannot connect to postgres",
                 {{"database", redacted(options_.url)}, {"error", message}});
      return makeError(ApiCode::Unknown, "metadata database unavailable", 503);
    }
    return std::unique_ptr<sql::Connection>(std::make_unique<Connection>(conn));
  }

  // Here: among all nodes, by a session advisory lock on a connection of the job's own.
  Result<std::shared_ptr<void>> exclusive(std::string_view job) override {
    auto c = connect(false);
    if (!c) return c.takeError();
    // FNV-1a: the job's name as a lock key, apart from the writers' and the migrations'.
    int64_t key = static_cast<int64_t>(0xcbf29ce484222325ull);
    for (unsigned char ch : job)
      key = static_cast<int64_t>((static_cast<uint64_t>(key) ^ ch) * 0x100000001b3ull);
    auto s = (*c)->prepare("SELECT pg_try_advisory_lock(?)");
    if (!s) return s.takeError();
    (*s)->bind(1, key);
    if ((*s)->step() != sql::kRow) return (*c)->fail("lock job");
    if ((*s)->integer(0) == 0) return std::shared_ptr<void>();
    s->reset();
    auto* held = c->release();
    return std::shared_ptr<void>(held, [key](void* p) {
      std::unique_ptr<sql::Connection> connection(static_cast<sql::Connection*>(p));
      if (!connection->healthy()) return;
      auto unlock = connection->prepare("SELECT pg_advisory_unlock(?)");
      if (!unlock) return;
      (*unlock)->bind(1, key);
      (void)sql::run(*connection, **unlock);
    });
  }

  Result<void> lockWriter(sql::Connection& c) override {
    auto s = c.prepare("SELECT pg_advisory_lock(?)");
    if (!s) return s.takeError();
    (*s)->bind(1, kWriterLock);
    return sql::run(c, **s);
  }

  void unlockWriter(sql::Connection& c) override {
    if (!c.healthy()) return;  // the lock went with the connection
    auto s = c.prepare("SELECT pg_advisory_unlock(?)");
    if (!s) return;
    (*s)->bind(1, kWriterLock);
    (void)sql::run(c, **s);
  }

 private:
  // Brings the schema up to date: one node at a time, each migration once.
  Result<void> migrate(Connection& c) {
    auto locked = c.prepare("SELECT pg_advisory_lock(?)");
    if (!locked) return locked.takeError();
    (*locked)->bind(1, kMigrationLock);
    if (auto r = sql::run(c, **locked); !r) return r;
    auto result = applyMigrations(c);
    auto unlock = c.prepare("SELECT pg_advisory_unlock(?)");
    if (unlock) {
      (*unlock)->bind(1, kMigrationLock);
      (void)sql::run(c, **unlock);
    }
    return result;
  }

  Result<void> applyMigrations(Connection& c) {
    if (auto r = c.exec("CREATE TABLE IF NOT EXISTS berth_schema(version BIGINT PRIMARY KEY, "
                        "name TEXT NOT NULL, applied BIGINT NOT NULL)");
        !r) {
      return r;
    }
    int64_t current = 0;
    {
      auto s = c.prepare("SELECT COALESCE(MAX(version), 0) FROM berth_schema");
      if (!s) return s.takeError();
      if ((*s)->step() != sql::kRow) return c.fail("schema version");
      current = (*s)->integer(0);
    }
    const auto& all = migrations();
    if (!all.empty() && current > all.back().version) {
      return makeError(ApiCode::Unknown,
                       "the metadata database's schema (version " + std::to_string(current) +
                           ") is newer than this berth's (" + std::to_string(all.back().version) +
                           "): upgrade berth");
    }
    for (const auto& m : all) {
      if (m.version <= current) continue;
      sql::Transaction tx(c);
      if (auto r = tx.begin(); !r) return r;
      if (auto r = c.exec(m.sql); !r) return r;
      auto s = c.prepare("INSERT INTO berth_schema(version, name, applied) VALUES(?, ?, ?)");
      if (!s) return s.takeError();
      (*s)->bind(1, m.version).bind(2, m.name).bind(3, sql::nowSeconds());
      if (auto r = sql::run(c, **s); !r) return r;
      if (auto r = tx.commit(); !r) return r;
      log::info("metadata schema migrated", {{"version", m.version}, {"name", m.name}});
    }
    return {};
  }

  // The listener: one connection that LISTENs; every notification moves its topic's
  // generation. While it is disconnected nothing is heard, so on every (re)connection every
  // topic moves: caches filled before may have missed a change.
  void listen() {
    int backoffMs = 100;
    while (!stopping_) {
      auto c = connect(false);
      if (c) {
        auto& conn = static_cast<Connection&>(**c);
        if (conn.exec("LISTEN berth_changes")) {
          backoffMs = 100;
          for (auto topic : kTopics) {
            generations_[static_cast<size_t>(topic)].fetch_add(1, std::memory_order_acq_rel);
            dispatch(topic, "*");
          }
          receive(conn);
        }
      }
      if (stopping_) break;
      pollfd wake{wake_[0], POLLIN, 0};
      ::poll(&wake, 1, backoffMs);
      backoffMs = std::min(backoffMs * 2, 5000);
    }
  }

  void receive(Connection& c) {
    PGconn* conn = c.conn();
    while (!stopping_) {
      std::array<pollfd, 2> fds{pollfd{PQsocket(conn), POLLIN, 0}, pollfd{wake_[0], POLLIN, 0}};
      if (::poll(fds.data(), fds.size(), 10000) < 0 && errno != EINTR) return;
      if (stopping_) return;
      if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
        log::warn("metadata change listener disconnected", {{"error", PQerrorMessage(conn)}});
        return;
      }
      while (PGnotify* n = PQnotifies(conn)) {
        const std::string_view payload(n->extra);
        const auto colon = payload.find(':');
        for (auto topic : kTopics) {
          if (payload.substr(0, colon) != sql::topicName(topic)) continue;
          generations_[static_cast<size_t>(topic)].fetch_add(1, std::memory_order_acq_rel);
          dispatch(topic, colon == std::string_view::npos ? "" : payload.substr(colon + 1));
        }
        PQfreemem(n);
      }
    }
  }

  Options options_;
  std::array<std::atomic<uint64_t>, kTopics.size()> generations_{};
  std::array<int, 2> wake_{-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace

Result<sql::DatabasePtr> open(const Options& options) {
  auto db = std::make_shared<Database>(options);
  if (auto r = db->start(); !r) return r.takeError();
  return sql::DatabasePtr(std::move(db));
}

}  // namespace berth::meta::postgres
