#pragma once
// Authentication: turns an Authorization header (Basic or Bearer) into an Identity, issues
// access and refresh tokens, and slows down repeated failed logins.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/jwt.hpp"
#include "auth/oidc.hpp"
#include "auth/scope.hpp"
#include "core/lru_cache.hpp"
#include "meta/identity_store.hpp"

namespace berth::auth {

// The user name under which a refresh token from `berth login` (POST .../login) is the
// password, as with ACR's `az acr login`.
inline constexpr std::string_view kRefreshTokenUser = "00000000-0000-0000-0000-000000000000";

struct AuthOptions {
  std::chrono::seconds tokenLifetime{300};
  std::chrono::seconds refreshLifetime{3 * 3600};
  std::string issuer = "berth";
  int maxFailures = 5;
  std::chrono::seconds failureWindow{60};
  // A registry's login server: the audience of the refresh tokens `berth login` hands out.
  std::function<std::string(std::string_view registry)> loginServer;
};

// The subject of a principal (a person or a service principal of the deployment) in tokens and
// sessions: "p:" and its id. Token names never hold ':'.
inline constexpr std::string_view kPrincipalPrefix = "p:";

// The name under which a user's password is a stored secret (a session remembers it).
inline constexpr std::string_view kUserPasswordName = "password";
// How a session names the password it signed in with: its name and a digest of its stored
// hash, so that a password set again within the same second is another one.
std::string secretKey(const meta::StoredSecret& secret);
// A user's password, or a service principal's client secrets.
std::vector<meta::StoredSecret> principalSecrets(const meta::PrincipalRecord& principal);

struct Identity {
  enum class Kind { Anonymous, Admin, Token, Bearer, Principal };
  Kind kind = Kind::Anonymous;
  std::string subject;
  Permissions permissions;
  bool catalog = false;  // may list the catalog (filtered by what it may read)

  bool anonymous() const { return kind == Kind::Anonymous; }
};

enum class AuthFailure { None, BadCredentials, BadToken, Throttled };

struct AuthResult {
  Identity identity;
  AuthFailure failure = AuthFailure::None;
  std::string detail;
  int retryAfter = 0;  // seconds, when throttled
  // The stored password a login matched (its name and creation time): a session remembers
  // it, and ends when that password is regenerated or deleted.
  std::string secretName;
  int64_t secretCreated = 0;
  // A login whose password was a refresh token: that token (a grant hands it back rather than
  // a new one, so that a refresh token never outlives its own expiry).
  std::string presentedRefreshToken;

  bool ok() const { return failure == AuthFailure::None; }
};

// Counts failed logins per (source, username) in a sliding window.
class LoginThrottle {
 public:
  LoginThrottle(int maxFailures, std::chrono::seconds window)
      : max_(maxFailures), window_(window.count()) {}
  // Seconds to wait when blocked, 0 when the attempt may proceed.
  int blockedFor(const std::string& key, int64_t now);
  void failed(const std::string& key, int64_t now);
  void succeeded(const std::string& key);

 private:
  struct Entry {
    int count = 0;
    int64_t windowStart = 0;
  };
  int max_;
  int64_t window_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

// How the tag history, the outbox and the audit log name an identity: "anonymous", "admin",
// "token:<name>", or "operator" (access tokens name the admin account by the registry's name,
// the operator by none).
std::string identityName(const Identity& identity, std::string_view registryName);

// The user name of "Basic <base64>" credentials, for the audit of a refused login; empty for
// anything else. The password is never looked at.
std::string basicUser(std::optional<std::string_view> authorization);

class Authenticator {
 public:
  Authenticator(meta::IdentityStore& identities, AuthOptions options);

  // Creates the first signing key when there is none. Called once at start-up.
  Result<void> ensureSigningKey();
  // Makes a new key the signing key; earlier ones keep verifying until they age out.
  Result<std::string> rotateSigningKey();

  // `authorization` is the header's value; `service` the login server the client reached
  // (the audience of the tokens it may present); `remote` the client address.
  AuthResult authenticate(std::optional<std::string_view> authorization,
                          const meta::RegistrySettings& registry, std::string_view service,
                          std::string_view remote);
  // A username and password, from Basic credentials or an OAuth2 password grant.
  AuthResult login(const meta::RegistrySettings& registry, std::string_view username,
                   std::string_view password, std::string_view remote);
  // A person (its name) or a service principal (its application id) of the deployment signing
  // in with its password or a client secret, outside any registry (the control plane and the
  // portal): a Principal identity without permissions, which its role assignments give.
  AuthResult loginPrincipal(std::string_view username, std::string_view password,
                            std::string_view remote);
  // The federated credentials that trust `issuer` (asked before anything is fetched from it:
  // none, and the issuer is not trusted at all).
  Result<std::vector<meta::FederatedCredentialRecord>> trustedBy(std::string_view issuer);
  // The service principal a verified ID token signs in: one whose credential among `trusting`
  // (those of the token's issuer) matches its subject and is among its audiences, and whose
  // roles reach `registry`.
  AuthResult federatedLogin(const meta::RegistrySettings& registry, const IdToken& token,
                            const std::vector<meta::FederatedCredentialRecord>& trusting);
  // Re-resolves the identity behind a refresh token.
  AuthResult refresh(const meta::RegistrySettings& registry, std::string_view refreshToken,
                     std::string_view service);

  // What the identity a token was issued to may do now (its scope map, or everything for the
  // admin): the catalog lists for a bearer token what its subject may read, as ACR does.
  Result<Identity> subjectIdentity(const meta::RegistrySettings& registry,
                                   std::string_view subject);

  struct Issued {
    std::string token;
    int64_t issuedAt = 0;
    int64_t expiresIn = 0;
  };
  // Tokens name the registry that issued them and are refused by every other.
  Result<Issued> issueAccessToken(meta::RegistryId registry, const std::string& subject,
                                  std::string_view service, std::vector<ResourceAccess> access);
  Result<Issued> issueRefreshToken(meta::RegistryId registry, const std::string& subject,
                                   std::string_view service);
  // {"keys":[...]} with every key that may still verify a token.
  Result<std::string> jwks();

  const AuthOptions& options() const { return options_; }

 private:
  Result<Identity> identityFor(const meta::RegistrySettings& registry, std::string_view username);
  // What a principal may do in `registry`: the union of its role assignments at the deployment,
  // the registry and the registry's repository patterns.
  Result<Permissions> principalPermissions(const meta::RegistrySettings& registry,
                                           std::string_view id);
  bool secretMatches(const std::string& hash, std::string_view secret);
  // Whether the principal a token names (if it names one) still exists and is the one the
  // token was issued to (not a later one of the same name).
  bool principalStillIssues(const Claims& claims);
  // The first unexpired secret that `password` matches, or end().
  std::vector<meta::StoredSecret>::const_iterator matchingSecret(
      const std::vector<meta::StoredSecret>& secrets, std::string_view password, int64_t now);
  Result<Issued> issue(meta::RegistryId registry, const std::string& subject,
                       std::string_view service, std::vector<ResourceAccess> access,
                       std::string use, std::chrono::seconds lifetime);
  std::shared_ptr<const SigningKey> verifyingKey(std::string_view kid);
  Result<std::shared_ptr<const SigningKey>> signingKey();
  Result<void> reloadKeys();

  meta::IdentityStore& identities_;
  AuthOptions options_;
  LoginThrottle throttle_;
  // Verified bearer tokens and password checks, so that each costs one lookup after the
  // first: "<token>" -> claims, and "<hash>\n<sha256 of secret>" -> true.
  LruCache<std::string, std::shared_ptr<const Claims>> verifiedTokens_{16384, "access_tokens"};
  LruCache<std::string, bool> verifiedSecrets_{4096, "credentials"};
  std::shared_mutex keysMutex_;
  std::unordered_map<std::string, std::shared_ptr<const SigningKey>> keys_;
  int64_t keysLoadedAt_ = 0;
};

// Scope-map rules of a built-in map (`_repositories_pull`, `_repositories_push`,
// `_repositories_admin`, …); nullopt when `name` is not built in.
std::optional<std::vector<Rule>> builtinScopeMap(std::string_view name);
// The names builtinScopeMap knows, in byte order (as scope maps are listed).
std::span<const std::string_view> builtinScopeMapNames();

// The Docker actions of a token's access claim, as scope-map action bits.
uint8_t actionBitsOf(const std::vector<std::string>& dockerActions);

int64_t unixNow();

// The audience a federated credential expects when none is given (the ID token's `aud`).
inline constexpr std::string_view kDefaultFederatedAudience = "api://BerthTokenExchange";

// A federated credential's subject: exact, or ending in `*` for every subject that begins with
// what precedes it (`repo:org/app:ref:refs/heads/*`).
bool subjectMatches(std::string_view pattern, std::string_view subject);

}  // namespace berth::auth
