#include "meta/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"

namespace berth::meta {

class SqliteStore final : public MetadataStore {
 public:
  static Result<MetadataStorePtr> open(const std::filesystem::path& file);
  ~SqliteStore() override;

  Result<RegistryId> ensureRegistry(std::string_view name) override;
  Result<std::optional<RepositoryId>> findRepository(RegistryId registry,
                                                     std::string_view name) override;
  Result<RepositoryId> ensureRepository(RegistryId registry, std::string_view name) override;
  Result<Page> listRepositories(RegistryId registry, std::string_view after, size_t limit) override;
  Result<void> linkBlob(RegistryId registry, RepositoryId repository, std::string_view digest,
                        uint64_t size) override;
  Result<std::optional<uint64_t>> linkedBlob(RepositoryId repository,
                                             std::string_view digest) override;
  Result<bool> unlinkBlob(RepositoryId repository, std::string_view digest) override;
  Result<void> putManifest(RegistryId registry, RepositoryId repository,
                           const ManifestRecord& manifest, const std::vector<ManifestRef>& refs,
                           std::optional<std::string_view> tag) override;
  Result<std::optional<ManifestRecord>> getManifest(RepositoryId repository,
                                                    std::string_view digest) override;
  Result<bool> hasManifest(RepositoryId repository, std::string_view digest) override;
  Result<bool> deleteManifest(RepositoryId repository, std::string_view digest) override;
  Result<std::optional<std::string>> resolveTag(RepositoryId repository,
                                                std::string_view tag) override;
  Result<bool> deleteTag(RepositoryId repository, std::string_view tag) override;
  Result<Page> listTags(RepositoryId repository, std::string_view after, size_t limit) override;
  Result<std::vector<ManifestRecord>> referrers(RepositoryId repository,
                                                std::string_view subject) override;
  Result<void> createUpload(const UploadRecord& upload) override;
  Result<std::optional<UploadRecord>> getUpload(std::string_view uuid) override;
  Result<void> deleteUpload(std::string_view uuid) override;

  class Connection;

 private:
  explicit SqliteStore(std::filesystem::path file) : file_(std::move(file)) {}

  // A connection borrowed from the pool for the length of one call.
  class Lease {
   public:
    Lease(SqliteStore& store, std::unique_ptr<Connection> c);
    ~Lease();
    Lease(Lease&&) noexcept;
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    SqliteStore& store_;
    std::unique_ptr<Connection> c_;
  };
  Result<Lease> lease();

  std::filesystem::path file_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS registries(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS repositories(
  id INTEGER PRIMARY KEY,
  registry_id INTEGER NOT NULL REFERENCES registries(id),
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  UNIQUE(registry_id, name));
CREATE TABLE IF NOT EXISTS blobs(
  registry_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY(registry_id, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repository_blobs(
  repository_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  registry_id INTEGER NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests(
  repository_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  registry_id INTEGER NOT NULL,
  media_type TEXT NOT NULL,
  artifact_type TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL,
  payload BLOB NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  annotations TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests(repository_id, subject)
  WHERE subject <> '';
CREATE TABLE IF NOT EXISTS manifest_refs(
  repository_id INTEGER NOT NULL,
  manifest_digest TEXT NOT NULL,
  ref_digest TEXT NOT NULL,
  registry_id INTEGER NOT NULL,
  is_manifest INTEGER NOT NULL,
  PRIMARY KEY(repository_id, manifest_digest, ref_digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags(
  repository_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  registry_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY(repository_id, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags(repository_id, digest);
CREATE TABLE IF NOT EXISTS uploads(
  uuid TEXT PRIMARY KEY,
  registry_id INTEGER NOT NULL,
  repository TEXT NOT NULL,
  created INTEGER NOT NULL) WITHOUT ROWID;
)sql";

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One SQLite connection with its prepared statements, keyed by the SQL literal's address.
class SqliteStore::Connection {
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
    std::string text(int col) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s_, col));
      return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
    }

   private:
    sqlite3_stmt* s_;
  };

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
      log::error("sqlite exec failed", {{"error", text}});
      return makeError(ApiCode::Unknown, "metadata store error");
    }
    return {};
  }

  Error fail(std::string_view op) {
    log::error("sqlite failed", {{"op", op}, {"error", sqlite3_errmsg(db_)}});
    return makeError(ApiCode::Unknown, "metadata store error");
  }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

namespace {

using Stmt = SqliteStore::Connection::Statement;

// Runs a statement that returns no rows.
Result<void> run(SqliteStore::Connection& c, Stmt& s) {
  const int rc = s.step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return c.fail("step");
  return {};
}

// BEGIN IMMEDIATE ... COMMIT, rolled back when the scope ends without commit().
class Transaction {
 public:
  explicit Transaction(SqliteStore::Connection& c) : c_(c) {}
  Result<void> begin() {
    auto r = c_.exec("BEGIN IMMEDIATE");
    open_ = r.ok();
    return r;
  }
  Result<void> commit() {
    auto r = c_.exec("COMMIT");
    if (r) open_ = false;
    return r;
  }
  ~Transaction() {
    if (open_) (void)c_.exec("ROLLBACK");
  }

 private:
  SqliteStore::Connection& c_;
  bool open_ = false;
};

Result<std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)>> openDb(
    const std::filesystem::path& file) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(file.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> db(raw, &sqlite3_close_v2);
  if (rc != SQLITE_OK) {
    log::error("cannot open database",
               {{"path", file.string()}, {"error", raw ? sqlite3_errmsg(raw) : "out of memory"}});
    return makeError(ApiCode::Unknown, "cannot open metadata database");
  }
  sqlite3_busy_timeout(db.get(), 10000);
  return db;
}

}  // namespace

SqliteStore::Lease::Lease(SqliteStore& store, std::unique_ptr<Connection> c)
    : store_(store), c_(std::move(c)) {}
SqliteStore::Lease::Lease(Lease&&) noexcept = default;

SqliteStore::Lease::~Lease() {
  if (!c_) return;
  std::lock_guard lock(store_.mutex_);
  store_.idle_.push_back(std::move(c_));
}

Result<SqliteStore::Lease> SqliteStore::lease() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(c));
    }
  }
  auto db = openDb(file_);
  if (!db) return db.takeError();
  auto c = std::make_unique<Connection>(db->release());
  auto pragmas =
      c->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!pragmas) return pragmas.takeError();
  return Lease(*this, std::move(c));
}

SqliteStore::~SqliteStore() = default;

Result<MetadataStorePtr> openSqliteStore(const std::filesystem::path& file) {
  return SqliteStore::open(file);
}

Result<MetadataStorePtr> SqliteStore::open(const std::filesystem::path& file) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(file));
  auto c = store->lease();
  if (!c) return c.takeError();
  auto schema = (*c)->exec(kSchema);
  if (!schema) return schema.takeError();
  return MetadataStorePtr(std::move(store));
}

Result<RegistryId> SqliteStore::ensureRegistry(std::string_view name) {
  auto c = lease();
  if (!c) return c.takeError();
  {
    auto s = (*c)->prepare("INSERT OR IGNORE INTO registries(name, created) VALUES(?, ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, name).bind(2, nowSeconds());
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  auto s = (*c)->prepare("SELECT id FROM registries WHERE name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, name);
  if ((*s)->step() != SQLITE_ROW) return (*c)->fail("select registry");
  return (*s)->integer(0);
}

Result<std::optional<RepositoryId>> SqliteStore::findRepository(RegistryId registry,
                                                                std::string_view name) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("SELECT id FROM repositories WHERE registry_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  const int rc = (*s)->step();
  if (rc == SQLITE_ROW) return std::optional<RepositoryId>((*s)->integer(0));
  if (rc == SQLITE_DONE) return std::optional<RepositoryId>();
  return (*c)->fail("select repository");
}

Result<RepositoryId> SqliteStore::ensureRepository(RegistryId registry, std::string_view name) {
  auto found = findRepository(registry, name);
  if (!found) return found.takeError();
  if (*found) return **found;
  auto c = lease();
  if (!c) return c.takeError();
  {
    auto s = (*c)->prepare(
        "INSERT OR IGNORE INTO repositories(registry_id, name, created, updated) "
        "VALUES(?, ?, ?, ?)");
    if (!s) return s.takeError();
    const auto now = nowSeconds();
    (*s)->bind(1, registry).bind(2, name).bind(3, now).bind(4, now);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  auto s = (*c)->prepare("SELECT id FROM repositories WHERE registry_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  if ((*s)->step() != SQLITE_ROW) return (*c)->fail("select repository");
  return (*s)->integer(0);
}

namespace {

// Reads one keyset page: the statement yields names in order and was given limit + 1.
Result<Page> readPage(SqliteStore::Connection& c, Stmt& s, size_t limit) {
  Page page;
  for (;;) {
    const int rc = s.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return c.fail("page");
    if (page.items.size() == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(s.text(0));
  }
  return page;
}

}  // namespace

Result<Page> SqliteStore::listRepositories(RegistryId registry, std::string_view after,
                                           size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT name FROM repositories WHERE registry_id = ? AND name > ? ORDER BY name LIMIT ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, after).bind(3, static_cast<int64_t>(limit) + 1);
  return readPage(**c, **s, limit);
}

Result<void> SqliteStore::linkBlob(RegistryId registry, RepositoryId repository,
                                   std::string_view digest, uint64_t size) {
  auto c = lease();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r;
  const auto now = nowSeconds();
  {
    auto s = (*c)->prepare(
        "INSERT OR IGNORE INTO blobs(registry_id, digest, size, created) VALUES(?, ?, ?, ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, digest).bind(3, static_cast<int64_t>(size)).bind(4, now);
    if (auto r = run(**c, **s); !r) return r;
  }
  {
    auto s = (*c)->prepare(
        "INSERT OR IGNORE INTO repository_blobs(repository_id, digest, registry_id, size, "
        "created) VALUES(?, ?, ?, ?, ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, digest).bind(3, registry);
    (*s)->bind(4, static_cast<int64_t>(size)).bind(5, now);
    if (auto r = run(**c, **s); !r) return r;
  }
  return tx.commit();
}

Result<std::optional<uint64_t>> SqliteStore::linkedBlob(RepositoryId repository,
                                                        std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s =
      (*c)->prepare("SELECT size FROM repository_blobs WHERE repository_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  const int rc = (*s)->step();
  if (rc == SQLITE_ROW) return std::optional<uint64_t>(static_cast<uint64_t>((*s)->integer(0)));
  if (rc == SQLITE_DONE) return std::optional<uint64_t>();
  return (*c)->fail("select blob link");
}

Result<bool> SqliteStore::unlinkBlob(RepositoryId repository, std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  if (auto r = run(**c, **s); !r) return r.takeError();
  return sqlite3_changes((*c)->db()) > 0;
}

Result<void> SqliteStore::putManifest(RegistryId registry, RepositoryId repository,
                                      const ManifestRecord& m, const std::vector<ManifestRef>& refs,
                                      std::optional<std::string_view> tag) {
  auto c = lease();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r;
  const auto now = nowSeconds();
  {
    // Content-addressed: a second PUT of the same digest changes nothing but tags.
    auto s = (*c)->prepare(
        "INSERT OR IGNORE INTO manifests(repository_id, digest, registry_id, media_type, "
        "artifact_type, size, payload, subject, annotations, created) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, m.digest).bind(3, registry).bind(4, m.mediaType);
    (*s)->bind(5, m.artifactType).bind(6, static_cast<int64_t>(m.size)).bindBlob(7, m.payload);
    (*s)->bind(8, m.subject).bind(9, m.annotations).bind(10, now);
    if (auto r = run(**c, **s); !r) return r;
  }
  for (const auto& ref : refs) {
    auto s = (*c)->prepare(
        "INSERT OR IGNORE INTO manifest_refs(repository_id, manifest_digest, ref_digest, "
        "registry_id, is_manifest) VALUES(?, ?, ?, ?, ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, m.digest).bind(3, ref.digest).bind(4, registry);
    (*s)->bind(5, int64_t{ref.manifest ? 1 : 0});
    if (auto r = run(**c, **s); !r) return r;
  }
  if (tag) {
    auto s = (*c)->prepare(
        "INSERT INTO tags(repository_id, name, registry_id, digest, updated) "
        "VALUES(?, ?, ?, ?, ?) ON CONFLICT(repository_id, name) DO UPDATE SET "
        "digest = excluded.digest, updated = excluded.updated");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, *tag).bind(3, registry).bind(4, m.digest).bind(5, now);
    if (auto r = run(**c, **s); !r) return r;
  }
  {
    auto s = (*c)->prepare("UPDATE repositories SET updated = ? WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, now).bind(2, repository);
    if (auto r = run(**c, **s); !r) return r;
  }
  return tx.commit();
}

Result<std::optional<ManifestRecord>> SqliteStore::getManifest(RepositoryId repository,
                                                               std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT media_type, artifact_type, size, payload, subject, annotations, created "
      "FROM manifests WHERE repository_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  const int rc = (*s)->step();
  if (rc == SQLITE_DONE) return std::optional<ManifestRecord>();
  if (rc != SQLITE_ROW) return (*c)->fail("select manifest");
  ManifestRecord m;
  m.digest = std::string(digest);
  m.mediaType = (*s)->text(0);
  m.artifactType = (*s)->text(1);
  m.size = static_cast<uint64_t>((*s)->integer(2));
  m.payload = (*s)->text(3);
  m.subject = (*s)->text(4);
  m.annotations = (*s)->text(5);
  m.created = (*s)->integer(6);
  return std::optional<ManifestRecord>(std::move(m));
}

Result<bool> SqliteStore::hasManifest(RepositoryId repository, std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  const int rc = (*s)->step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return (*c)->fail("select manifest");
}

Result<bool> SqliteStore::deleteManifest(RepositoryId repository, std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  bool existed = false;
  static constexpr const char* kDeletes[] = {
      "DELETE FROM manifests WHERE repository_id = ? AND digest = ?",
      "DELETE FROM manifest_refs WHERE repository_id = ? AND manifest_digest = ?",
      "DELETE FROM tags WHERE repository_id = ? AND digest = ?",
  };
  for (const char* sql : kDeletes) {
    auto s = (*c)->prepare(sql);
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, digest);
    if (auto r = run(**c, **s); !r) return r.takeError();
    if (sql == kDeletes[0]) existed = sqlite3_changes((*c)->db()) > 0;
  }
  if (auto r = tx.commit(); !r) return r.takeError();
  return existed;
}

Result<std::optional<std::string>> SqliteStore::resolveTag(RepositoryId repository,
                                                           std::string_view tag) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("SELECT digest FROM tags WHERE repository_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag);
  const int rc = (*s)->step();
  if (rc == SQLITE_ROW) return std::optional<std::string>((*s)->text(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return (*c)->fail("select tag");
}

Result<bool> SqliteStore::deleteTag(RepositoryId repository, std::string_view tag) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("DELETE FROM tags WHERE repository_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag);
  if (auto r = run(**c, **s); !r) return r.takeError();
  return sqlite3_changes((*c)->db()) > 0;
}

Result<Page> SqliteStore::listTags(RepositoryId repository, std::string_view after, size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, after).bind(3, static_cast<int64_t>(limit) + 1);
  return readPage(**c, **s, limit);
}

Result<std::vector<ManifestRecord>> SqliteStore::referrers(RepositoryId repository,
                                                           std::string_view subject) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT digest, media_type, artifact_type, size, annotations, created FROM manifests "
      "WHERE repository_id = ? AND subject = ? AND subject <> '' ORDER BY digest");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, subject);
  std::vector<ManifestRecord> out;
  for (;;) {
    const int rc = (*s)->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return (*c)->fail("select referrers");
    ManifestRecord m;
    m.digest = (*s)->text(0);
    m.mediaType = (*s)->text(1);
    m.artifactType = (*s)->text(2);
    m.size = static_cast<uint64_t>((*s)->integer(3));
    m.annotations = (*s)->text(4);
    m.created = (*s)->integer(5);
    m.subject = std::string(subject);
    out.push_back(std::move(m));
  }
  return out;
}

Result<void> SqliteStore::createUpload(const UploadRecord& u) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "INSERT INTO uploads(uuid, registry_id, repository, created) VALUES(?, ?, ?, ?)");
  if (!s) return s.takeError();
  (*s)->bind(1, u.uuid).bind(2, u.registry).bind(3, u.repository).bind(4, nowSeconds());
  return run(**c, **s);
}

Result<std::optional<UploadRecord>> SqliteStore::getUpload(std::string_view uuid) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("SELECT registry_id, repository, created FROM uploads WHERE uuid = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, uuid);
  const int rc = (*s)->step();
  if (rc == SQLITE_DONE) return std::optional<UploadRecord>();
  if (rc != SQLITE_ROW) return (*c)->fail("select upload");
  UploadRecord u;
  u.uuid = std::string(uuid);
  u.registry = (*s)->integer(0);
  u.repository = (*s)->text(1);
  u.created = (*s)->integer(2);
  return std::optional<UploadRecord>(std::move(u));
}

Result<void> SqliteStore::deleteUpload(std::string_view uuid) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("DELETE FROM uploads WHERE uuid = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, uuid);
  return run(**c, **s);
}

}  // namespace berth::meta
