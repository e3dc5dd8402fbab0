#include "auth/token_endpoint.hpp"

#include <boost/json.hpp>
#include <ctime>

#include "core/reference.hpp"

namespace berth::auth {
namespace json = boost::json;
using http::Dispatch;
using http::Response;

namespace {

constexpr size_t kMaxFormBytes = 64 * 1024;

std::string rfc3339(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// OAuth2-style error for the POST grants.
Response oauthError(int status, std::string_view code, std::string_view description) {
  json::object body{{"error", code}, {"error_description", description}};
  return Response::json(status, json::serialize(body));
}

}  // namespace

Response throttled(const AuthResult& auth) {
  auto r = Response::error(makeError(ApiCode::TooManyRequests, auth.detail));
  r.headers.add("Retry-After", std::to_string(auth.retryAfter));
  return r;
}

namespace {

Response unauthorized(const AuthResult& auth) {
  if (auth.failure == AuthFailure::Throttled) return throttled(auth);
  auto r = Response::error(makeError(ApiCode::Unauthorized, auth.detail));
  r.headers.add("WWW-Authenticate", "Basic realm=\"berth\"");
  return r;
}

// The first value of `key` in a parsed form.
std::optional<std::string> formField(const std::vector<std::pair<std::string, std::string>>& form,
                                     std::string_view key) {
  for (const auto& [k, v] : form) {
    if (k == key) return v;
  }
  return std::nullopt;
}

bool truthy(std::optional<std::string_view> v) { return v && (*v == "true" || *v == "1"); }

}  // namespace

std::vector<ResourceAccess> grantAccess(const Identity& identity, bool anonymousPull,
                                        const std::vector<std::string>& scopeParams) {
  std::vector<ResourceAccess> granted;
  for (const auto& param : scopeParams) {
    for (auto& scope : parseScopes(param)) {
      if (scope.type == "repository") {
        if (!isValidRepositoryName(scope.name)) continue;
        uint8_t mask = identity.anonymous() ? (anonymousPull ? kContentRead : 0)
                                            : identity.permissions.actionsOn(scope.name);
        auto actions = grantedDockerActions(mask, scope.actions);
        granted.push_back({"repository", scope.name, std::move(actions)});
      } else if (scope.type == "registry" && scope.name == "catalog") {
        std::vector<std::string> actions;
        if (!identity.anonymous() && identity.catalog) actions.emplace_back("*");
        granted.push_back({"registry", "catalog", std::move(actions)});
      }
    }
  }
  return granted;
}

Dispatch TokenEndpoint::dispatch(http::Request& req) {
  req.plane = "auth";
  auto registry = resolve_(req);
  if (!registry) return Dispatch::reply(Response::error(registry.error()));
  req.registry = registry->name;
  if (req.path == "/oauth2/jwks") {
    req.route = "/oauth2/jwks";
    if (req.method != http::Method::Get && req.method != http::Method::Head) {
      return Dispatch::reply(Response::error(makeError(ApiCode::Unsupported)));
    }
    auto keys = auth_.jwks();
    if (!keys) return Dispatch::reply(Response::error(keys.error()));
    return Dispatch::reply(Response::json(200, std::move(*keys)));
  }
  if (req.path == "/oauth2/exchange") {
    req.route = "/oauth2/exchange";
    req.auditAction = "login";
    if (req.method != http::Method::Post || exchange_.verifier == nullptr) {
      auto refused = oauthError(405, "invalid_request", "use POST");
      refused.headers.add("Allow", "POST");
      return Dispatch::reply(std::move(refused));
    }
    // Runs on the blocking pool: verifying may fetch the issuer's keys.
    auto done = [this, live = &req, settings = *registry](std::string body) {
      return exchange(*live, settings, body);
    };
    return Dispatch::body(std::make_unique<http::BufferedSink<decltype(done)>>(
        kMaxFormBytes, makeError(ApiCode::SizeInvalid, "form too large", 413), std::move(done),
        true));
  }
  if (req.path != "/oauth2/token") {
    return Dispatch::reply(Response::error(makeError(ApiCode::NotFound)));
  }
  req.route = "/oauth2/token";
  req.auditAction = "login";
  if (req.method == http::Method::Get) return Dispatch::reply(getToken(req, *registry));
  if (req.method != http::Method::Post) {
    return Dispatch::reply(Response::error(makeError(ApiCode::Unsupported)));
  }
  // The request outlives its body sink: the audit's identity is set on it from the form.
  auto done = [this, live = &req, settings = *registry](std::string body) {
    return postToken(*live, settings, body);
  };
  return Dispatch::body(std::make_unique<http::BufferedSink<decltype(done)>>(
      kMaxFormBytes, makeError(ApiCode::SizeInvalid, "form too large", 413), std::move(done)));
}

Response TokenEndpoint::grant(const http::Request& req, const meta::RegistrySettings& registry,
                              const AuthResult& auth, const std::vector<std::string>& scopes,
                              bool offline, std::optional<std::string> refreshToken) {
  const std::string service(req.host());
  auto access = grantAccess(auth.identity, registry.anonymousPull, scopes);
  const std::string subject = auth.identity.anonymous() ? "" : auth.identity.subject;
  auto issued = auth_.issueAccessToken(registry.id, subject, service, std::move(access));
  if (!issued) return Response::error(issued.error());
  json::object body{{"token", issued->token},
                    {"access_token", issued->token},
                    {"expires_in", issued->expiresIn},
                    {"issued_at", rfc3339(issued->issuedAt)}};
  if (!refreshToken && !auth.presentedRefreshToken.empty()) {
    refreshToken = auth.presentedRefreshToken;  // signed in by one: never a longer-lived one
  }
  if (offline && !auth.identity.anonymous() && !refreshToken) {
    auto refresh = auth_.issueRefreshToken(registry.id, subject, service);
    if (!refresh) return Response::error(refresh.error());
    refreshToken = refresh->token;
  }
  if (refreshToken) body["refresh_token"] = *refreshToken;
  auto r = Response::json(200, json::serialize(body));
  r.headers.add("Cache-Control", "no-store");
  return r;
}

Response TokenEndpoint::getToken(http::Request& req, const meta::RegistrySettings& registry) {
  if (auto service = req.param("service"); service && *service != req.host()) {
    return Response::error(makeError(ApiCode::Denied, "unknown service " + std::string(*service)));
  }
  auto auth = auth_.authenticate(req.header("Authorization"), registry, req.host(), req.remote);
  req.identity = auth.ok() ? identityName(auth.identity, registry.name)
                           : basicUser(req.header("Authorization"));
  if (!auth.ok()) return unauthorized(auth);
  if (auth.identity.kind == Identity::Kind::Bearer) {
    // A token is not a credential for another token.
    return unauthorized(AuthResult{{}, AuthFailure::BadCredentials, "basic credentials required"});
  }
  if (auth.identity.anonymous() && !registry.anonymousPull) {
    return unauthorized(AuthResult{{}, AuthFailure::BadCredentials, "authentication required"});
  }
  std::vector<std::string> scopes;
  for (const auto& [k, v] : req.query) {
    if (k == "scope") scopes.push_back(v);
  }
  return grant(req, registry, auth, scopes, truthy(req.param("offline_token")), std::nullopt);
}

Response TokenEndpoint::postToken(http::Request& req, const meta::RegistrySettings& registry,
                                  const std::string& body) {
  const auto form = http::parseForm(body);
  auto field = [&form](std::string_view key) { return formField(form, key); };
  if (auto service = field("service"); service && *service != req.host()) {
    return oauthError(400, "invalid_request", "unknown service");
  }
  std::vector<std::string> scopes;
  if (auto scope = field("scope")) scopes.push_back(*scope);
  const auto grantType = field("grant_type").value_or("");
  if (grantType == "password") {
    auto username = field("username");
    auto password = field("password");
    if (!username || !password) {
      return oauthError(400, "invalid_request", "username and password are required");
    }
    auto auth = auth_.login(registry, *username, *password, req.remote);
    req.identity = auth.ok() ? identityName(auth.identity, registry.name) : *username;
    if (auth.failure == AuthFailure::Throttled) return unauthorized(auth);
    if (!auth.ok()) return oauthError(401, "invalid_grant", "invalid username or password");
    return grant(req, registry, auth, scopes, field("access_type") == "offline", std::nullopt);
  }
  if (grantType == "refresh_token") {
    auto token = field("refresh_token");
    if (!token) return oauthError(400, "invalid_request", "refresh_token is required");
    auto auth = auth_.refresh(registry, *token, req.host());
    req.identity = auth.ok() ? identityName(auth.identity, registry.name) : "refresh-token";
    if (!auth.ok()) return oauthError(400, "invalid_grant", auth.detail);
    return grant(req, registry, auth, scopes, true, *token);
  }
  return oauthError(400, "unsupported_grant_type", "grant_type must be password or refresh_token");
}

Response TokenEndpoint::exchange(http::Request& req, const meta::RegistrySettings& host,
                                 const std::string& body) {
  const auto form = http::parseForm(body);
  auto field = [&form](std::string_view key) { return formField(form, key); };
  req.identity = "federated";
  if (field("grant_type") != "access_token") {
    return oauthError(400, "unsupported_grant_type", "grant_type must be access_token");
  }
  const auto token = field("access_token");
  if (!token || token->empty())
    return oauthError(400, "invalid_request", "access_token is required");
  // The registry: the one whose login server was reached, or the one `service` names.
  meta::RegistrySettings registry = host;
  if (auto service = field("service"); service && *service != req.host()) {
    auto named = exchange_.registryOfService
                     ? exchange_.registryOfService(*service)
                     : Result<std::optional<meta::RegistrySettings>>(std::nullopt);
    if (!named) return Response::error(named.error());
    if (!*named) return oauthError(400, "invalid_request", "unknown service " + *service);
    registry = std::move(**named);
  }
  req.registry = registry.name;
  auto issuer = OidcVerifier::unverifiedIssuer(*token);
  if (!issuer) return oauthError(401, "invalid_grant", issuer.error().detail);
  auto trusting = auth_.trustedBy(*issuer);
  if (!trusting) return Response::error(trusting.error());
  if (trusting->empty()) {
    return oauthError(401, "invalid_grant", "no federated credential trusts issuer " + *issuer);
  }
  auto verified = exchange_.verifier->verify(*token, unixNow());
  if (!verified) return oauthError(401, "invalid_grant", verified.error().detail);
  auto login = auth_.federatedLogin(registry, *verified, *trusting);
  if (!login.ok()) return oauthError(401, "invalid_grant", login.detail);
  req.identity = identityName(login.identity, registry.name);
  const auto loginServer = auth_.options().loginServer ? auth_.options().loginServer(registry.name)
                                                       : std::string(req.host());
  auto issued = auth_.issueRefreshToken(registry.id, login.identity.subject, loginServer);
  if (!issued) return Response::error(issued.error());
  json::object reply{{"refresh_token", issued->token},
                     {"loginServer", loginServer},
                     {"username", kRefreshTokenUser},
                     {"expires_in", issued->expiresIn}};
  auto r = Response::json(200, json::serialize(reply));
  r.headers.add("Cache-Control", "no-store");
  return r;
}

}  // namespace berth::auth
