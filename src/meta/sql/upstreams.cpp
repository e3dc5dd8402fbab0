// The UpstreamStore: credential sets, import jobs, cache rules, cached tags and replications.

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>

#include "meta/sql/database.hpp"
#include "meta/sql/json_columns.hpp"
#include "meta/sql/store_impl.hpp"

namespace berth::meta {
namespace {

using sql::listFrom;
using sql::listJson;
using sql::run;
using sql::Stmt;
using sql::Transaction;

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

#define BERTH_REPLICATION_COLUMNS \
  "registry_id, name, target, credential_set, scopes, mode, enabled, created, updated"

Replication replicationFrom(Stmt& s) {
  Replication r;
  r.registry = s.integer(0);
  r.name = s.text(1);
  r.target = s.text(2);
  r.credentialSet = s.text(3);
  r.scopes = listFrom(s.text(4));
  r.mode = s.text(5);
  r.enabled = s.integer(6) != 0;
  r.created = s.integer(7);
  r.updated = s.integer(8);
  return r;
}

#define BERTH_TASK_COLUMNS                                                              \
  "id, registry_id, replication, action, repository, tag, digest, event_ms, attempts, " \
  "next_attempt_ms, error"

ReplicationTask taskFrom(Stmt& s) {
  ReplicationTask t;
  t.id = s.integer(0);
  t.registry = s.integer(1);
  t.replication = s.text(2);
  t.action = s.text(3);
  t.repository = s.text(4);
  t.tag = s.text(5);
  t.digest = s.text(6);
  t.eventMs = s.integer(7);
  t.attempts = static_cast<uint32_t>(s.integer(8));
  t.nextAttemptMs = s.integer(9);
  t.error = s.text(10);
  return t;
}

// When tasks are due next: a claim's lease, its extension, or a release.
Result<void> setDue(sql::Connection& c, const std::vector<int64_t>& tasks, int64_t dueMs) {
  for (const auto id : tasks) {
    auto s = c.prepare("UPDATE replication_tasks SET next_attempt_ms = ? WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, dueMs).bind(2, id);
    if (auto r = run(c, **s); !r) return r;
  }
  return {};
}

Result<void> insertTask(sql::Connection& c, const ReplicationTask& t) {
  auto s = c.prepare(
      "INSERT INTO replication_tasks(registry_id, replication, action, repository, tag, digest, "
      "event_ms, attempts, next_attempt_ms, error) VALUES(?, ?, ?, ?, ?, ?, ?, 0, ?, '')");
  if (!s) return s.takeError();
  (*s)->bind(1, t.registry).bind(2, t.replication).bind(3, t.action).bind(4, t.repository);
  (*s)->bind(5, t.tag).bind(6, t.digest).bind(7, t.eventMs).bind(8, t.nextAttemptMs);
  return run(c, **s);
}

// "<registry id>/<name>" split back.
std::optional<std::pair<RegistryId, std::string>> splitKey(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return std::nullopt;
  return std::pair(static_cast<RegistryId>(std::strtoll(key.c_str(), nullptr, 10)),
                   key.substr(slash + 1));
}

class SqlUpstreamStore final : public UpstreamStore {
 public:
  explicit SqlUpstreamStore(std::shared_ptr<sql::Database> db) : db_(std::move(db)) {}

  Result<void> createCredentialSet(const CredentialSet& set) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("INSERT INTO credential_sets(" BERTH_SET_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    const int64_t now = sql::nowSeconds();
    (*s)->bind(1, set.registry).bind(2, set.name).bind(3, set.loginServer).bind(4, set.username);
    (*s)->bind(5, set.sealedPassword).bind(6, now).bind(7, now);
    if (auto r = run(**c, **s); !r) return r;
    if ((*c)->changes() == 0) {
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
    if (rc == sql::kDone) return std::optional<CredentialSet>();
    if (rc != sql::kRow) return (*c)->fail("select credential set");
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
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select credential sets");
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
    (*s)->bind(4, sql::nowSeconds()).bind(5, set.registry).bind(6, set.name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return (*c)->changes() > 0;
  }

  Result<bool> deleteCredentialSet(RegistryId registry, std::string_view name) override {
    return db_->freeing([&]() -> Result<bool> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      Transaction tx(**c);
      if (auto r = tx.begin(); !r) return r.takeError();
      // Not while a cache rule or a replication logs in with it.
      static constexpr std::pair<const char*, const char*> kUsers[] = {
          {"SELECT name FROM cache_rules WHERE registry_id = ? AND credential_set = ? "
           "ORDER BY name LIMIT 1",
           "cache rule "},
          {"SELECT name FROM replications WHERE registry_id = ? AND credential_set = ? "
           "ORDER BY name LIMIT 1",
           "replication "},
      };
      for (const auto& [sql, what] : kUsers) {
        auto used = (*c)->prepare(sql);
        if (!used) return used.takeError();
        (*used)->bind(1, registry).bind(2, name);
        const int rc = (*used)->step();
        if (rc == sql::kRow) {
          return makeError(ApiCode::Conflict, "credential set " + std::string(name) +
                                                  " is used by " + what + (*used)->text(0));
        }
        if (rc != sql::kDone) return (*c)->fail("select the credential set's users");
      }
      auto s = (*c)->prepare("DELETE FROM credential_sets WHERE registry_id = ? AND name = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, name);
      if (auto r = run(**c, **s); !r) return r.takeError();
      const bool existed = (*c)->changes() > 0;
      if (auto r = tx.commit(); !r) return r.takeError();
      return existed;
    });
  }

  Result<void> createCacheRule(const CacheRule& rule) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("INSERT INTO cache_rules(" BERTH_RULE_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    const int64_t now = sql::nowSeconds();
    (*s)->bind(1, rule.registry).bind(2, rule.name).bind(3, rule.source).bind(4, rule.target);
    (*s)->bind(5, rule.credentialSet).bind(6, now).bind(7, now);
    if (auto r = run(**c, **s); !r) return r;
    if ((*c)->changes() == 0) {
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
    if (rc == sql::kDone) return std::optional<CacheRule>();
    if (rc != sql::kRow) return (*c)->fail("select cache rule");
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
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select cache rules");
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
    (*s)->bind(1, rule.credentialSet).bind(2, sql::nowSeconds());
    (*s)->bind(3, rule.registry).bind(4, rule.name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return (*c)->changes() > 0;
  }

  Result<bool> deleteCacheRule(RegistryId registry, std::string_view name) override {
    return db_->freeing([&]() -> Result<bool> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      auto s = (*c)->prepare("DELETE FROM cache_rules WHERE registry_id = ? AND name = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, name);
      if (auto r = run(**c, **s); !r) return r.takeError();
      return (*c)->changes() > 0;
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
    if (rc == sql::kDone) return std::optional<CachedTag>();
    if (rc != sql::kRow) return (*c)->fail("select cached tag");
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
    return (*c)->changes() > 0;
  }

  Result<std::optional<ImportJob>> importJob(RegistryId registry, std::string_view id) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_JOB_COLUMNS
                           " FROM import_jobs WHERE registry_id = ? AND id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, id);
    const int rc = (*s)->step();
    if (rc == sql::kDone) return std::optional<ImportJob>();
    if (rc != sql::kRow) return (*c)->fail("select import job");
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
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select import jobs");
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
      return static_cast<uint64_t>((*c)->changes());
    });
  }

  Result<void> createReplication(const Replication& r) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("INSERT INTO replications(" BERTH_REPLICATION_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    const int64_t now = sql::nowSeconds();
    const auto scopes = listJson(r.scopes);
    (*s)->bind(1, r.registry).bind(2, r.name).bind(3, r.target).bind(4, r.credentialSet);
    (*s)->bind(5, scopes).bind(6, r.mode).bind(7, int64_t{r.enabled ? 1 : 0});
    (*s)->bind(8, now).bind(9, now);
    if (auto e = run(**c, **s); !e) return e;
    if ((*c)->changes() == 0) {
      return makeError(ApiCode::Conflict, "replication " + r.name + " already exists");
    }
    return {};
  }

  Result<std::optional<Replication>> replication(RegistryId registry,
                                                 std::string_view name) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_REPLICATION_COLUMNS
                           " FROM replications WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    const int rc = (*s)->step();
    if (rc == sql::kDone) return std::optional<Replication>();
    if (rc != sql::kRow) return (*c)->fail("select replication");
    return std::optional<Replication>(replicationFrom(**s));
  }

  Result<std::vector<Replication>> replications(RegistryId registry) override {
    return selectReplications("SELECT " BERTH_REPLICATION_COLUMNS
                              " FROM replications WHERE registry_id = ?1 "
                              "ORDER BY name",
                              registry);
  }

  Result<bool> updateReplication(const Replication& r) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "UPDATE replications SET target = ?, credential_set = ?, scopes = ?, enabled = ?, "
        "updated = ? WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    const auto scopes = listJson(r.scopes);
    (*s)->bind(1, r.target).bind(2, r.credentialSet).bind(3, scopes);
    (*s)->bind(4, int64_t{r.enabled ? 1 : 0}).bind(5, sql::nowSeconds());
    (*s)->bind(6, r.registry).bind(7, r.name);
    if (auto e = run(**c, **s); !e) return e.takeError();
    return (*c)->changes() > 0;
  }

  Result<bool> deleteReplication(RegistryId registry, std::string_view name) override {
    return db_->freeing([&]() -> Result<bool> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      Transaction tx(**c);
      if (auto r = tx.begin(); !r) return r.takeError();
      bool existed = false;
      for (const char* sql : {"DELETE FROM replication_tasks WHERE registry_id = ? AND "
                              "replication = ?",
                              "DELETE FROM replications WHERE registry_id = ? AND name = ?"}) {
        auto s = (*c)->prepare(sql);
        if (!s) return s.takeError();
        (*s)->bind(1, registry).bind(2, name);
        if (auto r = run(**c, **s); !r) return r.takeError();
        existed = (*c)->changes() > 0;
      }
      if (auto r = tx.commit(); !r) return r.takeError();
      return existed;
    });
  }

  Result<ReplicationStatus> replicationStatus(RegistryId registry, std::string_view name) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    ReplicationStatus out;
    {
      auto s = (*c)->prepare(
          "SELECT replicated, failed, dropped, last_success_ms, last_error_ms, last_error, "
          "sync_requested_ms, last_sync_ms FROM replications WHERE registry_id = ? AND name = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, name);
      const int rc = (*s)->step();
      if (rc == sql::kDone) {
        return makeError(ApiCode::NameUnknown, "replication " + std::string(name) + " not found");
      }
      if (rc != sql::kRow) return (*c)->fail("select replication status");
      out.replicated = static_cast<uint64_t>((*s)->integer(0));
      out.failed = static_cast<uint64_t>((*s)->integer(1));
      out.dropped = static_cast<uint64_t>((*s)->integer(2));
      out.lastSuccessMs = (*s)->integer(3);
      out.lastErrorMs = (*s)->integer(4);
      out.lastError = (*s)->text(5);
      out.syncRequestedMs = (*s)->integer(6);
      out.lastSyncMs = (*s)->integer(7);
    }
    auto s = (*c)->prepare(
        "SELECT COUNT(*), COALESCE(MIN(event_ms), 0) FROM replication_tasks "
        "WHERE registry_id = ? AND replication = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    if ((*s)->step() != sql::kRow) return (*c)->fail("select replication queue");
    out.queued = static_cast<uint64_t>((*s)->integer(0));
    out.oldestEventMs = (*s)->integer(1);
    return out;
  }

  Result<std::vector<std::pair<std::string, uint64_t>>> replicationQueues() override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "SELECT registry_id, replication, COUNT(*) FROM replication_tasks "
        "GROUP BY registry_id, replication");
    if (!s) return s.takeError();
    std::vector<std::pair<std::string, uint64_t>> out;
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select replication queues");
      out.emplace_back(std::to_string((*s)->integer(0)) + "/" + (*s)->text(1),
                       static_cast<uint64_t>((*s)->integer(2)));
    }
    return out;
  }

  Result<bool> queueReplicationTasks(
      std::string_view consumer, int64_t from, int64_t to,
      const std::vector<ReplicationTask>& tasks,
      const std::vector<std::pair<std::string, uint64_t>>& dropped) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    auto moved = moveEventCursor(**c, consumer, from, to);
    if (!moved || !*moved) return moved;
    for (const auto& t : tasks) {
      if (auto r = insertTask(**c, t); !r) return r.takeError();
    }
    for (const auto& [key, count] : dropped) {
      const auto parts = splitKey(key);
      if (!parts) continue;
      auto s = (*c)->prepare(
          "UPDATE replications SET dropped = dropped + ? WHERE registry_id = ? AND name = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, static_cast<int64_t>(count)).bind(2, parts->first).bind(3, parts->second);
      if (auto r = run(**c, **s); !r) return r.takeError();
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return true;
  }

  Result<bool> queueSync(RegistryId registry, std::string_view name,
                         const std::vector<ReplicationTask>& tasks, int64_t nowMs) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    auto s = (*c)->prepare(
        "UPDATE replications SET sync_requested_ms = 0, last_sync_ms = ? "
        "WHERE registry_id = ? AND name = ? AND sync_requested_ms > 0");
    if (!s) return s.takeError();
    (*s)->bind(1, nowMs).bind(2, registry).bind(3, name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    if ((*c)->changes() == 0) return false;
    for (const auto& t : tasks) {
      if (auto r = insertTask(**c, t); !r) return r.takeError();
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return true;
  }

  Result<bool> requestSync(RegistryId registry, std::string_view name, int64_t nowMs) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "UPDATE replications SET sync_requested_ms = ? WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, nowMs).bind(2, registry).bind(3, name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return (*c)->changes() > 0;
  }

  Result<std::vector<Replication>> syncsRequested() override {
    return selectReplications("SELECT " BERTH_REPLICATION_COLUMNS
                              " FROM replications WHERE sync_requested_ms > 0 "
                              "ORDER BY sync_requested_ms",
                              std::nullopt);
  }

  Result<std::vector<ReplicationTask>> claimReplicationTasks(
      int64_t now, int64_t lease, size_t limit, const std::vector<std::string>& busy) override {
    std::vector<ReplicationTask> out;
    if (limit == 0) return out;
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    {
      // The first task of each replication and repository, if it is due: a later change to a
      // repository waits for the earlier ones (a delete never overtakes the push it undoes).
      auto s = (*c)->prepare(
          "SELECT " BERTH_TASK_COLUMNS
          " FROM replication_tasks WHERE id IN (SELECT MIN(id) FROM replication_tasks "
          "GROUP BY registry_id, replication, repository) AND next_attempt_ms <= ?1 "
          "ORDER BY next_attempt_ms, id");
      if (!s) return s.takeError();
      (*s)->bind(1, now);
      for (int rc; out.size() < limit && (rc = (*s)->step()) != sql::kDone;) {
        if (rc != sql::kRow) return (*c)->fail("select replication tasks");
        auto t = taskFrom(**s);
        const auto key = std::to_string(t.registry) + "/" + t.replication + "/" + t.repository;
        if (std::find(busy.begin(), busy.end(), key) != busy.end()) continue;
        out.push_back(std::move(t));
      }
    }
    std::vector<int64_t> ids;
    for (const auto& t : out) ids.push_back(t.id);
    if (auto r = setDue(**c, ids, now + lease); !r) return r.takeError();
    if (auto r = tx.commit(); !r) return r.takeError();
    return out;
  }

  Result<void> extendReplicationLeases(const std::vector<int64_t>& tasks,
                                       int64_t untilMs) override {
    if (tasks.empty()) return {};
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r;
    if (auto r = setDue(**c, tasks, untilMs); !r) return r;
    return tx.commit();
  }

  Result<void> recordReplicationOutcomes(const std::vector<TaskOutcome>& outcomes) override {
    if (outcomes.empty()) return {};
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    auto exec = [&](const char* sql, auto&& bind) -> Result<void> {
      auto s = (*c)->prepare(sql);
      if (!s) return s.takeError();
      bind(**s);
      return run(**c, **s);
    };
    for (const auto& o : outcomes) {
      Result<void> r;
      if (o.state == "release") {  // not attempted after all: due again, nothing counted
        if (r = setDue(**c, {o.task}, o.nextAttemptMs); !r) return r;
        continue;
      }
      if (o.state == "retry") {
        r = exec(
            "UPDATE replication_tasks SET attempts = attempts + 1, next_attempt_ms = ?, "
            "error = ? WHERE id = ?",
            [&](Stmt& s) { s.bind(1, o.nextAttemptMs).bind(2, o.error).bind(3, o.task); });
      } else {
        r = exec("DELETE FROM replication_tasks WHERE id = ?", [&](Stmt& s) { s.bind(1, o.task); });
      }
      if (!r) return r;
      if (o.state == "done") {
        r = exec(
            "UPDATE replications SET replicated = replicated + 1, last_success_ms = ? "
            "WHERE registry_id = ? AND name = ?",
            [&](Stmt& s) { s.bind(1, o.atMs).bind(2, o.registry).bind(3, o.replication); });
      } else {
        r = exec(
            "UPDATE replications SET failed = failed + ?, last_error_ms = ?, last_error = ? "
            "WHERE registry_id = ? AND name = ?",
            [&](Stmt& s) {
              s.bind(1, int64_t{o.state == "failed" ? 1 : 0}).bind(2, o.atMs).bind(3, o.error);
              s.bind(4, o.registry).bind(5, o.replication);
            });
      }
      if (!r) return r;
    }
    return tx.commit();
  }

 private:
  Result<std::vector<Replication>> selectReplications(const char* sql,
                                                      std::optional<RegistryId> registry) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(sql);
    if (!s) return s.takeError();
    if (registry) (*s)->bind(1, *registry);
    std::vector<Replication> out;
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select replications");
      out.push_back(replicationFrom(**s));
    }
    return out;
  }

  static void bindProgress(Stmt& s, const ImportJob& j, int first) {
    s.bind(first, static_cast<int64_t>(j.manifests))
        .bind(first + 1, static_cast<int64_t>(j.blobsCopied))
        .bind(first + 2, static_cast<int64_t>(j.blobsMounted))
        .bind(first + 3, static_cast<int64_t>(j.blobsPresent))
        .bind(first + 4, static_cast<int64_t>(j.bytesCopied));
  }

  std::shared_ptr<sql::Database> db_;
};

}  // namespace

UpstreamStorePtr makeSqlUpstreamStore(sql::DatabasePtr db) {
  return UpstreamStorePtr(new SqlUpstreamStore(std::move(db)));
}

}  // namespace berth::meta
