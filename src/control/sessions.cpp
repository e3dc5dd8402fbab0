// Sign-in sessions of the portal (docs/control-api.md, "Sessions"). POST /api/v1/session checks
// the operator token or a registry's credentials once and answers with an HttpOnly,
// SameSite=Strict cookie holding a random secret; the store keeps only its SHA-256. A request
// that carries the cookie (and no Authorization header) acts as that identity, with its rights
// looked up again on every request, so a token disabled or an admin account turned off ends
// its sessions at once.
//
// CSRF: every request signed in by the cookie, and the sign-in itself, must carry the header
// X-Berth-Request. A page of another origin cannot send a custom header without a CORS
// preflight, which berth never grants, and SameSite=Strict keeps the browser from attaching
// the cookie to requests another site starts.
#include "control/sessions.hpp"

#include <algorithm>
#include <vector>

#include "auth/password.hpp"
#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/digest.hpp"

namespace berth::control {
namespace json = boost::json;

namespace {

using Kind = meta::SessionRecord::Kind;

std::string idOf(std::string_view secret) { return sha256Digest(secret).substr(7); }

std::string cookie(std::string_view value, int64_t maxAge, bool secure) {
  std::string c = std::string(kSessionCookie) + "=" + std::string(value) +
                  "; Path=/api/v1; Max-Age=" + std::to_string(maxAge) +
                  "; HttpOnly; SameSite=Strict";
  if (secure) c += "; Secure";
  return c;
}

// Actions as the control API names them ("content/read", ...), for a permission list.
json::array permissionsJson(const auth::Permissions& permissions) {
  json::array out;
  for (const auto& rule : permissions.rules()) {
    json::array actions;
    for (const auto& a : auth::scopeActionNames(rule.actions)) actions.emplace_back(a);
    out.push_back(json::object{{"repository", rule.pattern}, {"actions", std::move(actions)}});
  }
  return out;
}

std::string_view kindName(Caller::Kind kind) {
  switch (kind) {
    case Caller::Kind::Operator:
      return "operator";
    case Caller::Kind::Admin:
      return "admin";
    case Caller::Kind::Token:
      return "token";
    case Caller::Kind::Principal:
      return "principal";
  }
  return "operator";
}

Result<json::object> sessionJson(const Call& c, std::optional<int64_t> expires) {
  const auto permissions = c.caller.limited() ? c.caller.permissions : auth::Permissions::all();
  json::object out{{"kind", kindName(c.caller.kind)},
                   {"identity", c.actor().identity},
                   {"registry", nullptr},
                   {"loginServer", nullptr},
                   {"expiresAt", timeOrNull(expires)},
                   {"permissions", permissionsJson(permissions)}};
  if (c.caller.kind == Caller::Kind::Principal) {
    // A principal's session is the deployment's: what it may do in each registry follows
    // from its roles.
    json::array roles;
    for (const auto& a : c.caller.roles) {
      auto j = roleAssignmentJson(c.deps, a);
      if (!j) return j.takeError();
      roles.push_back(std::move(*j));
    }
    out["roles"] = std::move(roles);
  } else if (c.caller.kind != Caller::Kind::Operator && c.registry) {
    out["registry"] = c.registry->name;
    out["loginServer"] = c.deps.host.loginServer(c.registry->name);
  }
  return out;
}

http::Response endedSession(std::string message, bool secure) {
  auto resp = errorResponse(error(Code::Unauthorized, std::move(message)));
  resp.headers.add("Set-Cookie", cookie("", 0, secure));
  return resp;
}

}  // namespace

std::optional<std::string> sessionCookie(const http::Request& req) {
  const auto header = req.header("Cookie");
  if (!header) return std::nullopt;
  std::string_view rest = *header;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view pair = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    while (pair.starts_with(' ')) pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != kSessionCookie) continue;
    auto value = pair.substr(eq + 1);
    while (value.ends_with(' ')) value.remove_suffix(1);
    if (!value.empty()) return std::string(value);
  }
  return std::nullopt;
}

Error csrfRefused() {
  return error(Code::Denied, "a request signed in by the session cookie must carry the " +
                                 std::string(kCsrfHeader) + " header");
}

bool hasCsrfHeader(const http::Request& req) {
  const auto value = req.header(kCsrfHeader);
  return value && !value->empty();
}

std::optional<http::Response> authenticateSession(Call& c, const http::Request& req,
                                                  std::string_view secret) {
  if (!hasCsrfHeader(req)) return errorResponse(csrfRefused());
  auto found = c.deps.identities.session(idOf(secret), auth::unixNow());
  if (!found) return errorResponse(found.takeError());
  if (!*found) return endedSession("the session has expired or was signed out", c.secure);
  const auto& s = **found;
  c.sessionSecret = std::string(secret);
  c.sessionExpires = s.expires;
  auto end = [&](std::string why) -> std::optional<http::Response> {
    (void)c.deps.identities.deleteSession(s.id);
    return endedSession(std::move(why), c.secure);
  };
  // The password it signed in with must still be there, unchanged and unexpired.
  const int64_t now = auth::unixNow();
  auto stillHeld = [&](const std::vector<meta::StoredSecret>& secrets) {
    return std::any_of(secrets.begin(), secrets.end(), [&](const meta::StoredSecret& stored) {
      return auth::secretKey(stored) == s.secretName && stored.created == s.secretCreated &&
             (!stored.expiry || *stored.expiry > now);
    });
  };
  if (s.kind == Kind::Operator || s.kind == Kind::Principal) {
    // Sessions of the deployment: any registry of the path.
    if (!c.registryName.empty()) {
      auto registry = c.deps.identities.registryByName(c.registryName);
      if (!registry) return errorResponse(registry.takeError());
      if (!*registry) {
        return errorResponse(error(Code::NotFound, "registry " + c.registryName + " not found"));
      }
      c.registry = std::move(**registry);
    }
    if (s.kind == Kind::Operator) {
      if (s.subject != c.deps.host.operatorFingerprint()) {
        return end("the operator token it signed in with has been replaced");
      }
      c.caller.kind = Caller::Kind::Operator;
      return std::nullopt;
    }
    auto principal = c.deps.identities.principal(s.subject);
    if (!principal) return errorResponse(principal.takeError());
    if (!*principal) return end(s.subject + " no longer exists");
    if (!stillHeld(auth::principalSecrets(**principal))) {
      return end("the password it signed in with was changed, deleted or has expired");
    }
    if (auto r = signInPrincipal(c, s.subject); !r) return errorResponse(r.takeError());
    return std::nullopt;
  }
  auto registry = c.deps.identities.registrySettings(s.registry.value_or(0));
  if (!registry) return errorResponse(registry.takeError());
  if (!*registry) return end("the session's registry no longer exists");
  if (!c.registryName.empty() && c.registryName != (*registry)->name) {
    return errorResponse(error(
        Code::Denied, "this session is signed in to registry " + (*registry)->name + " only"));
  }
  if (s.kind == Kind::Admin) {
    if (!(*registry)->adminEnabled) return end("the registry's admin account is disabled");
    auto secrets = c.deps.identities.adminSecrets((*registry)->id);
    if (!secrets) return errorResponse(secrets.takeError());
    if (!stillHeld(*secrets)) return end("the password it signed in with was regenerated");
    c.caller.kind = Caller::Kind::Admin;
  } else {
    auto token = c.deps.identities.token((*registry)->id, s.subject);
    if (!token) return errorResponse(token.takeError());
    if (!*token || !stillHeld((*token)->secrets)) {
      return end("the password of token " + s.subject + " it signed in with is gone or expired");
    }
    auto identity = c.deps.authenticator.subjectIdentity(**registry, s.subject);
    if (!identity) {
      if (identity.error().status >= 500) return errorResponse(identity.takeError());
      return end("token " + s.subject + " is disabled or gone");
    }
    c.caller.kind = Caller::Kind::Token;
    c.caller.token = s.subject;
    c.caller.permissions = std::move(identity->permissions);
  }
  c.registry = std::move(**registry);
  return std::nullopt;
}

Reply createSession(Call& c, const SessionOptions& options) {
  BodyFields f(c.body);
  auto operatorToken = f.string("operatorToken");
  auto registryName = f.string("registry");
  auto username = f.string("username");
  auto password = f.string("password");
  if (auto r = f.finish(); !r) return r.takeError();

  const int64_t now = auth::unixNow();
  meta::SessionRecord record;
  record.created = now;
  record.expires = now + static_cast<int64_t>(options.lifetimeSeconds);
  if (operatorToken) {
    if (registryName || username || password) {
      return error(Code::InvalidArgument,
                   "give either \"operatorToken\" or \"registry\", \"username\" and \"password\"");
    }
    if (operatorToken->empty() || !c.deps.host.isOperatorToken(*operatorToken)) {
      return error(Code::Unauthorized, "invalid operator token");
    }
    record.kind = Kind::Operator;
    record.subject = c.deps.host.operatorFingerprint();
    c.caller.kind = Caller::Kind::Operator;
  } else {
    if (!username) return error(Code::InvalidArgument, "field \"username\" is required");
    if (!password) return error(Code::InvalidArgument, "field \"password\" is required");
    // With a registry: its admin account or a token (or a principal, by the registry's name);
    // without: a person or service principal of the deployment.
    std::optional<meta::RegistrySettings> registry;
    auth::AuthResult result;
    if (registryName) {
      auto found = c.deps.identities.registryByName(*registryName);
      if (!found) return found.takeError();
      // An unknown registry answers as wrong credentials do: names are not probed here.
      if (!*found) return error(Code::Unauthorized, "invalid username or password");
      registry = std::move(**found);
      result = c.deps.authenticator.login(*registry, *username, *password, c.remote);
    } else {
      result = c.deps.authenticator.loginPrincipal(*username, *password, c.remote);
    }
    if (result.failure == auth::AuthFailure::Throttled) return throttledResponse(result);
    if (!result.ok()) return error(Code::Unauthorized, result.detail);
    if (result.secretName.empty()) {
      // A refresh token: it has a life of its own, which a session would outlast.
      return error(Code::Unauthorized,
                   "sign in with a password of the admin account or of a token");
    }
    record.secretName = result.secretName;
    record.secretCreated = result.secretCreated;
    if (result.identity.kind == auth::Identity::Kind::Principal) {
      // Even signed in through a registry's name, a principal's session is the deployment's.
      record.kind = Kind::Principal;
      record.subject = result.identity.subject.substr(auth::kPrincipalPrefix.size());
      if (auto r = signInPrincipal(c, record.subject); !r) return r.takeError();
    } else {
      record.registry = registry->id;
      if (result.identity.kind == auth::Identity::Kind::Token) {
        record.kind = Kind::Token;
        record.subject = result.identity.subject;
        c.caller.kind = Caller::Kind::Token;
        c.caller.token = result.identity.subject;
        c.caller.permissions = std::move(result.identity.permissions);
      } else {
        record.kind = Kind::Admin;
        c.caller.kind = Caller::Kind::Admin;
      }
      c.registry = std::move(registry);
    }
  }
  // Signing in again ends the session the browser had.
  if (!c.sessionSecret.empty()) (void)c.deps.identities.deleteSession(idOf(c.sessionSecret));
  const std::string secret = auth::generateSecret();
  record.id = idOf(secret);
  if (auto r = c.deps.identities.createSession(record, options.max, options.perIdentity); !r) {
    return r.takeError();
  }
  auto body = sessionJson(c, record.expires);
  if (!body) return body.takeError();
  auto resp = jsonReply(201, *body);
  resp.headers.add("Set-Cookie", cookie(secret, record.expires - now, c.secure));
  resp.headers.add("Cache-Control", "no-store");
  return resp;
}

std::pair<std::string, std::string> signInAudit(const Call& c, int status) {
  auto member = [&](std::string_view key) -> std::string {
    const auto* v = c.body.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const std::string registry = member("registry");
  if (status < 400) return {c.actor().identity, registry};
  // Refused: the name it tried (never the password), or the operator for a token.
  if (c.body.contains("operatorToken")) return {"operator", registry};
  return {member("username").substr(0, 256), registry};
}

Reply showSession(Call& c) {
  auto body = sessionJson(c, c.sessionExpires);
  if (!body) return body.takeError();
  auto resp = jsonReply(200, *body);
  resp.headers.add("Cache-Control", "no-store");
  return resp;
}

Reply deleteSession(Call& c) {
  if (!c.sessionSecret.empty()) {
    if (auto r = c.deps.identities.deleteSession(idOf(c.sessionSecret)); !r) return r.takeError();
  }
  auto resp = http::Response::empty(204);
  resp.headers.add("Set-Cookie", cookie("", 0, c.secure));
  return resp;
}

}  // namespace berth::control
