#pragma once
// IdentityStore: who may use a registry. Registry settings, admin passwords, scope maps,
// tokens, and the keys that sign access tokens. Secrets appear here only as hashes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "meta/metadata_store.hpp"

namespace berth::meta {

inline constexpr uint64_t kGiB = 1024ull * 1024 * 1024;

struct RegistrySettings {
  RegistryId id = 0;
  std::string name;
  bool adminEnabled = false;
  bool anonymousPull = false;
  std::string sku = "Basic";
  uint64_t quotaBytes = 10 * kGiB;
  std::string storagePath;  // empty: <data>/registries/<name>
  int64_t created = 0;
  bool auditPulls = false;  // every pull goes into the audit log too
};

// Fields left empty keep their value.
struct RegistryChange {
  std::optional<std::string> sku;
  std::optional<uint64_t> quotaBytes;
  std::optional<bool> adminEnabled;
  std::optional<bool> anonymousPull;
  std::optional<bool> auditPulls;
};

struct StoredSecret {
  std::string name;
  std::string hash;
  std::optional<int64_t> expiry;  // unix seconds
  int64_t created = 0;
};

struct ScopeRule {
  std::string pattern;
  uint8_t actions = 0;  // auth::ActionBit mask
};

struct ScopeMapRecord {
  std::string name;
  std::string description;
  std::vector<ScopeRule> rules;
  int64_t created = 0;
};

struct TokenRecord {
  std::string name;
  std::string scopeMap;
  bool enabled = true;
  std::vector<StoredSecret> secrets;
  int64_t created = 0;
};

// A signed-in browser's session (the portal's cookie). `id` is the SHA-256 (hex) of the
// cookie's secret: the secret itself is never stored.
struct SessionRecord {
  enum class Kind { Operator, Admin, Token, Principal };
  std::string id;
  Kind kind = Kind::Operator;
  std::optional<RegistryId> registry;  // none for the operator
  // The token's name; for the operator, a fingerprint of the operator token it signed in with
  // (a new operator token ends the session); empty for the admin account.
  std::string subject;
  // The password it signed in with (admin, token, principal): its name with a digest of its
  // hash (auth::secretKey), and its creation time. Regenerated or deleted, it ends the session.
  std::string secretName;
  int64_t secretCreated = 0;
  int64_t created = 0;  // unix seconds
  int64_t expires = 0;
};

// A person or a machine of the deployment, not of one registry: what it may do comes from its
// role assignments.
struct PrincipalRecord {
  enum class Kind { User, ServicePrincipal };
  // A user's name, or a service principal's application id (a UUID, its docker login name).
  std::string id;
  Kind kind = Kind::User;
  std::string displayName;                  // a service principal's --name; a user's name
  std::optional<std::string> passwordHash;  // a user's, when it signs in with a password
  int64_t passwordChanged = 0;              // when the password was last set
  std::vector<StoredSecret> secrets;        // a service principal's client secrets, by key id
  int64_t created = 0;
};

struct RoleAssignmentRecord {
  std::string id;  // a UUID
  std::string principal;
  std::string role;                    // AcrPull, AcrPush, AcrDelete, Reader, Contributor, Owner
  std::optional<RegistryId> registry;  // none: the whole deployment
  std::string repository;              // a pattern within the registry; empty: all of it
  int64_t created = 0;
};

// Lets a service principal sign in with an OpenID Connect ID token of `issuer` whose `sub`
// matches `subject` (exact, or a pattern ending in `*`) and whose `aud` holds `audience`.
struct FederatedCredentialRecord {
  std::string principal;
  std::string name;
  std::string issuer;
  std::string subject;
  std::string audience;
  int64_t created = 0;
};

struct SigningKeyRecord {
  std::string kid;
  std::string privatePem;
  int64_t created = 0;
  std::optional<int64_t> retired;
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  virtual Result<std::optional<RegistrySettings>> registrySettings(RegistryId registry) = 0;
  virtual Result<std::optional<RegistrySettings>> registryByName(std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<RegistrySettings>> listRegistries() = 0;
  // CONFLICT when the name is taken. `id` and `created` of `settings` are ignored.
  virtual Result<RegistryId> createRegistry(const RegistrySettings& settings) = 0;
  virtual Result<void> updateRegistry(RegistryId registry, const RegistryChange& change) = 0;
  // Removes every row of the registry: content metadata, credentials, scope maps, tokens.
  // False when there was no such registry.
  virtual Result<bool> deleteRegistry(RegistryId registry) = 0;

  virtual Result<std::vector<StoredSecret>> adminSecrets(RegistryId registry) = 0;
  virtual Result<void> setAdminSecret(RegistryId registry, std::string_view name,
                                      std::string_view hash) = 0;

  // CONFLICT when the name is taken.
  virtual Result<void> createScopeMap(RegistryId registry, const ScopeMapRecord& map) = 0;
  virtual Result<std::optional<ScopeMapRecord>> scopeMap(RegistryId registry,
                                                         std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<ScopeMapRecord>> listScopeMaps(RegistryId registry) = 0;
  // Replaces the description and rules of the map named `map.name`; false when there is none.
  virtual Result<bool> updateScopeMap(RegistryId registry, const ScopeMapRecord& map) = 0;
  // False when there is none; CONFLICT while a token uses it.
  virtual Result<bool> deleteScopeMap(RegistryId registry, std::string_view name) = 0;

  // CONFLICT when the name is taken.
  virtual Result<void> createToken(RegistryId registry, const TokenRecord& token) = 0;
  virtual Result<std::optional<TokenRecord>> token(RegistryId registry, std::string_view name) = 0;
  virtual Result<bool> setTokenEnabled(RegistryId registry, std::string_view name,
                                       bool enabled) = 0;
  virtual Result<bool> setTokenScopeMap(RegistryId registry, std::string_view name,
                                        std::string_view scopeMap) = 0;
  // Adds or replaces the token's secret named `secret.name`; false when there is no token.
  virtual Result<bool> setTokenSecret(RegistryId registry, std::string_view name,
                                      const StoredSecret& secret) = 0;
  // Removes the token's secret named `secretName`; false when there is no such token or it
  // has no such secret.
  virtual Result<bool> deleteTokenSecret(RegistryId registry, std::string_view token,
                                         std::string_view secretName) = 0;
  // By name.
  virtual Result<std::vector<TokenRecord>> listTokens(RegistryId registry) = 0;
  virtual Result<bool> deleteToken(RegistryId registry, std::string_view name) = 0;

  // Principals. createPrincipal fails with Conflict when the id is taken; deletePrincipal takes
  // its secrets, role assignments, federated credentials and sessions with it.
  virtual Result<void> createPrincipal(const PrincipalRecord& principal) = 0;
  virtual Result<std::optional<PrincipalRecord>> principal(std::string_view id) = 0;
  virtual Result<std::vector<PrincipalRecord>> listPrincipals(PrincipalRecord::Kind kind) = 0;
  virtual Result<bool> setPrincipalPassword(std::string_view id, std::string_view hash) = 0;
  // Adds or replaces a client secret (by its name, the key id).
  virtual Result<bool> setPrincipalSecret(std::string_view id, const StoredSecret& secret) = 0;
  virtual Result<bool> deletePrincipalSecret(std::string_view id, std::string_view name) = 0;
  virtual Result<bool> deletePrincipal(std::string_view id) = 0;

  // Role assignments. Conflict when the principal already holds the role at the scope.
  virtual Result<void> createRoleAssignment(const RoleAssignmentRecord& assignment) = 0;
  // Every assignment (of one principal, when given), oldest first.
  virtual Result<std::vector<RoleAssignmentRecord>> roleAssignments(
      std::optional<std::string_view> principal) = 0;
  virtual Result<bool> deleteRoleAssignment(std::string_view id) = 0;

  // Federated credentials of service principals. Conflict when the principal has one of that
  // name.
  virtual Result<void> createFederatedCredential(const FederatedCredentialRecord& credential) = 0;
  // Of one principal, or (with an issuer) every principal's credentials that trust it.
  virtual Result<std::vector<FederatedCredentialRecord>> federatedCredentials(
      std::optional<std::string_view> principal, std::optional<std::string_view> issuer) = 0;
  virtual Result<bool> deleteFederatedCredential(std::string_view principal,
                                                 std::string_view name) = 0;

  // Stores a new session. Expired ones go first; then the oldest of the same identity beyond
  // `perIdentity`, and the oldest of all beyond `maxSessions`.
  virtual Result<void> createSession(const SessionRecord& session, size_t maxSessions,
                                     size_t perIdentity) = 0;
  // The session with this id, unless it expired before `now`.
  virtual Result<std::optional<SessionRecord>> session(std::string_view id, int64_t now) = 0;
  virtual Result<bool> deleteSession(std::string_view id) = 0;

  // Newest first.
  virtual Result<std::vector<SigningKeyRecord>> signingKeys() = 0;
  virtual Result<void> addSigningKey(const SigningKeyRecord& key) = 0;
  // Marks every key but `keep` retired at `when` (they still verify until tokens expire).
  virtual Result<void> retireSigningKeys(std::string_view keep, int64_t when) = 0;
};
using IdentityStorePtr = std::unique_ptr<IdentityStore>;

}  // namespace berth::meta
