// The SQLite UpstreamStore: credential sets, import jobs, cache rules and cached tags.
#include "meta/sqlite/sqlite_upstreams.hpp"

#include <boost/json.hpp>

#include "meta/sqlite/database.hpp"
#include "meta/sqlite/json_columns.hpp"

namespace berth::meta {
namespace {

using sqlite::listFrom;
using sqlite::listJson;
using sqlite::run;
using sqlite::Stmt;
using sqlite::Transaction;

#define BERTH_SET_COLUMNS \
  "registry_id, name, login_server, username, sealed_password, created, updated"

CredentialSet setFrom(Stmt& s) {
  CredentialSet c;
  c.registry = s.integer(0);
  c.name = s.text(1);
  c.loginServer = s.text(2);
  c.username = s.text(3);
  c.sealedPassword = s.text(4);
  c.created = s.integer(5);
  c.updated = s.integer(6);
  return c;
}

#define BERTH_RULE_COLUMNS "registry_id, name, source, target, credential_set, created, updated"

CacheRule ruleFrom(Stmt& s) {
  CacheRule r;
  r.registry = s.integer(0);
  r.name = s.text(1);
  r.source = s.text(2);
  r.target = s.text(3);
  r.credentialSet = s.text(4);
  r.created = s.integer(5);
  r.updated = s.integer(6);
  return r;
}

#define BERTH_JOB_COLUMNS                                                             \
  "id, registry_id, source, targets, state, error, digest, manifests, blobs_copied, " \
  "blobs_mounted, blobs_present, bytes_copied, identity, created_ms, updated_ms, finished_ms"

ImportJob jobFrom(Stmt& s) {
  ImportJob j;
  j.id = s.text(0);
  j.registry = s.integer(1);
  j.source = s.text(2);
  j.targets = listFrom(s.text(3));
  j.state = s.text(4);
  j.error = s.text(5);
  j.digest = s.text(6);
  j.manifests = static_cast<uint64_t>(s.integer(7));
  j.blobsCopied = static_cast<uint64_t>(s.integer(8));
  j.blobsMounted = static_cast<uint64_t>(s.integer(9));
  j.blobsPresent = static_cast<uint64_t>(s.integer(10));
  j.bytesCopied = static_cast<uint64_t>(s.integer(11));
  j.identity = s.text(12);
  j.createdMs = s.integer(13);
  j.updatedMs = s.integer(14);
  j.finishedMs = s.integer(15);
  return j;
}

class SqliteUpstreamStore final : public UpstreamStore {
 public:
  explicit SqliteUpstreamStore(std::shared_ptr<sqlite::Database> db) : db_(std::move(db)) {}

  Result<void> createCredentialSet(const CredentialSet& set) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("INSERT OR IGNORE INTO credential_sets(" BERTH_SET_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!s) return s.takeError();
    const int64_t now = sqlite::nowSeconds();
    (*s)->bind(1, set.registry).bind(2, set.name).bind(3, set.loginServer).bind(4, set.username);
    (*s)->bind(5, set.sealedPassword).bind(6, now).bind(7, now);
    if (auto r = run(**c, **s); !r) return r;
    if (sqlite3_changes((*c)->db()) == 0) {
      return makeError(ApiCode::Conflict, "credential set " + set.name + " already exists");
    }
    return {};
  }

  Result<std::optional<CredentialSet>> credentialSet(RegistryId registry,
                                                     std::string_view name) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_SET_COLUMNS
                           " FROM credential_sets WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    const int rc = (*s)->step();
    if (rc == SQLITE_DONE) return std::optional<CredentialSet>();
    if (rc != SQLITE_ROW) return (*c)->fail("select credential set");
    return std::optional<CredentialSet>(setFrom(**s));
  }

  Result<std::vector<CredentialSet>> credentialSets(RegistryId registry) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_SET_COLUMNS
                           " FROM credential_sets WHERE registry_id = ? ORDER BY name");
    if (!s) return s.takeError();
    (*s)->bind(1, registry);
    std::vector<CredentialSet> out;
    for (int rc; (rc = (*s)->step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return (*c)->fail("select credential sets");
      out.push_back(setFrom(**s));
    }
    return out;
  }

  Result<bool> updateCredentialSet(const CredentialSet& set) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "UPDATE credential_sets SET login_server = ?, username = ?, sealed_password = ?, "
        "updated = ? WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, set.loginServer).bind(2, set.username).bind(3, set.sealedPassword);
    (*s)->bind(4, sqlite::nowSeconds()).bind(5, set.registry).bind(6, set.name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return sqlite3_changes((*c)->db()) > 0;
  }

  Result<bool> deleteCredentialSet(RegistryId registry, std::string_view name) override {
    return db_->freeing([&]() -> Result<bool> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      Transaction tx(**c);
      if (auto r = tx.begin(); !r) return r.takeError();
      {
        auto used = (*c)->prepare(
            "SELECT name FROM cache_rules WHERE registry_id = ? AND credential_set = ? "
            "ORDER BY name LIMIT 1");
        if (!used) return used.takeError();
        (*used)->bind(1, registry).bind(2, name);
        const int rc = (*used)->step();
        if (rc == SQLITE_ROW) {
          return makeError(ApiCode::Conflict, "credential set " + std::string(name) +
                                                  " is used by cache rule " + (*used)->text(0));
        }
        if (rc != SQLITE_DONE) return (*c)->fail("select cache rules");
      }
      auto s = (*c)->prepare("DELETE FROM credential_sets WHERE registry_id = ? AND name = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, name);
      if (auto r = run(**c, **s); !r) return r.takeError();
      const bool existed = sqlite3_changes((*c)->db()) > 0;
      if (auto r = tx.commit(); !r) return r.takeError();
      return existed;
    });
  }

  Result<void> createCacheRule(const CacheRule& rule) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("INSERT OR IGNORE INTO cache_rules(" BERTH_RULE_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!s) return s.takeError();
    const int64_t now = sqlite::nowSeconds();
    (*s)->bind(1, rule.registry).bind(2, rule.name).bind(3, rule.source).bind(4, rule.target);
    (*s)->bind(5, rule.credentialSet).bind(6, now).bind(7, now);
    if (auto r = run(**c, **s); !r) return r;
    if (sqlite3_changes((*c)->db()) == 0) {
      return makeError(ApiCode::Conflict, "a cache rule named " + rule.name + " or for target " +
                                              rule.target + " exists");
    }
    return {};
  }

  Result<std::optional<CacheRule>> cacheRule(RegistryId registry, std::string_view name) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_RULE_COLUMNS
                           " FROM cache_rules WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    const int rc = (*s)->step();
    if (rc == SQLITE_DONE) return std::optional<CacheRule>();
    if (rc != SQLITE_ROW) return (*c)->fail("select cache rule");
    return std::optional<CacheRule>(ruleFrom(**s));
  }

  Result<std::vector<CacheRule>> cacheRules(RegistryId registry) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_RULE_COLUMNS
                           " FROM cache_rules WHERE registry_id = ? ORDER BY name");
    if (!s) return s.takeError();
    (*s)->bind(1, registry);
    std::vector<CacheRule> out;
    for (int rc; (rc = (*s)->step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return (*c)->fail("select cache rules");
      out.push_back(ruleFrom(**s));
    }
    return out;
  }

  Result<bool> updateCacheRule(const CacheRule& rule) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "UPDATE cache_rules SET credential_set = ?, updated = ? WHERE registry_id = ? AND name = "
        "?");
    if (!s) return s.takeError();
    (*s)->bind(1, rule.credentialSet).bind(2, sqlite::nowSeconds());
    (*s)->bind(3, rule.registry).bind(4, rule.name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return sqlite3_changes((*c)->db()) > 0;
  }

  Result<bool> deleteCacheRule(RegistryId registry, std::string_view name) override {
    return db_->freeing([&]() -> Result<bool> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      auto s = (*c)->prepare("DELETE FROM cache_rules WHERE registry_id = ? AND name = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, name);
      if (auto r = run(**c, **s); !r) return r.takeError();
      return sqlite3_changes((*c)->db()) > 0;
    });
  }

  Result<std::optional<CachedTag>> cachedTag(RegistryId registry, std::string_view repository,
                                             std::string_view tag) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "SELECT digest, checked_ms FROM cached_tags WHERE registry_id = ? AND repository = ? "
        "AND tag = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, repository).bind(3, tag);
    const int rc = (*s)->step();
    if (rc == SQLITE_DONE) return std::optional<CachedTag>();
    if (rc != SQLITE_ROW) return (*c)->fail("select cached tag");
    return std::optional<CachedTag>(CachedTag{(*s)->text(0), (*s)->integer(1)});
  }

  Result<void> recordCachedTag(RegistryId registry, std::string_view repository,
                               std::string_view tag, const CachedTag& seen) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "INSERT INTO cached_tags(registry_id, repository, tag, digest, checked_ms) "
        "VALUES(?, ?, ?, ?, ?) ON CONFLICT(registry_id, repository, tag) DO UPDATE SET "
        "digest = excluded.digest, checked_ms = excluded.checked_ms");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, repository).bind(3, tag).bind(4, seen.digest);
    (*s)->bind(5, seen.checkedMs);
    return run(**c, **s);
  }

  Result<void> createImportJob(const ImportJob& j) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("INSERT INTO import_jobs(" BERTH_JOB_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s) return s.takeError();
    const auto targets = listJson(j.targets);
    (*s)->bind(1, j.id).bind(2, j.registry).bind(3, j.source).bind(4, targets);
    (*s)->bind(5, j.state).bind(6, j.error).bind(7, j.digest);
    bindProgress(**s, j, 8);
    (*s)->bind(13, j.identity).bind(14, j.createdMs).bind(15, j.updatedMs).bind(16, j.finishedMs);
    return run(**c, **s);
  }

  Result<bool> updateImportJob(const ImportJob& j) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "UPDATE import_jobs SET manifests = ?, blobs_copied = ?, blobs_mounted = ?, "
        "blobs_present = ?, bytes_copied = ?, state = ?, error = ?, digest = ?, updated_ms = ?, "
        "finished_ms = ? WHERE id = ?");
    if (!s) return s.takeError();
    bindProgress(**s, j, 1);
    (*s)->bind(6, j.state).bind(7, j.error).bind(8, j.digest).bind(9, j.updatedMs);
    (*s)->bind(10, j.finishedMs).bind(11, j.id);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return sqlite3_changes((*c)->db()) > 0;
  }

  Result<std::optional<ImportJob>> importJob(RegistryId registry, std::string_view id) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_JOB_COLUMNS
                           " FROM import_jobs WHERE registry_id = ? AND id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, id);
    const int rc = (*s)->step();
    if (rc == SQLITE_DONE) return std::optional<ImportJob>();
    if (rc != SQLITE_ROW) return (*c)->fail("select import job");
    return std::optional<ImportJob>(jobFrom(**s));
  }

  Result<std::vector<ImportJob>> importJobs(RegistryId registry, size_t limit) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_JOB_COLUMNS
                           " FROM import_jobs WHERE registry_id = ? "
                           "ORDER BY created_ms DESC, id LIMIT ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, static_cast<int64_t>(limit));
    std::vector<ImportJob> out;
    for (int rc; (rc = (*s)->step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return (*c)->fail("select import jobs");
      out.push_back(jobFrom(**s));
    }
    return out;
  }

  Result<uint64_t> pruneImportJobs(int64_t beforeMs) override {
    return db_->freeing([&]() -> Result<uint64_t> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      auto s = (*c)->prepare(
          "DELETE FROM import_jobs WHERE state IN ('succeeded', 'failed') AND finished_ms < ?");
      if (!s) return s.takeError();
      (*s)->bind(1, beforeMs);
      if (auto r = run(**c, **s); !r) return r.takeError();
      return static_cast<uint64_t>(sqlite3_changes((*c)->db()));
    });
  }

 private:
  static void bindProgress(Stmt& s, const ImportJob& j, int first) {
    s.bind(first, static_cast<int64_t>(j.manifests))
        .bind(first + 1, static_cast<int64_t>(j.blobsCopied))
        .bind(first + 2, static_cast<int64_t>(j.blobsMounted))
        .bind(first + 3, static_cast<int64_t>(j.blobsPresent))
        .bind(first + 4, static_cast<int64_t>(j.bytesCopied));
  }

  std::shared_ptr<sqlite::Database> db_;
};

}  // namespace

Result<UpstreamStorePtr> openSqliteUpstreamStore(const std::filesystem::path& file,
                                                 std::shared_ptr<DiskReserve> reserve) {
  auto db = sqlite::Database::open(file, std::move(reserve));
  if (!db) return db.takeError();
  return UpstreamStorePtr(new SqliteUpstreamStore(std::move(*db)));
}

}  // namespace berth::meta
