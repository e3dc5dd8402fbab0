#pragma once
// The IdentityStore. Internal to src/meta/sql: identity_store.cpp holds the cache,
// registries, admin passwords and signing keys; identity_tokens.cpp scope maps and tokens.
#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

#include "meta/identity_store.hpp"
#include "meta/sql/database.hpp"
#include "meta/sql/stores.hpp"

namespace berth::meta {

// What the identity store's files use of the SQL layer.
using sql::Connection;
using sql::nowSeconds;
using sql::run;
using sql::Stmt;
using sql::Transaction;

inline Error conflict(std::string detail) {
  return makeError(ApiCode::Conflict, std::move(detail));
}

// Runs one statement that changes rows, its parameters bound in order; true when a row changed.
template <class... Params>
Result<bool> changeRows(sql::Database& db, const char* sql, const Params&... params) {
  auto c = db.writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(sql);
  if (!s) return s.takeError();
  int i = 0;
  ((*s)->bind(++i, params), ...);
  if (auto r = sql::run(**c, **s); !r) return r.takeError();
  return (*c)->changes() > 0;
}

// Identities are read on every request and change rarely, often from another process
// (`berth admin`, another node). Reads are cached; every write announces a change of the
// database's Identity topic, and a reader that finds its generation moved drops the cache.
class SqlIdentityStore final : public IdentityStore {
 public:
  explicit SqlIdentityStore(std::shared_ptr<sql::Database> db) : db_(std::move(db)) {}

  Result<std::optional<RegistrySettings>> registrySettings(RegistryId registry) override;
  Result<std::optional<RegistrySettings>> registryByName(std::string_view name) override;
  Result<std::vector<RegistrySettings>> listRegistries() override;
  Result<RegistryId> createRegistry(const RegistrySettings& settings) override;
  Result<void> updateRegistry(RegistryId registry, const RegistryChange& change) override;
  Result<bool> deleteRegistry(RegistryId registry) override;

  Result<std::vector<StoredSecret>> adminSecrets(RegistryId registry) override;
  Result<void> setAdminSecret(RegistryId registry, std::string_view name,
                              std::string_view hash) override;

  Result<void> createScopeMap(RegistryId registry, const ScopeMapRecord& map) override;
  Result<std::optional<ScopeMapRecord>> scopeMap(RegistryId registry,
                                                 std::string_view name) override;
  Result<std::vector<ScopeMapRecord>> listScopeMaps(RegistryId registry) override;
  Result<bool> updateScopeMap(RegistryId registry, const ScopeMapRecord& map) override;
  Result<bool> deleteScopeMap(RegistryId registry, std::string_view name) override;

  Result<void> createToken(RegistryId registry, const TokenRecord& token) override;
  Result<std::optional<TokenRecord>> token(RegistryId registry, std::string_view name) override;
  Result<bool> setTokenEnabled(RegistryId registry, std::string_view name, bool enabled) override;
  Result<bool> setTokenScopeMap(RegistryId registry, std::string_view name,
                                std::string_view scopeMap) override;
  Result<bool> setTokenSecret(RegistryId registry, std::string_view name,
                              const StoredSecret& secret) override;
  Result<bool> deleteTokenSecret(RegistryId registry, std::string_view token,
                                 std::string_view secretName) override;
  Result<std::vector<TokenRecord>> listTokens(RegistryId registry) override;
  Result<bool> deleteToken(RegistryId registry, std::string_view name) override;

  Result<void> createPrincipal(const PrincipalRecord& principal) override;
  Result<std::optional<PrincipalRecord>> principal(std::string_view id) override;
  Result<std::vector<PrincipalRecord>> listPrincipals(PrincipalRecord::Kind kind) override;
  Result<bool> setPrincipalPassword(std::string_view id, std::string_view hash) override;
  Result<bool> setPrincipalSecret(std::string_view id, const StoredSecret& secret) override;
  Result<bool> deletePrincipalSecret(std::string_view id, std::string_view name) override;
  Result<bool> deletePrincipal(std::string_view id) override;
  Result<void> createRoleAssignment(const RoleAssignmentRecord& assignment) override;
  Result<std::vector<RoleAssignmentRecord>> roleAssignments(
      std::optional<std::string_view> principal) override;
  Result<bool> deleteRoleAssignment(std::string_view id) override;
  Result<void> createFederatedCredential(const FederatedCredentialRecord& credential) override;
  Result<std::vector<FederatedCredentialRecord>> federatedCredentials(
      std::optional<std::string_view> principal, std::optional<std::string_view> issuer) override;
  Result<bool> deleteFederatedCredential(std::string_view principal,
                                         std::string_view name) override;

  Result<void> createSession(const SessionRecord& session, size_t maxSessions,
                             size_t perIdentity) override;
  Result<std::optional<SessionRecord>> session(std::string_view id, int64_t now) override;
  Result<bool> deleteSession(std::string_view id) override;

  Result<std::vector<SigningKeyRecord>> signingKeys() override;
  Result<void> addSigningKey(const SigningKeyRecord& key) override;
  Result<void> retireSigningKeys(std::string_view keep, int64_t when) override;

 private:
  // The value under `key` in `map`, loaded on a miss; the whole cache is dropped first when
  // the generation file has changed since it was filled.
  template <class T, class Load>
  Result<T> cached(std::unordered_map<std::string, T>& map, const std::string& key, Load load) {
    const uint64_t generation = db_->generation(sql::Topic::Identity);
    {
      std::lock_guard lock(cacheMutex_);
      if (generation != cachedGeneration_) {
        settings_.clear();
        registriesByName_.clear();
        adminSecrets_.clear();
        scopeMaps_.clear();
        tokens_.clear();
        principals_.clear();
        assignments_.clear();
        cachedGeneration_ = generation;
      }
      if (auto it = map.find(key); it != map.end()) return it->second;
    }
    Result<T> loaded = load();
    if (!loaded) return loaded;
    std::lock_guard lock(cacheMutex_);
    // Bounded: a burst of unknown names must not grow the cache without end.
    if (map.size() > 10000) map.clear();
    if (generation == cachedGeneration_) map.emplace(key, *loaded);
    return loaded;
  }
  // Every successful write passes through here, so that every reader drops its cache.
  template <class R>
  R changed(R result) {
    if (result) db_->announce(sql::Topic::Identity);
    return result;
  }

  Result<std::optional<RegistrySettings>> loadRegistry(RegistryId registry);
  Result<std::optional<RegistrySettings>> loadRegistry(std::string_view name);
  Result<RegistryId> insertRegistry(const RegistrySettings& settings);
  Result<void> writeRegistry(RegistryId registry, const RegistryChange& change);
  Result<bool> removeRegistry(RegistryId registry);
  Result<std::vector<StoredSecret>> loadAdminSecrets(RegistryId registry);
  Result<void> writeAdminSecret(RegistryId registry, std::string_view name, std::string_view hash);

  Result<void> insertScopeMap(RegistryId registry, const ScopeMapRecord& map);
  Result<std::optional<ScopeMapRecord>> loadScopeMap(RegistryId registry, std::string_view name);
  Result<bool> writeScopeMap(RegistryId registry, const ScopeMapRecord& map);
  Result<bool> removeScopeMap(RegistryId registry, std::string_view name);
  Result<void> insertToken(RegistryId registry, const TokenRecord& token);
  Result<std::optional<TokenRecord>> loadToken(RegistryId registry, std::string_view name);
  Result<bool> writeTokenEnabled(RegistryId registry, std::string_view name, bool enabled);
  Result<bool> writeTokenScopeMap(RegistryId registry, std::string_view name,
                                  std::string_view scopeMap);
  Result<bool> writeTokenSecret(RegistryId registry, std::string_view name,
                                const StoredSecret& secret);
  Result<bool> removeTokenSecret(RegistryId registry, std::string_view token,
                                 std::string_view secretName);
  Result<bool> removeToken(RegistryId registry, std::string_view name);

  std::shared_ptr<sql::Database> db_;
  std::mutex cacheMutex_;
  uint64_t cachedGeneration_ = 0;
  std::unordered_map<std::string, std::optional<RegistrySettings>> settings_;  // by id
  std::unordered_map<std::string, std::optional<RegistrySettings>> registriesByName_;
  std::unordered_map<std::string, std::vector<StoredSecret>> adminSecrets_;
  std::unordered_map<std::string, std::optional<ScopeMapRecord>> scopeMaps_;
  std::unordered_map<std::string, std::optional<TokenRecord>> tokens_;
  std::unordered_map<std::string, std::optional<PrincipalRecord>> principals_;
  std::unordered_map<std::string, std::vector<RoleAssignmentRecord>> assignments_;  // by principal

  Result<std::optional<PrincipalRecord>> loadPrincipal(std::string_view id);
  // One principal (`id`) or all of a kind, with their secrets, in one query.
  Result<std::vector<PrincipalRecord>> loadPrincipals(std::optional<std::string_view> id,
                                                      std::optional<PrincipalRecord::Kind> kind);
  Result<std::vector<RoleAssignmentRecord>> loadAssignments(
      std::optional<std::string_view> principal);
};

}  // namespace berth::meta
