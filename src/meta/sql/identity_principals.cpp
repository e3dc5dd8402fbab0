// The IdentityStore: people and service principals of the deployment, their role
// assignments and federated credentials. Principals and assignments are read on every
// request of a principal and cached like tokens (the generation file drops the cache).
#include "meta/sql/identity_store_impl.hpp"

namespace berth::meta {
namespace {

Result<void> upsertSecret(Connection& c, std::string_view id, const StoredSecret& secret) {
  auto s = c.prepare(
      "INSERT INTO principal_secrets(principal_id, name, hash, expiry, created) "
      "VALUES(?, ?, ?, ?, ?) ON CONFLICT(principal_id, name) DO UPDATE SET "
      "hash = excluded.hash, expiry = excluded.expiry, created = excluded.created");
  if (!s) return s.takeError();
  (*s)->bind(1, id).bind(2, secret.name).bind(3, secret.hash);
  if (secret.expiry) (*s)->bind(4, *secret.expiry);  // unbound: NULL
  (*s)->bind(5, secret.created != 0 ? secret.created : nowSeconds());
  return run(c, **s);
}

RoleAssignmentRecord assignmentAt(Stmt& s) {
  RoleAssignmentRecord a;
  a.id = s.text(0);
  a.principal = s.text(1);
  a.role = s.text(2);
  if (const auto registry = s.integer(3); registry != 0) a.registry = registry;
  a.repository = s.text(4);
  a.created = s.integer(5);
  return a;
}

constexpr const char* kDeletePrincipalRows[] = {
    "DELETE FROM principal_secrets WHERE principal_id = ?",
    "DELETE FROM role_assignments WHERE principal_id = ?",
    "DELETE FROM federated_credentials WHERE principal_id = ?",
    "DELETE FROM sessions WHERE kind = 3 AND subject = ?",
    "DELETE FROM principals WHERE id = ?",
};
static_assert(static_cast<int>(SessionRecord::Kind::Principal) == 3);

}  // namespace

Result<void> SqlIdentityStore::createPrincipal(const PrincipalRecord& p) {
  return changed([&]() -> Result<void> {
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r;
    {
      auto s = (*c)->prepare(
          "INSERT INTO principals(id, kind, display_name, password_hash, "
          "password_changed, created) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
      if (!s) return s.takeError();
      const int64_t now = nowSeconds();
      (*s)->bind(1, p.id).bind(2, static_cast<int64_t>(p.kind)).bind(3, p.displayName);
      if (p.passwordHash) (*s)->bind(4, *p.passwordHash);
      (*s)->bind(5, p.passwordHash ? now : int64_t{0}).bind(6, now);
      if (auto r = run(**c, **s); !r) return r;
      if ((*c)->changes() == 0) return conflict("principal " + p.id + " exists");
    }
    for (const auto& secret : p.secrets) {
      if (auto r = upsertSecret(**c, p.id, secret); !r) return r;
    }
    return tx.commit();
  }());
}

Result<std::optional<PrincipalRecord>> SqlIdentityStore::principal(std::string_view id) {
  return cached(principals_, std::string(id), [&] { return loadPrincipal(id); });
}

// Principals with their secrets, one row per secret (one row of NULLs without any), in id order.
constexpr const char* kPrincipalRows =
    "SELECT p.id, p.kind, p.display_name, p.password_hash, p.password_changed, p.created, "
    "s.name, s.hash, s.expiry, s.created FROM principals p LEFT JOIN principal_secrets s ON "
    "s.principal_id = p.id WHERE (CAST(?1 AS TEXT) IS NULL OR p.id = ?1) AND (CAST(?2 AS BIGINT) "
    "IS NULL OR p.kind = ?2) "
    "ORDER BY p.id, s.name";

Result<std::vector<PrincipalRecord>> SqlIdentityStore::loadPrincipals(
    std::optional<std::string_view> id, std::optional<PrincipalRecord::Kind> kind) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(kPrincipalRows);
  if (!s) return s.takeError();
  if (id) (*s)->bind(1, *id);  // unbound: NULL
  if (kind) (*s)->bind(2, static_cast<int64_t>(*kind));
  std::vector<PrincipalRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select principals");
    if (out.empty() || out.back().id != (*s)->text(0)) {
      PrincipalRecord p;
      p.id = (*s)->text(0);
      p.kind = (*s)->integer(1) == 1 ? PrincipalRecord::Kind::ServicePrincipal
                                     : PrincipalRecord::Kind::User;
      p.displayName = (*s)->text(2);
      if (!(*s)->isNull(3)) p.passwordHash = (*s)->text(3);
      p.passwordChanged = (*s)->integer(4);
      p.created = (*s)->integer(5);
      out.push_back(std::move(p));
    }
    if ((*s)->isNull(6)) continue;
    StoredSecret secret{(*s)->text(6), (*s)->text(7), std::nullopt, (*s)->integer(9)};
    if (!(*s)->isNull(8)) secret.expiry = (*s)->integer(8);
    out.back().secrets.push_back(std::move(secret));
  }
  return out;
}

Result<std::optional<PrincipalRecord>> SqlIdentityStore::loadPrincipal(std::string_view id) {
  auto found = loadPrincipals(id, std::nullopt);
  if (!found) return found.takeError();
  if (found->empty()) return std::optional<PrincipalRecord>();
  return std::optional<PrincipalRecord>(std::move(found->front()));
}

Result<std::vector<PrincipalRecord>> SqlIdentityStore::listPrincipals(PrincipalRecord::Kind kind) {
  return loadPrincipals(std::nullopt, kind);
}

Result<bool> SqlIdentityStore::setPrincipalPassword(std::string_view id, std::string_view hash) {
  return changed(changeRows(*db_,
                            "UPDATE principals SET password_hash = ?, password_changed = ? "
                            "WHERE id = ?",
                            hash, nowSeconds(), id));
}

Result<bool> SqlIdentityStore::setPrincipalSecret(std::string_view id, const StoredSecret& secret) {
  return changed([&]() -> Result<bool> {
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    {
      auto s = (*c)->prepare("SELECT 1 FROM principals WHERE id = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, id);
      const int rc = (*s)->step();
      if (rc == sql::kDone) return false;
      if (rc != sql::kRow) return (*c)->fail("select principal");
    }
    if (auto r = upsertSecret(**c, id, secret); !r) return r.takeError();
    if (auto r = tx.commit(); !r) return r.takeError();
    return true;
  }());
}

Result<bool> SqlIdentityStore::deletePrincipalSecret(std::string_view id, std::string_view name) {
  return changed(changeRows(
      *db_, "DELETE FROM principal_secrets WHERE principal_id = ? AND name = ?", id, name));
}

Result<bool> SqlIdentityStore::deletePrincipal(std::string_view id) {
  return changed([&]() -> Result<bool> {
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    bool existed = false;
    for (const char* sql : kDeletePrincipalRows) {
      auto s = (*c)->prepare(sql);
      if (!s) return s.takeError();
      (*s)->bind(1, id);
      if (auto r = run(**c, **s); !r) return r.takeError();
      existed = (*c)->changes() > 0;  // the last statement: the principal's row
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return existed;
  }());
}

Result<void> SqlIdentityStore::createRoleAssignment(const RoleAssignmentRecord& a) {
  return changed([&]() -> Result<void> {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "INSERT INTO role_assignments(id, principal_id, role, registry_id, repository, "
        "created) SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM principals WHERE id = ?) ON "
        "CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    (*s)->bind(1, a.id).bind(2, a.principal).bind(3, a.role).bind(4, a.registry.value_or(0));
    (*s)->bind(5, a.repository).bind(6, nowSeconds()).bind(7, a.principal);
    if (auto r = run(**c, **s); !r) return r;
    if ((*c)->changes() == 0) {
      return conflict("principal " + a.principal + " is unknown or already holds " + a.role +
                      " there");
    }
    return {};
  }());
}

Result<std::vector<RoleAssignmentRecord>> SqlIdentityStore::roleAssignments(
    std::optional<std::string_view> principal) {
  if (!principal) return loadAssignments(std::nullopt);
  return cached(assignments_, std::string(*principal), [&] { return loadAssignments(principal); });
}

Result<std::vector<RoleAssignmentRecord>> SqlIdentityStore::loadAssignments(
    std::optional<std::string_view> principal) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      principal ? "SELECT id, principal_id, role, registry_id, repository, created FROM "
                  "role_assignments WHERE principal_id = ? ORDER BY created, rowid"
                : "SELECT id, principal_id, role, registry_id, repository, created FROM "
                  "role_assignments ORDER BY created, rowid");
  if (!s) return s.takeError();
  if (principal) (*s)->bind(1, *principal);
  std::vector<RoleAssignmentRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select role assignments");
    out.push_back(assignmentAt(**s));
  }
  return out;
}

Result<bool> SqlIdentityStore::deleteRoleAssignment(std::string_view id) {
  return changed(changeRows(*db_, "DELETE FROM role_assignments WHERE id = ?", id));
}

Result<void> SqlIdentityStore::createFederatedCredential(const FederatedCredentialRecord& f) {
  return changed([&]() -> Result<void> {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "INSERT INTO federated_credentials(principal_id, name, issuer, subject, "
        "audience, created) SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM principals "
        "WHERE id = ? AND kind = 1) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    (*s)->bind(1, f.principal).bind(2, f.name).bind(3, f.issuer).bind(4, f.subject);
    (*s)->bind(5, f.audience).bind(6, nowSeconds()).bind(7, f.principal);
    if (auto r = run(**c, **s); !r) return r;
    if ((*c)->changes() == 0) {
      return conflict("service principal " + f.principal + " is unknown or has a credential " +
                      f.name);
    }
    return {};
  }());
}

Result<std::vector<FederatedCredentialRecord>> SqlIdentityStore::federatedCredentials(
    std::optional<std::string_view> principal, std::optional<std::string_view> issuer) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT principal_id, name, issuer, subject, audience, created FROM federated_credentials "
      "WHERE (CAST(?1 AS TEXT) IS NULL OR principal_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR "
      "issuer = ?2) "
      "ORDER BY principal_id, name");
  if (!s) return s.takeError();
  if (principal) (*s)->bind(1, *principal);
  if (issuer) (*s)->bind(2, *issuer);
  std::vector<FederatedCredentialRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select federated credentials");
    out.push_back({(*s)->text(0), (*s)->text(1), (*s)->text(2), (*s)->text(3), (*s)->text(4),
                   (*s)->integer(5)});
  }
  return out;
}

Result<bool> SqlIdentityStore::deleteFederatedCredential(std::string_view principal,
                                                         std::string_view name) {
  return changed(changeRows(*db_,
                            "DELETE FROM federated_credentials WHERE principal_id = ? AND name = ?",
                            principal, name));
}

}  // namespace berth::meta
