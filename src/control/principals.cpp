// People, service principals and role assignments of the deployment (docs/control-api.md,
// "Principals and roles"): /api/v1/users, /api/v1/service-principals, /api/v1/role-assignments.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "auth/authenticator.hpp"
#include "auth/password.hpp"
#include "auth/roles.hpp"
#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/log.hpp"
#include "core/random.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

using Kind = meta::PrincipalRecord::Kind;

constexpr size_t kMinPasswordLength = 12;

// A user's name: 1 to 64 lowercase letters, digits, '.', '_' and '-', beginning with a letter
// or digit (the user name of docker login).
bool isValidUserName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

json::object userJson(const meta::PrincipalRecord& p) {
  return {
      {"name", p.id},
      {"passwordSet", p.passwordHash.has_value()},
      {"passwordChangedTime", p.passwordHash ? json::value(rfc3339(p.passwordChanged)) : nullptr},
      {"createdTime", rfc3339(p.created)}};
}

json::object servicePrincipalJson(const meta::PrincipalRecord& p) {
  json::array credentials;
  for (const auto& s : p.secrets) {
    credentials.push_back(json::object{
        {"keyId", s.name}, {"startTime", rfc3339(s.created)}, {"endTime", timeOrNull(s.expiry)}});
  }
  return {{"appId", p.id},
          {"displayName", p.displayName},
          {"createdTime", rfc3339(p.created)},
          {"credentials", std::move(credentials)}};
}

Result<meta::PrincipalRecord> storedPrincipal(Call& c, std::string_view id, Kind kind) {
  auto p = c.deps.identities.principal(id);
  if (!p) return p.takeError();
  if (!*p || (*p)->kind != kind) {
    return error(Code::NotFound, std::string(kind == Kind::User ? "user " : "service principal ") +
                                     std::string(id) + " not found");
  }
  return std::move(**p);
}

Result<void> checkPassword(const std::string& password) {
  if (password.size() < kMinPasswordLength) {
    return error(Code::InvalidArgument,
                 "a password has at least " + std::to_string(kMinPasswordLength) + " characters");
  }
  return {};
}

// A client secret shown once, that ends after `years` (1 to 10, default 1) or at `endDate`
// (RFC 3339, at most 10 years ahead; a time past makes a secret that never works, as a token
// password's expiry does).
Result<std::pair<meta::StoredSecret, std::string>> newClientSecret(
    std::optional<uint64_t> years, const std::optional<std::string>& endDate) {
  const int64_t now = auth::unixNow();
  constexpr int64_t kYear = 365 * 86400;
  int64_t end = 0;
  if (endDate) {
    if (years) return error(Code::InvalidArgument, "give \"years\" or \"endDate\", not both");
    const auto parsed = parseRfc3339(*endDate);
    if (!parsed) return error(Code::InvalidArgument, "endDate is not an RFC 3339 time");
    if (*parsed > now + 10 * kYear) {
      return error(Code::InvalidArgument, "endDate is more than 10 years ahead");
    }
    end = *parsed;
  } else {
    const uint64_t y = years.value_or(1);
    if (y < 1 || y > 10) return error(Code::InvalidArgument, "years must be 1 to 10");
    end = now + static_cast<int64_t>(y) * kYear;
  }
  const auto secret = auth::generateSecret();
  meta::StoredSecret stored{newUuid(), auth::hashSecret(secret), end, now};
  return std::pair{std::move(stored), secret};
}

// The name of the registry an assignment is scoped to ("" for the deployment, "?" for one
// gone).
Result<std::string> registryNameOf(const ControlDeps& deps, const meta::RoleAssignmentRecord& a) {
  if (!a.registry) return std::string();
  auto r = deps.identities.registrySettings(*a.registry);
  if (!r) return r.takeError();
  return *r ? (*r)->name : std::string("?");
}

Error ownerNeeded(const std::string& registry) {
  return error(Code::Denied,
               "assigning roles at " +
                   (registry.empty() ? std::string("the deployment") : "registry " + registry) +
                   " needs Owner there or at the deployment");
}

// Creates the assignment of `role` at `scopeText` to `principal`; its JSON.
Result<json::object> assign(Call& c, const std::string& principal, const std::string& role,
                            const std::string& scopeText) {
  if (!auth::parseRole(role)) {
    return error(Code::InvalidArgument, "unknown role " + role +
                                            " (AcrPull, AcrPush, AcrDelete, Reader, Contributor "
                                            "or Owner)");
  }
  const auto scope = auth::parseRoleScope(scopeText);
  if (!scope) {
    return error(Code::InvalidArgument,
                 "scope " + scopeText +
                     " is none of /, /registries/NAME, /registries/NAME/repositories/PATTERN");
  }
  meta::RoleAssignmentRecord a{newUuid(), principal, role, std::nullopt, scope->repository, 0};
  if (!scope->registry.empty()) {
    auto r = c.deps.identities.registryByName(scope->registry);
    if (!r) return r.takeError();
    if (!*r) {
      // Only who may assign anywhere learns that a registry does not exist.
      if (!mayAssign(c, std::nullopt)) return ownerNeeded(scope->registry);
      return error(Code::NotFound, "registry " + scope->registry + " not found");
    }
    a.registry = (*r)->id;
  }
  if (!mayAssign(c, a.registry)) return ownerNeeded(a.registry ? scope->registry : "");
  auto p = c.deps.identities.principal(principal);
  if (!p) return p.takeError();
  if (!*p) return error(Code::NotFound, "principal " + principal + " not found");
  if (auto r = c.deps.identities.createRoleAssignment(a); !r) {
    if (codeOf(r.error()) == Code::Conflict) {
      return error(Code::Conflict, principal + " already holds " + role + " at " + scopeText);
    }
    return r.takeError();
  }
  auto stored = c.deps.identities.roleAssignments(std::string_view(principal));
  if (!stored) return stored.takeError();
  for (const auto& s : *stored) {
    if (s.id == a.id) return roleAssignmentJson(c.deps, s);
  }
  return error(Code::Internal, "the role assignment was not stored");
}

}  // namespace

Result<json::object> roleAssignmentJson(const ControlDeps& deps,
                                        const meta::RoleAssignmentRecord& a) {
  auto registry = registryNameOf(deps, a);
  if (!registry) return registry.takeError();
  const auth::RoleScope scope{*registry, a.registry ? a.repository : std::string()};
  return json::object{{"id", a.id},
                      {"assignee", a.principal},
                      {"role", a.role},
                      {"scope", scope.text()},
                      {"createdTime", rfc3339(a.created)}};
}

// ---- users ----

Reply listUsers(Call& c) {
  auto users = c.deps.identities.listPrincipals(Kind::User);
  if (!users) return users.takeError();
  json::array out;
  for (const auto& u : *users) out.push_back(userJson(u));
  return jsonReply(200, out);
}

Reply createUser(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto password = f.string("password");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!isValidUserName(*name)) {
    return error(Code::InvalidArgument,
                 "a user name has 1 to 64 lowercase letters, digits, '.', '_' and '-', and "
                 "begins with a letter or digit");
  }
  if (*name == auth::kRefreshTokenUser) return error(Code::Conflict, "that name is reserved");
  meta::PrincipalRecord user;
  user.id = *name;
  user.displayName = *name;
  if (password) {
    if (auto r = checkPassword(*password); !r) return r.takeError();
    user.passwordHash = auth::hashSecret(*password);
  }
  if (auto r = c.deps.identities.createPrincipal(user); !r) {
    if (codeOf(r.error()) == Code::Conflict) {
      return error(Code::Conflict, "a user or service principal " + *name + " exists");
    }
    return r.takeError();
  }
  log::info("user created", {{"user", *name}, {"request_id", c.requestId}});
  auto stored = storedPrincipal(c, *name, Kind::User);
  if (!stored) return stored.takeError();
  return jsonReply(201, userJson(*stored));
}

Reply showUser(Call& c) {
  auto user = storedPrincipal(c, c.name, Kind::User);
  if (!user) return user.takeError();
  return jsonReply(200, userJson(*user));
}

Reply setUserPassword(Call& c) {
  BodyFields f(c.body);
  auto password = f.string("password");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!password) return missingField("password");
  if (auto r = checkPassword(*password); !r) return r.takeError();
  if (auto user = storedPrincipal(c, c.name, Kind::User); !user) return user.takeError();
  auto set = c.deps.identities.setPrincipalPassword(c.name, auth::hashSecret(*password));
  if (!set) return set.takeError();
  if (!*set) return error(Code::NotFound, "user " + c.name + " not found");
  return http::Response::empty(204);
}

Reply deletePrincipalOf(Call& c, Kind kind) {
  if (auto p = storedPrincipal(c, c.name, kind); !p) return p.takeError();
  auto deleted = c.deps.identities.deletePrincipal(c.name);
  if (!deleted) return deleted.takeError();
  log::info("principal deleted", {{"principal", c.name}, {"request_id", c.requestId}});
  return http::Response::empty(204);
}

Reply deleteUser(Call& c) { return deletePrincipalOf(c, Kind::User); }

// ---- service principals ----

Reply listServicePrincipals(Call& c) {
  auto sps = c.deps.identities.listPrincipals(Kind::ServicePrincipal);
  if (!sps) return sps.takeError();
  json::array out;
  for (const auto& p : *sps) out.push_back(servicePrincipalJson(p));
  return jsonReply(200, out);
}

// As `az ad sp create-for-rbac`: a new application id, a client secret shown once, and the
// role at each scope when asked.
Reply createServicePrincipal(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto role = f.string("role");
  auto scopes = f.strings("scopes");
  auto years = f.unsignedInteger("years");
  auto endDate = f.string("endDate");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (name->empty() || name->size() > 128) {
    return error(Code::InvalidArgument, "a name has 1 to 128 characters");
  }
  if (scopes && !role) return error(Code::InvalidArgument, "scopes need a role");
  auto secret = newClientSecret(years, endDate);
  if (!secret) return secret.takeError();
  // Every assignment is checked before anything is stored.
  if (role && !auth::parseRole(*role)) return error(Code::InvalidArgument, "unknown role " + *role);
  for (const auto& s : scopes.value_or(std::vector<std::string>{})) {
    if (!auth::parseRoleScope(s)) return error(Code::InvalidArgument, "bad scope " + s);
  }
  meta::PrincipalRecord sp;
  sp.id = newUuid();
  sp.kind = Kind::ServicePrincipal;
  sp.displayName = *name;
  sp.secrets.push_back(secret->first);
  if (auto r = c.deps.identities.createPrincipal(sp); !r) return r.takeError();
  json::array assignments;
  if (role) {
    for (const auto& s : scopes.value_or(std::vector<std::string>{"/"})) {
      auto a = assign(c, sp.id, *role, s);
      if (!a) {
        (void)c.deps.identities.deletePrincipal(sp.id);  // all or nothing
        return a.takeError();
      }
      assignments.push_back(std::move(*a));
    }
  }
  log::info("service principal created", {{"app_id", sp.id}, {"request_id", c.requestId}});
  return jsonReply(201, json::object{{"appId", sp.id},
                                     {"displayName", *name},
                                     {"password", secret->second},
                                     {"keyId", secret->first.name},
                                     {"endTime", timeOrNull(secret->first.expiry)},
                                     {"roleAssignments", std::move(assignments)}});
}

Reply showServicePrincipal(Call& c) {
  auto sp = storedPrincipal(c, c.name, Kind::ServicePrincipal);
  if (!sp) return sp.takeError();
  return jsonReply(200, servicePrincipalJson(*sp));
}

Reply deleteServicePrincipal(Call& c) { return deletePrincipalOf(c, Kind::ServicePrincipal); }

// `az ad sp credential reset`: a new client secret, shown once; the others go unless
// "append" is true.
Reply resetServicePrincipalCredential(Call& c) {
  BodyFields f(c.body);
  auto append = f.boolean("append");
  auto years = f.unsignedInteger("years");
  auto endDate = f.string("endDate");
  if (auto r = f.finish(); !r) return r.takeError();
  auto sp = storedPrincipal(c, c.name, Kind::ServicePrincipal);
  if (!sp) return sp.takeError();
  auto secret = newClientSecret(years, endDate);
  if (!secret) return secret.takeError();
  if (auto r = c.deps.identities.setPrincipalSecret(c.name, secret->first); !r) {
    return r.takeError();
  }
  if (!append.value_or(false)) {
    for (const auto& old : sp->secrets) {
      if (auto r = c.deps.identities.deletePrincipalSecret(c.name, old.name); !r) {
        return r.takeError();
      }
    }
  }
  return jsonReply(200, json::object{{"appId", c.name},
                                     {"password", secret->second},
                                     {"keyId", secret->first.name},
                                     {"endTime", timeOrNull(secret->first.expiry)}});
}

Reply deleteServicePrincipalCredential(Call& c) {
  if (auto sp = storedPrincipal(c, c.name, Kind::ServicePrincipal); !sp) return sp.takeError();
  auto deleted = c.deps.identities.deletePrincipalSecret(c.name, c.password);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "no client secret " + c.password);
  return http::Response::empty(204);
}

// ---- federated credentials ----

namespace {

constexpr size_t kMaxFederatedCredentials = 20;
constexpr size_t kMaxClaimLength = 600;

json::object federatedCredentialJson(const meta::FederatedCredentialRecord& f) {
  return json::object{{"name", f.name},
                      {"issuer", f.issuer},
                      {"subject", f.subject},
                      {"audiences", json::array{json::value(f.audience)}},
                      {"createdTime", rfc3339(f.created)}};
}

bool printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char ch) {
    const auto b = static_cast<unsigned char>(ch);
    return b > 0x20 && b < 0x7f;
  });
}

}  // namespace

Reply listFederatedCredentials(Call& c) {
  if (auto sp = storedPrincipal(c, c.name, Kind::ServicePrincipal); !sp) return sp.takeError();
  auto stored = c.deps.identities.federatedCredentials(std::string_view(c.name), std::nullopt);
  if (!stored) return stored.takeError();
  json::array out;
  for (const auto& f : *stored) out.push_back(federatedCredentialJson(f));
  return jsonReply(200, out);
}

// `az ad app federated-credential create`: trust ID tokens of `issuer` whose subject matches
// `subject` (exact, or ending in `*`) and whose audiences hold `audience`.
Reply createFederatedCredential(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto issuer = f.string("issuer");
  auto subject = f.string("subject");
  auto audience = f.string("audience");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!issuer) return missingField("issuer");
  if (!subject) return missingField("subject");
  if (!isValidIdentityName(*name)) {
    return error(Code::InvalidArgument,
                 "a federated credential's name " + std::string(kIdentityNameRule));
  }
  const bool web =
      issuer->starts_with("https://") || (c.deps.federatedHttp && issuer->starts_with("http://"));
  if (!web || issuer->size() > kMaxClaimLength || !printable(*issuer) ||
      issuer->find('?') != std::string::npos || issuer->find('#') != std::string::npos) {
    return error(Code::InvalidArgument,
                 "issuer must be an https (with oidc_allow_http, http) URL without query or "
                 "fragment: the tokens' iss");
  }
  if (subject->empty() || subject->size() > kMaxClaimLength ||
      subject->find('*') < subject->size() - 1) {
    return error(Code::InvalidArgument,
                 "subject must be the token's sub, or a prefix of it followed by a final *");
  }
  if (subject->ends_with('*')) {
    // The prefix must end at a separator and name at least two parts (`repo:org/*`,
    // `system:serviceaccount:ci:*`): `*`, `repo:*` or `repo:org*` would trust workloads of
    // others (`repo:orgevil/...`).
    const std::string_view prefix(subject->data(), subject->size() - 1);
    const auto separators =
        std::count_if(prefix.begin(), prefix.end(), [](char ch) { return ch == ':' || ch == '/'; });
    if (prefix.empty() || (prefix.back() != ':' && prefix.back() != '/') || separators < 2) {
      return error(Code::InvalidArgument,
                   "a subject pattern must end in :* or /* after at least two parts of the "
                   "subject (repo:org/app:*, system:serviceaccount:ci:*)");
    }
  }
  const std::string aud = audience.value_or(std::string(auth::kDefaultFederatedAudience));
  if (aud.empty() || aud.size() > kMaxClaimLength) {
    return error(Code::InvalidArgument, "audience must be 1 to 600 characters");
  }
  if (auto sp = storedPrincipal(c, c.name, Kind::ServicePrincipal); !sp) return sp.takeError();
  auto existing = c.deps.identities.federatedCredentials(std::string_view(c.name), std::nullopt);
  if (!existing) return existing.takeError();
  if (existing->size() >= kMaxFederatedCredentials) {
    return error(Code::Denied, "a service principal has at most " +
                                   std::to_string(kMaxFederatedCredentials) +
                                   " federated credentials");
  }
  meta::FederatedCredentialRecord record{c.name, *name, *issuer, *subject, aud, 0};
  if (auto r = c.deps.identities.createFederatedCredential(record); !r) {
    if (codeOf(r.error()) == Code::Conflict) {
      return error(Code::Conflict, "federated credential " + *name + " already exists");
    }
    return r.takeError();
  }
  auto stored = c.deps.identities.federatedCredentials(std::string_view(c.name), std::nullopt);
  if (!stored) return stored.takeError();
  for (const auto& s : *stored) {
    if (s.name == *name) return jsonReply(201, federatedCredentialJson(s));
  }
  return error(Code::Internal, "the federated credential was not stored");
}

Reply deleteFederatedCredential(Call& c) {
  if (auto sp = storedPrincipal(c, c.name, Kind::ServicePrincipal); !sp) return sp.takeError();
  auto deleted = c.deps.identities.deleteFederatedCredential(c.name, c.credential);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "no federated credential " + c.credential);
  return http::Response::empty(204);
}

// ---- role assignments ----

Reply listRoleAssignments(Call& c) {
  const auto assignee = c.param("assignee");
  auto all = c.deps.identities.roleAssignments(assignee ? std::optional<std::string_view>(*assignee)
                                                        : std::nullopt);
  if (!all) return all.takeError();
  const auto scope = c.param("scope");
  json::array out;
  for (const auto& a : *all) {
    // A principal sees its own assignments and those where it may assign.
    const bool own = c.caller.kind == Caller::Kind::Principal && a.principal == c.caller.principal;
    if (!own && !mayAssign(c, a.registry)) continue;
    auto j = roleAssignmentJson(c.deps, a);
    if (!j) return j.takeError();
    if (scope && j->at("scope").as_string() != *scope) continue;
    out.push_back(std::move(*j));
  }
  return jsonReply(200, out);
}

Reply createRoleAssignment(Call& c) {
  BodyFields f(c.body);
  auto assignee = f.string("assignee");
  auto role = f.string("role");
  auto scope = f.string("scope");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!assignee) return missingField("assignee");
  if (!role) return missingField("role");
  if (!scope) return missingField("scope");
  auto a = assign(c, *assignee, *role, *scope);
  if (!a) return a.takeError();
  return jsonReply(201, *a);
}

Reply deleteRoleAssignment(Call& c) {
  auto all = c.deps.identities.roleAssignments(std::nullopt);
  if (!all) return all.takeError();
  const auto found =
      std::find_if(all->begin(), all->end(), [&](const auto& a) { return a.id == c.name; });
  if (found == all->end()) return error(Code::NotFound, "role assignment " + c.name + " not found");
  if (!mayAssign(c, found->registry)) {
    auto registry = registryNameOf(c.deps, *found);
    if (!registry) return registry.takeError();
    return ownerNeeded(*registry);
  }
  auto deleted = c.deps.identities.deleteRoleAssignment(c.name);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "role assignment " + c.name + " not found");
  return http::Response::empty(204);
}

}  // namespace berth::control
