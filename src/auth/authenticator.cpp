#include "auth/authenticator.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>

#include "auth/base64url.hpp"
#include "auth/password.hpp"
#include "auth/roles.hpp"
#include "core/digest.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"

namespace berth::auth {

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- LoginThrottle ----

int LoginThrottle::blockedFor(const std::string& key, int64_t now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  if (now - it->second.windowStart >= window_) {
    entries_.erase(it);
    return 0;
  }
  if (it->second.count < max_) return 0;
  return static_cast<int>(window_ - (now - it->second.windowStart));
}

void LoginThrottle::failed(const std::string& key, int64_t now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() > 100000) {
    // Bounded: forget windows that have passed.
    std::erase_if(entries_, [&](const auto& e) { return now - e.second.windowStart >= window_; });
  }
  auto& e = entries_[key];
  if (e.count == 0 || now - e.windowStart >= window_) e = Entry{0, now};
  ++e.count;
}

void LoginThrottle::succeeded(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

// ---- helpers ----

std::optional<std::vector<Rule>> builtinScopeMap(std::string_view name) {
  constexpr uint8_t kPull = kContentRead | kMetadataRead;
  if (name == "_repositories_pull") return std::vector<Rule>{{"*", kContentRead}};
  if (name == "_repositories_pull_metadata_read") return std::vector<Rule>{{"*", kPull}};
  if (name == "_repositories_push") {
    return std::vector<Rule>{{"*", kContentRead | kContentWrite}};
  }
  if (name == "_repositories_push_metadata_write") {
    return std::vector<Rule>{{"*", kPull | kContentWrite | kMetadataWrite}};
  }
  if (name == "_repositories_admin") return std::vector<Rule>{{"*", kAllActions}};
  return std::nullopt;
}

std::span<const std::string_view> builtinScopeMapNames() {
  static constexpr std::array<std::string_view, 5> kNames{
      "_repositories_admin", "_repositories_pull", "_repositories_pull_metadata_read",
      "_repositories_push", "_repositories_push_metadata_write"};
  return kNames;
}

uint8_t actionBitsOf(const std::vector<std::string>& dockerActions) {
  uint8_t mask = 0;
  for (const auto& a : dockerActions) {
    if (a == "pull") mask |= kContentRead;
    if (a == "push") mask |= kContentWrite;
    if (a == "delete") mask |= kContentDelete;
    if (a == "metadata_read") mask |= kMetadataRead;
    if (a == "*") mask |= kAllActions;
  }
  return mask;
}

namespace {

std::string sourceOf(std::string_view remote) {
  // "1.2.3.4:5678" or "::1:5678": the port goes, the address stays.
  const auto colon = remote.rfind(':');
  return std::string(colon == std::string_view::npos ? remote : remote.substr(0, colon));
}

// berth_auth_failures_total{reason}: credentials refused, tokens refused, and attempts refused
// unchecked because their source failed too often (throttled).
void countFailure(AuthFailure kind) {
  static auto& family = metrics::counters(
      "berth_auth_failures_total", "Authentication attempts refused, by reason.", {"reason"});
  static auto& credentials = family.with({"bad_credentials"});
  static auto& token = family.with({"bad_token"});
  static auto& throttled = family.with({"throttled"});
  switch (kind) {
    case AuthFailure::BadCredentials:
      credentials.add();
      break;
    case AuthFailure::BadToken:
      token.add();
      break;
    case AuthFailure::Throttled:
      throttled.add();
      break;
    case AuthFailure::None:
      break;
  }
}

AuthResult failure(AuthFailure kind, std::string detail, int retryAfter = 0) {
  countFailure(kind);
  AuthResult r;
  r.failure = kind;
  r.detail = std::move(detail);
  r.retryAfter = retryAfter;
  return r;
}

// One password check against the failed-login limit of its (source, user name).
class LoginAttempt {
 public:
  LoginAttempt(LoginThrottle& throttle, std::string_view username, std::string_view remote,
               int64_t now)
      : throttle_(throttle),
        key_(sourceOf(remote) + "\n" + std::string(username)),
        username_(username),
        remote_(remote),
        now_(now) {}
  // The refusal when the source has failed too often.
  std::optional<AuthResult> blocked() {
    if (int wait = throttle_.blockedFor(key_, now_); wait > 0) {
      return failure(AuthFailure::Throttled, "too many failed logins", wait);
    }
    return std::nullopt;
  }
  AuthResult failed(std::string detail) {
    throttle_.failed(key_, now_);
    log::warn("login failed", {{"username", username_}, {"remote", remote_}, {"reason", detail}});
    return failure(AuthFailure::BadCredentials, "invalid username or password");
  }
  void succeeded() { throttle_.succeeded(key_); }

 private:
  LoginThrottle& throttle_;
  std::string key_;
  std::string_view username_, remote_;
  int64_t now_;
};

}  // namespace

// ---- Authenticator ----

Authenticator::Authenticator(meta::IdentityStore& identities, AuthOptions options)
    : identities_(identities),
      options_(std::move(options)),
      throttle_(options_.maxFailures, options_.failureWindow) {}

Result<void> Authenticator::ensureSigningKey() {
  auto keys = identities_.signingKeys();
  if (!keys) return keys.takeError();
  if (keys->empty()) {
    auto kid = rotateSigningKey();
    if (!kid) return kid.takeError();
    return {};
  }
  return reloadKeys();
}

Result<std::string> Authenticator::rotateSigningKey() {
  auto key = SigningKey::generate();
  const auto now = unixNow();
  meta::SigningKeyRecord record{key.kid(), key.privatePem(), now, std::nullopt};
  if (auto r = identities_.addSigningKey(record); !r) return r.takeError();
  if (auto r = identities_.retireSigningKeys(key.kid(), now); !r) return r.takeError();
  if (auto r = reloadKeys(); !r) return r.takeError();
  log::info("signing key created", {{"kid", key.kid()}});
  return key.kid();
}

Result<void> Authenticator::reloadKeys() {
  auto records = identities_.signingKeys();
  if (!records) return records.takeError();
  const auto now = unixNow();
  // A retired key verifies for as long as a token it signed can live.
  const int64_t horizon = std::max(options_.tokenLifetime, options_.refreshLifetime).count() + 60;
  std::unordered_map<std::string, std::shared_ptr<const SigningKey>> loaded;
  for (const auto& r : *records) {
    if (r.retired && now - *r.retired > horizon) continue;
    auto key = SigningKey::fromPem(r.privatePem);
    if (!key) {
      log::error("unreadable signing key", {{"kid", r.kid}});
      continue;
    }
    loaded.emplace(r.kid, std::make_shared<const SigningKey>(std::move(*key)));
  }
  std::unique_lock lock(keysMutex_);
  keys_ = std::move(loaded);
  keysLoadedAt_ = now;
  return {};
}

std::shared_ptr<const SigningKey> Authenticator::verifyingKey(std::string_view kid) {
  {
    std::shared_lock lock(keysMutex_);
    auto it = keys_.find(std::string(kid));
    if (it != keys_.end()) return it->second;
    // An unknown kid may be a key another process just made; look again, at most once a second.
    if (unixNow() == keysLoadedAt_) return nullptr;
  }
  if (!reloadKeys()) return nullptr;
  std::shared_lock lock(keysMutex_);
  auto it = keys_.find(std::string(kid));
  return it == keys_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<const SigningKey>> Authenticator::signingKey() {
  // The newest key signs; it may have been rotated by `berth admin key rotate` meanwhile.
  auto records = identities_.signingKeys();
  if (!records) return records.takeError();
  if (records->empty()) return makeError(ApiCode::Unknown, "no signing key");
  auto key = verifyingKey(records->front().kid);
  if (!key) {
    if (auto r = reloadKeys(); !r) return r.takeError();
    key = verifyingKey(records->front().kid);
  }
  if (!key) return makeError(ApiCode::Unknown, "signing key unreadable");
  return key;
}

bool Authenticator::secretMatches(const std::string& hash, std::string_view secret) {
  const std::string key = hash + "\n" + sha256Digest(secret);
  if (verifiedSecrets_.get(key)) return true;
  if (!verifySecret(hash, secret)) return false;
  verifiedSecrets_.put(key, true);
  return true;
}

Result<Identity> Authenticator::identityFor(const meta::RegistrySettings& registry,
                                            std::string_view username) {
  Identity id;
  id.subject = std::string(username);
  id.catalog = true;
  // The registry's owner, as `berth login` signs in: never a token of that name.
  if (username == registry.name || username == kRefreshTokenUser) {
    id.kind = Identity::Kind::Admin;
    id.permissions = Permissions::all();
    return id;
  }
  if (username.starts_with(kPrincipalPrefix)) {
    auto principal = identities_.principal(username.substr(kPrincipalPrefix.size()));
    if (!principal) return principal.takeError();
    if (!*principal) return makeError(ApiCode::Unauthorized);
    auto permissions = principalPermissions(registry, (*principal)->id);
    if (!permissions) return permissions.takeError();
    id.kind = Identity::Kind::Principal;
    id.permissions = std::move(*permissions);
    return id;
  }
  auto token = identities_.token(registry.id, username);
  if (!token) return token.takeError();
  if (!*token || !(*token)->enabled) return makeError(ApiCode::Unauthorized);
  id.kind = Identity::Kind::Token;
  if (auto builtin = builtinScopeMap((*token)->scopeMap)) {
    id.permissions = Permissions(std::move(*builtin));
    return id;
  }
  auto map = identities_.scopeMap(registry.id, (*token)->scopeMap);
  if (!map) return map.takeError();
  std::vector<Rule> rules;
  if (*map) {
    for (const auto& r : (*map)->rules) rules.push_back({r.pattern, r.actions});
  }
  id.permissions = Permissions(std::move(rules));
  return id;
}

Result<Permissions> Authenticator::principalPermissions(const meta::RegistrySettings& registry,
                                                        std::string_view id) {
  auto assignments = identities_.roleAssignments(id);
  if (!assignments) return assignments.takeError();
  return permissionsIn(*assignments, registry.id);
}

Result<Identity> Authenticator::subjectIdentity(const meta::RegistrySettings& registry,
                                                std::string_view subject) {
  if (subject.empty()) return Identity{};
  return identityFor(registry, subject);
}

AuthResult Authenticator::login(const meta::RegistrySettings& registry, std::string_view username,
                                std::string_view password, std::string_view remote) {
  const auto now = unixNow();
  LoginAttempt attempt(throttle_, username, remote, now);
  if (auto blocked = attempt.blocked()) return *blocked;
  auto bad = [&](std::string detail) { return attempt.failed(std::move(detail)); };

  if (username == kRefreshTokenUser) {
    // The password is a refresh token issued to this user for this registry's login server:
    // the refresh grant's checks, with failures counted like wrong passwords.
    if (!options_.loginServer) return bad("refresh-token logins are not configured");
    auto r = refresh(registry, password, options_.loginServer(registry.name));
    if (!r.ok()) return bad(r.detail);
    // Issued by `berth login` to the registry's owner, or by /oauth2/exchange to a principal.
    if (r.identity.subject != kRefreshTokenUser &&
        !r.identity.subject.starts_with(kPrincipalPrefix)) {
      return bad("refresh token of a user");
    }
    r.presentedRefreshToken = std::string(password);
    attempt.succeeded();
    return r;
  }
  std::vector<meta::StoredSecret> secrets;
  if (username == registry.name) {
    if (!registry.adminEnabled) return bad("admin account disabled");
    auto admin = identities_.adminSecrets(registry.id);
    if (!admin) return bad("identity store unavailable");
    secrets = std::move(*admin);
  } else if (auto token = identities_.token(registry.id, username); !token) {
    return bad("identity store unavailable");
  } else if (*token) {
    if (!(*token)->enabled) return bad("token disabled");
    secrets = std::move((*token)->secrets);
  } else {
    // Not the registry's: a person (its name) or a service principal (its application id) of
    // the deployment, whose roles say what it may do here.
    auto r = loginPrincipal(username, password, remote);
    if (!r.ok()) return r;
    auto permissions = principalPermissions(
        registry, std::string_view(r.identity.subject).substr(kPrincipalPrefix.size()));
    if (!permissions) return bad("identity unavailable");
    r.identity.permissions = std::move(*permissions);
    r.identity.catalog = true;
    return r;
  }
  const auto matched = matchingSecret(secrets, password, now);
  if (matched == secrets.end()) return bad("wrong or expired password");
  auto identity = identityFor(registry, username);
  if (!identity) return bad("identity unavailable");
  attempt.succeeded();
  AuthResult r;
  r.identity = std::move(*identity);
  r.secretName = secretKey(*matched);
  r.secretCreated = matched->created;
  return r;
}

std::string secretKey(const meta::StoredSecret& secret) {
  return secret.name + "/" + sha256Digest(secret.hash).substr(7, 16);
}

std::vector<meta::StoredSecret> principalSecrets(const meta::PrincipalRecord& principal) {
  if (principal.kind == meta::PrincipalRecord::Kind::ServicePrincipal) return principal.secrets;
  if (!principal.passwordHash) return {};
  return {{std::string(kUserPasswordName), *principal.passwordHash, std::nullopt,
           principal.passwordChanged}};
}

std::vector<meta::StoredSecret>::const_iterator Authenticator::matchingSecret(
    const std::vector<meta::StoredSecret>& secrets, std::string_view password, int64_t now) {
  return std::find_if(secrets.begin(), secrets.end(), [&](const auto& s) {
    if (s.expiry && *s.expiry <= now) return false;
    return secretMatches(s.hash, password);
  });
}

AuthResult Authenticator::loginPrincipal(std::string_view username, std::string_view password,
                                         std::string_view remote) {
  const auto now = unixNow();
  LoginAttempt attempt(throttle_, username, remote, now);
  if (auto blocked = attempt.blocked()) return *blocked;
  auto bad = [&](std::string detail) { return attempt.failed(std::move(detail)); };
  auto principal = identities_.principal(username);
  if (!principal) return bad("identity store unavailable");
  if (!*principal) return bad("unknown user");
  const auto secrets = principalSecrets(**principal);
  const auto matched = matchingSecret(secrets, password, now);
  if (matched == secrets.end()) return bad("wrong, expired or no password");
  attempt.succeeded();
  AuthResult r;
  r.identity.kind = Identity::Kind::Principal;
  r.identity.subject = std::string(kPrincipalPrefix) + (*principal)->id;
  r.secretName = secretKey(*matched);
  r.secretCreated = matched->created;
  return r;
}

bool subjectMatches(std::string_view pattern, std::string_view subject) {
  if (pattern.ends_with('*')) return subject.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == subject;
}

Result<std::vector<meta::FederatedCredentialRecord>> Authenticator::trustedBy(
    std::string_view issuer) {
  return identities_.federatedCredentials(std::nullopt, issuer);
}

AuthResult Authenticator::federatedLogin(
    const meta::RegistrySettings& registry, const IdToken& token,
    const std::vector<meta::FederatedCredentialRecord>& trusting) {
  bool matched = false;
  for (const auto& c : trusting) {
    if (c.issuer != token.issuer) continue;
    if (!subjectMatches(c.subject, token.subject)) continue;
    if (std::find(token.audiences.begin(), token.audiences.end(), c.audience) ==
        token.audiences.end()) {
      continue;
    }
    matched = true;
    auto assignments = identities_.roleAssignments(c.principal);
    if (!assignments) return failure(AuthFailure::BadCredentials, "identity store unavailable");
    if (!reaches(*assignments, registry.id)) continue;
    AuthResult r;
    r.identity.kind = Identity::Kind::Principal;
    r.identity.subject = std::string(kPrincipalPrefix) + c.principal;
    r.identity.permissions = permissionsIn(*assignments, registry.id);
    r.identity.catalog = true;
    return r;
  }
  if (matched) {
    return failure(AuthFailure::BadCredentials,
                   "the service principal of the matching federated "
                   "credential has no role in registry " +
                       registry.name);
  }
  return failure(AuthFailure::BadCredentials, "no federated credential of " + token.issuer +
                                                  " matches subject \"" + token.subject +
                                                  "\" and the token's audience");
}

bool Authenticator::principalStillIssues(const Claims& claims) {
  if (!claims.sub.starts_with(kPrincipalPrefix)) return true;
  auto principal =
      identities_.principal(std::string_view(claims.sub).substr(kPrincipalPrefix.size()));
  // A name deleted and made again is another principal: the old one's tokens stay dead.
  return principal && *principal && claims.iat >= (*principal)->created;
}

AuthResult Authenticator::refresh(const meta::RegistrySettings& registry,
                                  std::string_view refreshToken, std::string_view service) {
  auto decoded = decodeJwt(
      refreshToken, [this](std::string_view kid) { return verifyingKey(kid); }, options_.issuer,
      service, unixNow(), "refresh");
  if (auto* error = std::get_if<JwtError>(&decoded)) {
    return failure(AuthFailure::BadToken, std::string(describe(*error)));
  }
  const auto& claims = std::get<Claims>(decoded);
  if (claims.registry != registry.id) {
    return failure(AuthFailure::BadToken, "refresh token of another registry");
  }
  // The identity must still be allowed in: a disabled admin or token loses its refresh tokens.
  if (claims.sub == registry.name && !registry.adminEnabled) {
    return failure(AuthFailure::BadToken, "admin account disabled");
  }
  if (!principalStillIssues(claims)) return failure(AuthFailure::BadToken, "principal deleted");
  auto identity = identityFor(registry, claims.sub);
  if (!identity) return failure(AuthFailure::BadToken, "identity no longer valid");
  AuthResult r;
  r.identity = std::move(*identity);
  return r;
}

AuthResult Authenticator::authenticate(std::optional<std::string_view> authorization,
                                       const meta::RegistrySettings& registry,
                                       std::string_view service, std::string_view remote) {
  if (!authorization || authorization->empty()) return AuthResult{};
  const auto header = *authorization;
  const auto space = header.find(' ');
  const auto scheme = header.substr(0, space);
  const auto value = space == header.npos ? std::string_view() : header.substr(space + 1);
  auto equalsIgnoreCase = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };

  if (equalsIgnoreCase(scheme, "basic")) {
    auto decoded = base64Decode(value);
    if (!decoded) return failure(AuthFailure::BadCredentials, "malformed basic credentials");
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) {
      return failure(AuthFailure::BadCredentials, "malformed basic credentials");
    }
    return login(registry, std::string_view(*decoded).substr(0, colon),
                 std::string_view(*decoded).substr(colon + 1), remote);
  }
  if (!equalsIgnoreCase(scheme, "bearer")) {
    return failure(AuthFailure::BadCredentials, "unsupported authorization scheme");
  }

  const std::string token(value);
  std::shared_ptr<const Claims> claims;
  if (auto hit = verifiedTokens_.get(token)) {
    claims = *hit;
  } else {
    auto decoded = decodeJwt(
        token, [this](std::string_view kid) { return verifyingKey(kid); }, options_.issuer, service,
        unixNow());
    if (auto* error = std::get_if<JwtError>(&decoded)) {
      return failure(AuthFailure::BadToken, std::string(describe(*error)));
    }
    claims = std::make_shared<const Claims>(std::move(std::get<Claims>(decoded)));
    verifiedTokens_.put(token, claims);
  }
  // The cache holds verified signatures; time and audience are checked on every use.
  const auto now = unixNow();
  if (now > claims->exp + 30) return failure(AuthFailure::BadToken, "token expired");
  if (claims->aud != service) return failure(AuthFailure::BadToken, "token for another service");
  if (claims->registry != registry.id) {
    return failure(AuthFailure::BadToken, "token of another registry");
  }

  // A token outlives nothing it was issued to: a disabled admin or token loses its access
  // tokens at once, as it loses its passwords.
  if (claims->sub.starts_with(kPrincipalPrefix)) {
    if (!principalStillIssues(*claims)) return failure(AuthFailure::BadToken, "principal deleted");
  } else if (!claims->sub.empty() && claims->sub != kRefreshTokenUser) {
    if (claims->sub == registry.name) {
      if (!registry.adminEnabled) return failure(AuthFailure::BadToken, "admin account disabled");
    } else {
      auto token = identities_.token(registry.id, claims->sub);
      if (!token || !*token || !(*token)->enabled) {
        return failure(AuthFailure::BadToken, "token disabled or deleted");
      }
    }
  }

  AuthResult r;
  r.identity.kind = Identity::Kind::Bearer;
  r.identity.subject = claims->sub;
  std::vector<Rule> rules;
  for (const auto& a : claims->access) {
    if (a.type == "repository") rules.push_back({a.name, actionBitsOf(a.actions)});
    if (a.type == "registry" && a.name == "catalog" &&
        std::find(a.actions.begin(), a.actions.end(), "*") != a.actions.end()) {
      r.identity.catalog = true;
    }
  }
  r.identity.permissions = Permissions(std::move(rules));
  return r;
}

Result<Authenticator::Issued> Authenticator::issue(meta::RegistryId registry,
                                                   const std::string& subject,
                                                   std::string_view service,
                                                   std::vector<ResourceAccess> access,
                                                   std::string use, std::chrono::seconds lifetime) {
  auto key = signingKey();
  if (!key) return key.takeError();
  Claims c;
  c.iss = options_.issuer;
  c.sub = subject;
  c.aud = std::string(service);
  c.iat = unixNow();
  c.nbf = c.iat;
  c.exp = c.iat + lifetime.count();
  c.jti = newUuid();
  c.access = std::move(access);
  c.use = std::move(use);
  c.registry = registry;
  return Issued{encodeJwt(c, **key), c.iat, lifetime.count()};
}

Result<Authenticator::Issued> Authenticator::issueAccessToken(meta::RegistryId registry,
                                                              const std::string& subject,
                                                              std::string_view service,
                                                              std::vector<ResourceAccess> access) {
  return issue(registry, subject, service, std::move(access), "", options_.tokenLifetime);
}

Result<Authenticator::Issued> Authenticator::issueRefreshToken(meta::RegistryId registry,
                                                               const std::string& subject,
                                                               std::string_view service) {
  return issue(registry, subject, service, {}, "refresh", options_.refreshLifetime);
}

Result<std::string> Authenticator::jwks() {
  if (auto r = reloadKeys(); !r) return r.takeError();
  boost::json::array keys;
  {
    std::shared_lock lock(keysMutex_);
    for (const auto& [kid, key] : keys_) keys.push_back(boost::json::parse(key->publicJwk()));
  }
  return boost::json::serialize(boost::json::object{{"keys", std::move(keys)}});
}

std::string identityName(const Identity& who, std::string_view registryName) {
  switch (who.kind) {
    case Identity::Kind::Anonymous:
      return "anonymous";
    case Identity::Kind::Admin:
      return "admin";
    case Identity::Kind::Token:
      return "token:" + who.subject;
    case Identity::Kind::Principal:
      return "principal:" +
             who.subject.substr(std::min(who.subject.size(), kPrincipalPrefix.size()));
    case Identity::Kind::Bearer:
      if (who.subject.starts_with(kPrincipalPrefix)) {
        return "principal:" + who.subject.substr(kPrincipalPrefix.size());
      }
      if (who.subject == registryName) return "admin";
      if (who.subject.empty() || who.subject == kRefreshTokenUser) return "operator";
      return "token:" + who.subject;
  }
  return "anonymous";
}

std::string basicUser(std::optional<std::string_view> authorization) {
  if (!authorization || authorization->size() < 6) return {};
  const auto scheme = authorization->substr(0, 6);
  if (scheme != "Basic " && scheme != "basic ") return {};
  auto decoded = base64Decode(authorization->substr(6));
  if (!decoded) return {};
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return {};
  return decoded->substr(0, colon);
}

}  // namespace berth::auth
