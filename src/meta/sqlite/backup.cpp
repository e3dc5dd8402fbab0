#include "meta/sqlite/backup.hpp"

#include <sqlite3.h>

#include <memory>

#include "meta/sqlite/database.hpp"

namespace berth::meta::sqlite {
namespace {

using Handle = std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)>;

Result<Handle> open(const std::filesystem::path& file, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Handle db(raw, &sqlite3_close_v2);
  if (rc != SQLITE_OK) {
    return makeError(ApiCode::Unknown, "cannot open database " + file.string() + ": " +
                                           (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db.get(), 10000);
  return db;
}

}  // namespace

Result<void> snapshotDatabase(const std::filesystem::path& from, const std::filesystem::path& to) {
  auto source = open(from, SQLITE_OPEN_READONLY);
  if (!source) return source.takeError();
  auto target = open(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!target) return target.takeError();
  sqlite3_backup* backup = sqlite3_backup_init(target->get(), "main", source->get(), "main");
  if (backup == nullptr) return storeError(target->get(), "backup", sqlite3_errmsg(target->get()));
  // All pages in one step: one read transaction on the source, so the copy is of one moment.
  int rc = SQLITE_OK;
  for (int attempt = 0; attempt < 100; ++attempt) {
    rc = sqlite3_backup_step(backup, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(100);
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return storeError(target->get(), "backup", sqlite3_errstr(rc));
  // The copy stands alone: no write-ahead log beside it.
  Connection c(target->release());
  auto journal = c.exec("PRAGMA journal_mode=DELETE");
  return journal;
}

Result<std::vector<SnapshotRegistry>> snapshotRegistries(const std::filesystem::path& db) {
  auto handle = open(db, SQLITE_OPEN_READONLY);
  if (!handle) return handle.takeError();
  Connection c(handle->release());
  auto s = c.prepare("SELECT id, name, storage_path FROM registries ORDER BY name");
  if (!s) return s.takeError();
  std::vector<SnapshotRegistry> out;
  int rc;
  while ((rc = (*s)->step()) == sql::kRow) {
    out.push_back(SnapshotRegistry{(*s)->integer(0), (*s)->text(1), (*s)->text(2)});
  }
  if (rc != sql::kDone) return c.fail("step");
  return out;
}

Result<void> forEachSnapshotBlob(const std::filesystem::path& db, int64_t registry,
                                 const std::function<Result<void>(const SnapshotBlob&)>& visit) {
  auto handle = open(db, SQLITE_OPEN_READONLY);
  if (!handle) return handle.takeError();
  Connection c(handle->release());
  auto s = c.prepare(
      "SELECT b.digest, b.size, EXISTS(SELECT 1 FROM manifest_refs r WHERE r.registry_id = "
      "b.registry_id AND r.ref_digest = b.digest AND r.is_manifest = 0) FROM blobs b "
      "WHERE b.registry_id = ? ORDER BY b.digest");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  int rc;
  while ((rc = (*s)->step()) == sql::kRow) {
    SnapshotBlob blob{(*s)->text(0), static_cast<uint64_t>((*s)->integer(1)),
                      (*s)->integer(2) != 0};
    if (auto r = visit(blob); !r) return r;
  }
  if (rc != sql::kDone) return c.fail("step");
  return {};
}

Result<void> forgetSnapshotBlobs(const std::filesystem::path& db, int64_t registry,
                                 const std::vector<SnapshotBlob>& blobs) {
  if (blobs.empty()) return {};
  auto handle = open(db, SQLITE_OPEN_READWRITE);
  if (!handle) return handle.takeError();
  Connection c(handle->release());
  sql::Transaction tx(c);
  if (auto r = tx.begin(); !r) return r;
  for (const auto& blob : blobs) {
    for (const char* sql :
         {"DELETE FROM repository_blobs WHERE registry_id = ?1 AND digest = ?2",
          "DELETE FROM blobs WHERE registry_id = ?1 AND digest = ?2",
          "UPDATE registries SET used_bytes = MAX(used_bytes - ?3, 0) WHERE id = ?1"}) {
      auto s = c.prepare(sql);
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, blob.digest).bind(3, static_cast<int64_t>(blob.size));
      if (auto r = sql::run(c, **s); !r) return r;
    }
  }
  return tx.commit();
}

Result<void> prepareRestoredDatabase(const std::filesystem::path& db) {
  auto handle = open(db, SQLITE_OPEN_READWRITE);
  if (!handle) return handle.takeError();
  Connection c(handle->release());
  {
    auto check = c.prepare("PRAGMA integrity_check");
    if (!check) return check.takeError();
    if ((*check)->step() != sql::kRow || (*check)->text(0) != "ok") {
      return makeError(ApiCode::Unknown,
                       "the database in the backup is damaged: " + (*check)->text(0));
    }
  }
  // Directories of their own are not carried over; object stores are.
  return c.exec(
      "DELETE FROM uploads; UPDATE registries SET storage_path = '' WHERE storage_path NOT LIKE "
      "'s3://%' AND storage_path NOT LIKE 'azblob://%'");
}

}  // namespace berth::meta::sqlite
