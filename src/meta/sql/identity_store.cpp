// The IdentityStore: its cache, registries, admin passwords and signing keys.
#include "meta/sql/identity_store_impl.hpp"

namespace berth::meta {
namespace {

using sql::Database;

// The columns every registry query selects, in this order.
RegistrySettings registryFrom(Stmt& s) {
  RegistrySettings r;
  r.id = s.integer(0);
  r.name = s.text(1);
  r.adminEnabled = s.integer(2) != 0;
  r.anonymousPull = s.integer(3) != 0;
  r.sku = s.text(4);
  r.quotaBytes = static_cast<uint64_t>(s.integer(5));
  r.storagePath = s.text(6);
  r.created = s.integer(7);
  r.auditPulls = s.integer(8) != 0;
  return r;
}

// Every table holding rows of a registry, children before the registries row they reference.
constexpr const char* kDeleteRegistryRows[] = {
    "DELETE FROM token_passwords WHERE registry_id = ?",
    "DELETE FROM tokens WHERE registry_id = ?",
    "DELETE FROM scope_map_rules WHERE registry_id = ?",
    "DELETE FROM scope_maps WHERE registry_id = ?",
    "DELETE FROM admin_passwords WHERE registry_id = ?",
    "DELETE FROM uploads WHERE registry_id = ?",
    "DELETE FROM tags WHERE registry_id = ?",
    "DELETE FROM manifest_refs WHERE registry_id = ?",
    "DELETE FROM manifests WHERE registry_id = ?",
    "DELETE FROM repository_blobs WHERE registry_id = ?",
    "DELETE FROM blobs WHERE registry_id = ?",
    "DELETE FROM gc_runs WHERE registry_id = ?",
    "DELETE FROM tag_history WHERE registry_id = ?",
    "DELETE FROM registry_policies WHERE registry_id = ?",
    "DELETE FROM purge_schedules WHERE registry_id = ?",
    "DELETE FROM deleted_manifests WHERE registry_id = ?",
    "DELETE FROM repositories WHERE registry_id = ?",
    "DELETE FROM deliveries WHERE registry_id = ?",
    "DELETE FROM webhooks WHERE registry_id = ?",
    "DELETE FROM events WHERE registry_id = ?",
    "DELETE FROM sessions WHERE registry_id = ?",
    "DELETE FROM role_assignments WHERE registry_id = ?",
    "DELETE FROM credential_sets WHERE registry_id = ?",
    "DELETE FROM import_jobs WHERE registry_id = ?",
    "DELETE FROM cache_rules WHERE registry_id = ?",
    "DELETE FROM cached_tags WHERE registry_id = ?",
    "DELETE FROM replication_tasks WHERE registry_id = ?",
    "DELETE FROM replications WHERE registry_id = ?",
    "DELETE FROM registries WHERE id = ?",
};

}  // namespace

IdentityStorePtr makeSqlIdentityStore(sql::DatabasePtr db) {
  return IdentityStorePtr(new SqlIdentityStore(std::move(db)));
}

// Registries.

Result<std::optional<RegistrySettings>> SqlIdentityStore::registrySettings(RegistryId registry) {
  return cached(settings_, std::to_string(registry), [&] { return loadRegistry(registry); });
}

Result<std::optional<RegistrySettings>> SqlIdentityStore::registryByName(std::string_view name) {
  return cached(registriesByName_, std::string(name), [&] { return loadRegistry(name); });
}

Result<std::optional<RegistrySettings>> SqlIdentityStore::loadRegistry(RegistryId registry) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT id, name, admin_enabled, anonymous_pull, sku, quota_bytes, storage_path, created, "
      "audit_pulls "
      "FROM registries WHERE id = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return std::optional<RegistrySettings>();
  if (rc != sql::kRow) return (*c)->fail("select registry");
  return std::optional<RegistrySettings>(registryFrom(**s));
}

Result<std::optional<RegistrySettings>> SqlIdentityStore::loadRegistry(std::string_view name) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT id, name, admin_enabled, anonymous_pull, sku, quota_bytes, storage_path, created, "
      "audit_pulls "
      "FROM registries WHERE name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, name);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return std::optional<RegistrySettings>();
  if (rc != sql::kRow) return (*c)->fail("select registry by name");
  return std::optional<RegistrySettings>(registryFrom(**s));
}

Result<std::vector<RegistrySettings>> SqlIdentityStore::listRegistries() {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT id, name, admin_enabled, anonymous_pull, sku, quota_bytes, storage_path, created, "
      "audit_pulls "
      "FROM registries ORDER BY name");
  if (!s) return s.takeError();
  std::vector<RegistrySettings> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select registries");
    out.push_back(registryFrom(**s));
  }
  return out;
}

Result<RegistryId> SqlIdentityStore::createRegistry(const RegistrySettings& settings) {
  return changed(insertRegistry(settings));
}

Result<RegistryId> SqlIdentityStore::insertRegistry(const RegistrySettings& settings) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "INSERT INTO registries(name, created, admin_enabled, anonymous_pull, sku, quota_bytes, "
      "storage_path, audit_pulls) VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
      "RETURNING id");
  if (!s) return s.takeError();
  (*s)->bind(1, settings.name).bind(2, nowSeconds());
  (*s)->bind(3, int64_t{settings.adminEnabled}).bind(4, int64_t{settings.anonymousPull});
  (*s)->bind(5, settings.sku).bind(6, static_cast<int64_t>(settings.quotaBytes));
  (*s)->bind(7, settings.storagePath).bind(8, int64_t{settings.auditPulls});
  auto id = sql::insertedId(**c, **s);
  if (!id) return id.takeError();
  if (!*id) return makeError(ApiCode::Conflict, "registry " + settings.name + " exists");
  return RegistryId{**id};
}

Result<void> SqlIdentityStore::updateRegistry(RegistryId registry, const RegistryChange& change) {
  return changed(writeRegistry(registry, change));
}

Result<void> SqlIdentityStore::writeRegistry(RegistryId registry, const RegistryChange& change) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  // An unbound parameter is NULL, and COALESCE keeps the column's value.
  auto s = (*c)->prepare(
      "UPDATE registries SET sku = COALESCE(?, sku), quota_bytes = COALESCE(?, quota_bytes), "
      "admin_enabled = COALESCE(?, admin_enabled), anonymous_pull = COALESCE(?, anonymous_pull), "
      "audit_pulls = COALESCE(?6, audit_pulls) WHERE id = ?5");
  if (!s) return s.takeError();
  if (change.sku) (*s)->bind(1, *change.sku);
  if (change.quotaBytes) (*s)->bind(2, static_cast<int64_t>(*change.quotaBytes));
  if (change.adminEnabled) (*s)->bind(3, int64_t{*change.adminEnabled});
  if (change.anonymousPull) (*s)->bind(4, int64_t{*change.anonymousPull});
  (*s)->bind(5, registry);
  if (change.auditPulls) (*s)->bind(6, int64_t{*change.auditPulls});
  return run(**c, **s);
}

Result<bool> SqlIdentityStore::deleteRegistry(RegistryId registry) {
  return changed(db_->freeing([&] { return removeRegistry(registry); }));
}

Result<bool> SqlIdentityStore::removeRegistry(RegistryId registry) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  {
    auto s = (*c)->prepare("SELECT 1 FROM registries WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry);
    const int rc = (*s)->step();
    if (rc == sql::kDone) return false;
    if (rc != sql::kRow) return (*c)->fail("select registry");
  }
  for (const char* sql : kDeleteRegistryRows) {
    auto s = (*c)->prepare(sql);
    if (!s) return s.takeError();
    (*s)->bind(1, registry);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

// Admin passwords.

Result<std::vector<StoredSecret>> SqlIdentityStore::adminSecrets(RegistryId registry) {
  return cached(adminSecrets_, std::to_string(registry),
                [&] { return loadAdminSecrets(registry); });
}

Result<std::vector<StoredSecret>> SqlIdentityStore::loadAdminSecrets(RegistryId registry) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT name, hash, created FROM admin_passwords WHERE registry_id = ? ORDER BY name");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  std::vector<StoredSecret> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select admin passwords");
    out.push_back({(*s)->text(0), (*s)->text(1), std::nullopt, (*s)->integer(2)});
  }
  return out;
}

Result<void> SqlIdentityStore::setAdminSecret(RegistryId registry, std::string_view name,
                                              std::string_view hash) {
  return changed(writeAdminSecret(registry, name, hash));
}

Result<void> SqlIdentityStore::writeAdminSecret(RegistryId registry, std::string_view name,
                                                std::string_view hash) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "INSERT INTO admin_passwords(registry_id, name, hash, created) VALUES(?, ?, ?, ?) "
      "ON CONFLICT(registry_id, name) DO UPDATE SET hash = excluded.hash, "
      "created = excluded.created");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name).bind(3, hash).bind(4, nowSeconds());
  return run(**c, **s);
}

// Signing keys, not cached here: the Authenticator keeps the keys it has parsed.

Result<std::vector<SigningKeyRecord>> SqlIdentityStore::signingKeys() {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT kid, private_pem, created, retired FROM signing_keys "
      "ORDER BY created DESC, rowid DESC");
  if (!s) return s.takeError();
  std::vector<SigningKeyRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select signing keys");
    SigningKeyRecord k{(*s)->text(0), (*s)->text(1), (*s)->integer(2), std::nullopt};
    if (!(*s)->isNull(3)) k.retired = (*s)->integer(3);
    out.push_back(std::move(k));
  }
  return out;
}

Result<void> SqlIdentityStore::addSigningKey(const SigningKeyRecord& key) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("INSERT INTO signing_keys(kid, private_pem, created) VALUES(?, ?, ?)");
  if (!s) return s.takeError();
  (*s)->bind(1, key.kid).bind(2, key.privatePem).bind(3, key.created);
  return run(**c, **s);
}

Result<void> SqlIdentityStore::retireSigningKeys(std::string_view keep, int64_t when) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("UPDATE signing_keys SET retired = ? WHERE kid <> ? AND retired IS NULL");
  if (!s) return s.takeError();
  (*s)->bind(1, when).bind(2, keep);
  return run(**c, **s);
}

// Sessions. Not cached (each is read by the requests of one browser) and no generation bump:
// they change nothing another reader caches.

Result<void> SqlIdentityStore::createSession(const SessionRecord& session, size_t maxSessions,
                                             size_t perIdentity) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  auto keep = [](size_t limit) { return static_cast<int64_t>(limit == 0 ? 0 : limit - 1); };
  {
    auto s = (*c)->prepare("DELETE FROM sessions WHERE expires <= ?");
    if (!s) return s.takeError();
    (*s)->bind(1, session.created);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  {
    // Room for the new one among its identity's: the oldest beyond perIdentity - 1 go.
    auto s = (*c)->prepare(
        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE kind = ? AND "
        "registry_id IS NOT DISTINCT FROM ? AND subject = ? ORDER BY created DESC, rowid DESC "
        "LIMIT " BERTH_NO_LIMIT " OFFSET ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, static_cast<int64_t>(session.kind));
    if (session.registry) (*s)->bind(2, *session.registry);  // unbound: NULL
    (*s)->bind(3, session.subject).bind(4, keep(perIdentity));
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  {
    auto s = (*c)->prepare(
        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY created DESC, "
        "rowid DESC LIMIT " BERTH_NO_LIMIT " OFFSET ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, keep(maxSessions));
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  auto s = (*c)->prepare(
      "INSERT INTO sessions(id, kind, registry_id, subject, secret_name, secret_created, created, "
      "expires) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s) return s.takeError();
  (*s)->bind(1, session.id).bind(2, static_cast<int64_t>(session.kind));
  if (session.registry) (*s)->bind(3, *session.registry);  // unbound: NULL
  (*s)->bind(4, session.subject).bind(5, session.secretName).bind(6, session.secretCreated);
  (*s)->bind(7, session.created).bind(8, session.expires);
  if (auto r = run(**c, **s); !r) return r.takeError();
  return tx.commit();
}

Result<std::optional<SessionRecord>> SqlIdentityStore::session(std::string_view id, int64_t now) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT kind, registry_id, subject, secret_name, secret_created, created, expires "
      "FROM sessions WHERE id = ? AND expires > ?");
  if (!s) return s.takeError();
  (*s)->bind(1, id).bind(2, now);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return std::optional<SessionRecord>();
  if (rc != sql::kRow) return (*c)->fail("select session");
  SessionRecord r;
  r.id = std::string(id);
  const auto kind = (*s)->integer(0);
  if (kind < 0 || kind > static_cast<int64_t>(SessionRecord::Kind::Principal)) {
    return makeError(ApiCode::Unknown, "session of unknown kind " + std::to_string(kind));
  }
  r.kind = static_cast<SessionRecord::Kind>(kind);
  if (!(*s)->isNull(1)) r.registry = (*s)->integer(1);
  r.subject = (*s)->text(2);
  r.secretName = (*s)->text(3);
  r.secretCreated = (*s)->integer(4);
  r.created = (*s)->integer(5);
  r.expires = (*s)->integer(6);
  return std::optional<SessionRecord>(std::move(r));
}

Result<bool> SqlIdentityStore::deleteSession(std::string_view id) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("DELETE FROM sessions WHERE id = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, id);
  if (auto r = run(**c, **s); !r) return r.takeError();
  return (*c)->changes() > 0;
}

}  // namespace berth::meta
