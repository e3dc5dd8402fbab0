#include "meta/sqlite/database.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/log.hpp"
#include "core/unique_fd.hpp"

namespace berth::meta::sqlite {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS registries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL,
  admin_enabled INTEGER NOT NULL DEFAULT 0,
  anonymous_pull INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS repositories(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE TABLE IF NOT EXISTS admin_passwords(
  registry_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY(registry_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scope_maps(
  id INTEGER PRIMARY KEY,
  registry_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  UNIQUE(registry_id, name));
CREATE TABLE IF NOT EXISTS scope_map_rules(
  scope_map_id INTEGER NOT NULL,
  registry_id INTEGER NOT NULL,
  pattern TEXT NOT NULL,
  actions INTEGER NOT NULL,
  PRIMARY KEY(scope_map_id, pattern)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens(
  id INTEGER PRIMARY KEY,
  registry_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  scope_map TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created INTEGER NOT NULL,
  UNIQUE(registry_id, name));
CREATE TABLE IF NOT EXISTS token_passwords(
  token_id INTEGER NOT NULL,
  registry_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  expiry INTEGER,
  created INTEGER NOT NULL,
  PRIMARY KEY(token_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gc_runs(
  registry_id INTEGER PRIMARY KEY,
  started INTEGER NOT NULL,
  finished INTEGER NOT NULL,
  dry_run INTEGER NOT NULL,
  uploads_removed INTEGER NOT NULL,
  links_removed INTEGER NOT NULL,
  blobs_removed INTEGER NOT NULL,
  bytes_removed INTEGER NOT NULL,
  orphans_removed INTEGER NOT NULL,
  error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tag_history(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id INTEGER NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  action TEXT NOT NULL,
  old_digest TEXT NOT NULL,
  new_digest TEXT NOT NULL,
  identity TEXT NOT NULL,
  source TEXT NOT NULL,
  time INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tag_history_by_tag ON tag_history(registry_id, repository, tag, id);
CREATE INDEX IF NOT EXISTS tag_history_by_time ON tag_history(time);
CREATE TABLE IF NOT EXISTS registry_policies(
  registry_id INTEGER PRIMARY KEY,
  retention_enabled INTEGER NOT NULL,
  retention_days INTEGER NOT NULL,
  retention_updated INTEGER NOT NULL,
  soft_delete_enabled INTEGER NOT NULL,
  soft_delete_days INTEGER NOT NULL,
  soft_delete_updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS purge_schedules(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id INTEGER NOT NULL,
  cron TEXT NOT NULL,
  filters TEXT NOT NULL,
  ago_seconds INTEGER NOT NULL,
  untagged INTEGER NOT NULL,
  keep INTEGER NOT NULL,
  created INTEGER NOT NULL,
  next_run INTEGER NOT NULL,
  last_run INTEGER NOT NULL DEFAULT 0,
  last_result TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS deleted_manifests(
  repository_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  registry_id INTEGER NOT NULL,
  media_type TEXT NOT NULL,
  artifact_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  payload BLOB NOT NULL,
  subject TEXT NOT NULL,
  annotations TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  deleted_by TEXT NOT NULL,
  tags TEXT NOT NULL,
  PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deleted_manifests_by_time ON deleted_manifests(registry_id, deleted);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id INTEGER NOT NULL,
  uid TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  action TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  host TEXT NOT NULL,
  method TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  identity TEXT NOT NULL,
  source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS event_cursors(
  consumer TEXT PRIMARY KEY,
  position INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhooks(
  registry_id INTEGER NOT NULL REFERENCES registries(id),
  name TEXT NOT NULL,
  uri TEXT NOT NULL,
  actions TEXT NOT NULL,
  scopes TEXT NOT NULL,
  headers TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  sealed_secret TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY(registry_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id INTEGER NOT NULL,
  webhook TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  action TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL,
  status INTEGER NOT NULL,
  error TEXT NOT NULL,
  response TEXT NOT NULL,
  duration_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_attempt_ms);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries(registry_id, webhook, id);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(registry_id, webhook, id)
  WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  registry TEXT NOT NULL,
  identity TEXT NOT NULL,
  source TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  status INTEGER NOT NULL,
  request_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_registry ON audit(registry, id);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(time_ms);
CREATE TABLE IF NOT EXISTS principals(
  id TEXT PRIMARY KEY,
  kind INTEGER NOT NULL,
  display_name TEXT NOT NULL,
  password_hash TEXT,
  password_changed INTEGER NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS principal_secrets(
  principal_id TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  expiry INTEGER,
  created INTEGER NOT NULL,
  PRIMARY KEY(principal_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS role_assignments(
  id TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL,
  role TEXT NOT NULL,
  registry_id INTEGER NOT NULL,
  repository TEXT NOT NULL,
  created INTEGER NOT NULL,
  UNIQUE(principal_id, role, registry_id, repository));
CREATE INDEX IF NOT EXISTS role_assignments_by_registry ON role_assignments(registry_id);
CREATE TABLE IF NOT EXISTS federated_credentials(
  principal_id TEXT NOT NULL,
  name TEXT NOT NULL,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  audience TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY(principal_id, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS federated_credentials_by_issuer ON federated_credentials(issuer);
CREATE TABLE IF NOT EXISTS sessions(
  id TEXT PRIMARY KEY,
  kind INTEGER NOT NULL,
  registry_id INTEGER,
  subject TEXT NOT NULL,
  secret_name TEXT NOT NULL,
  secret_created INTEGER NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires);
CREATE INDEX IF NOT EXISTS sessions_by_identity ON sessions(kind, registry_id, subject, created);
CREATE TABLE IF NOT EXISTS signing_keys(
  kid TEXT PRIMARY KEY,
  private_pem TEXT NOT NULL,
  created INTEGER NOT NULL,
  retired INTEGER);
CREATE TABLE IF NOT EXISTS credential_sets(
  registry_id INTEGER NOT NULL REFERENCES registries(id),
  name TEXT NOT NULL,
  login_server TEXT NOT NULL,
  username TEXT NOT NULL,
  sealed_password TEXT NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY(registry_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS import_jobs(
  id TEXT PRIMARY KEY,
  registry_id INTEGER NOT NULL REFERENCES registries(id),
  source TEXT NOT NULL,
  targets TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT NOT NULL,
  digest TEXT NOT NULL,
  manifests INTEGER NOT NULL,
  blobs_copied INTEGER NOT NULL,
  blobs_mounted INTEGER NOT NULL,
  blobs_present INTEGER NOT NULL,
  bytes_copied INTEGER NOT NULL,
  identity TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS import_jobs_by_registry ON import_jobs(registry_id, created_ms);
CREATE TABLE IF NOT EXISTS cache_rules(
  registry_id INTEGER NOT NULL REFERENCES registries(id),
  name TEXT NOT NULL,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  credential_set TEXT NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY(registry_id, name),
  UNIQUE(registry_id, target)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cached_tags(
  registry_id INTEGER NOT NULL REFERENCES registries(id),
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  checked_ms INTEGER NOT NULL,
  PRIMARY KEY(registry_id, repository, tag)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replications(
  registry_id INTEGER NOT NULL REFERENCES registries(id),
  name TEXT NOT NULL,
  target TEXT NOT NULL,
  credential_set TEXT NOT NULL,
  scopes TEXT NOT NULL,
  mode TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  replicated INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  last_success_ms INTEGER NOT NULL DEFAULT 0,
  last_error_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  sync_requested_ms INTEGER NOT NULL DEFAULT 0,
  last_sync_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(registry_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replication_tasks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  registry_id INTEGER NOT NULL,
  replication TEXT NOT NULL,
  action TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  event_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS replication_tasks_by_key
  ON replication_tasks(registry_id, replication, repository, id);
)sql";

// Columns added after the first release of the schema: databases made before them get them
// here, with the defaults that keep earlier behaviour.
struct AddedColumn {
  const char* table;
  const char* column;
  const char* declaration;
};
constexpr AddedColumn kAddedColumns[] = {
    {"registries", "sku", "TEXT NOT NULL DEFAULT 'Basic'"},
    {"registries", "quota_bytes", "INTEGER NOT NULL DEFAULT 10737418240"},
    {"registries", "used_bytes", "INTEGER NOT NULL DEFAULT 0"},
    {"registries", "storage_path", "TEXT NOT NULL DEFAULT ''"},
    {"registries", "audit_pulls", "INTEGER NOT NULL DEFAULT 0"},
    {"repositories", "read_enabled", "INTEGER NOT NULL DEFAULT 1"},
    {"repositories", "write_enabled", "INTEGER NOT NULL DEFAULT 1"},
    {"repositories", "delete_enabled", "INTEGER NOT NULL DEFAULT 1"},
    {"repositories", "list_enabled", "INTEGER NOT NULL DEFAULT 1"},
    {"tags", "created", "INTEGER NOT NULL DEFAULT 0"},
    {"tags", "write_enabled", "INTEGER NOT NULL DEFAULT 1"},
    {"tags", "delete_enabled", "INTEGER NOT NULL DEFAULT 1"},
    {"manifests", "write_enabled", "INTEGER NOT NULL DEFAULT 1"},
    {"manifests", "delete_enabled", "INTEGER NOT NULL DEFAULT 1"},
    // When a link was last made or stopped being referenced: the grace period counts from it.
    {"repository_blobs", "touched", "INTEGER NOT NULL DEFAULT 0"},
};

// Indexes on added columns, or added after the first release; created after the columns.
constexpr const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS repository_blobs_by_blob ON repository_blobs(registry_id, digest);
CREATE INDEX IF NOT EXISTS manifest_refs_by_ref ON manifest_refs(repository_id, ref_digest);
CREATE INDEX IF NOT EXISTS uploads_by_registry ON uploads(registry_id, created);
)sql";

Result<void> addMissingColumns(Connection& c) {
  for (const auto& added : kAddedColumns) {
    const std::string probe =
        std::string("SELECT ") + added.column + " FROM " + added.table + " LIMIT 0";
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(c.db(), probe.c_str(), -1, &stmt, nullptr);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_OK) continue;
    const std::string alter = std::string("ALTER TABLE ") + added.table + " ADD COLUMN " +
                              added.column + " " + added.declaration;
    if (auto r = c.exec(alter.c_str()); !r) return r;
  }
  return {};
}

// SQLite's own busy timeout sleeps 1, 2, 5, 10 ms and longer between attempts to get the
// write lock: the transaction it waits for takes tens of microseconds here, so concurrent
// writers (pushes at the same moment) spent most of their time asleep. This one tries again
// after 50 µs at first, then backs off to 1 ms, and gives up after about 10 s, as before.
int waitForWriter(void*, int attempts) {
  constexpr int kShort = 40;  // 40 x 50 µs = 2 ms
  constexpr int kLimit = kShort + 10000;
  if (attempts >= kLimit) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(attempts < kShort ? 50 : 1000));
  return 1;
}

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
  sqlite3_busy_handler(db.get(), waitForWriter, nullptr);
  return db;
}

}  // namespace

Error storeError(sqlite3* db, std::string_view op, std::string_view message) {
  sql::Database::countError();
  const int code = sqlite3_extended_errcode(db);
  const bool full = (code & 0xff) == SQLITE_FULL || isNoSpace(sqlite3_system_errno(db));
  log::error("sqlite failed", {{"op", op}, {"error", message}, {"code", code}});
  if (full) return makeError(ApiCode::InsufficientStorage, "metadata store: disk full");
  return makeError(ApiCode::Unknown, "metadata store error");
}

Result<std::unique_ptr<sql::Connection>> Database::connect(bool reader) {
  auto db = openDb(file_);
  if (!db) return db.takeError();
  auto c = std::make_unique<Connection>(db->release());
  auto pragmas =
      c->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!pragmas) return pragmas.takeError();
  // Writes go through writer() alone: SQLite refuses them on the pool's connections.
  if (reader) {
    if (auto r = c->exec("PRAGMA query_only=1"); !r) return r.takeError();
  }
  return std::unique_ptr<sql::Connection>(std::move(c));
}

Result<void> Database::prepareSchema() {
  auto c = writer();
  if (!c) return c.takeError();
  if (auto schema = (*c)->exec(kSchema); !schema) return schema.takeError();
  if (auto added = addMissingColumns(static_cast<Connection&>(**c)); !added) return added;
  return (*c)->exec(kIndexes);
}

Result<std::shared_ptr<Database>> Database::open(const std::filesystem::path& file,
                                                 std::shared_ptr<DiskReserve> reserve) {
  std::shared_ptr<Database> db(new Database(file, std::move(reserve)));
  // Opening writes too (the WAL index, a schema change): a full disk must not keep berth from
  // starting and serving what it holds.
  if (auto r = db->freeing([&] { return db->prepareSchema(); }); !r) return r.takeError();
  // The pool starts with one reader, as the process starts with its writer.
  if (auto reader = db->lease(); !reader) return reader.takeError();
  return db;
}

std::filesystem::path Database::topicFile(sql::Topic topic) const {
  auto path = file_;
  path += "-";
  path += sql::topicName(topic);
  return path;
}

uint64_t Database::generation(sql::Topic topic) {
  struct stat st {};
  if (::stat(topicFile(topic).c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size) * 1000003u ^
         static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000u ^
         static_cast<uint64_t>(st.st_mtim.tv_nsec);
}

void Database::announce(sql::Topic topic) {
  UniqueFd fd(::open(topicFile(topic).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (fd) [[maybe_unused]]
    auto n = ::write(fd.get(), "+", 1);
}

}  // namespace berth::meta::sqlite
