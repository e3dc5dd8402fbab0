// The control plane's front: routes from the table in routes.cpp (router.cpp), authenticates the
// operator or a registry's own credentials, validates path parameters, authorizes, reads JSON
// bodies of at most 64 KiB, and turns every error into {"error":{"code","message"}}.
#include "control/app.hpp"

#include <algorithm>
#include <charconv>

#include "auth/base64url.hpp"
#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "control/router.hpp"
#include "control/routes.hpp"
#include "control/sessions.hpp"
#include "core/digest.hpp"
#include "core/log.hpp"
#include "core/reference.hpp"
#include "core/version.hpp"

namespace berth::control {
namespace {

constexpr size_t kMaxBody = 64 * 1024;

// ---- replies ----

http::Response respond(const Call& c, Reply reply) {
  if (reply) return std::move(*reply);
  const auto& e = reply.error();
  if (codeOf(e) == Code::Internal) {
    log::error("control request failed", {{"request_id", c.requestId},
                                          {"method", c.route->method},
                                          {"route", c.route->path},
                                          {"detail", e.detail}});
  }
  return errorResponse(e);
}

http::Dispatch fail(Error e) { return http::Dispatch::reply(errorResponse(e)); }

// ---- authentication and authorization ----

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Error unauthorized(std::string message) { return error(Code::Unauthorized, std::move(message)); }

Result<std::optional<meta::RegistrySettings>> findRegistry(Call& c, std::string_view name) {
  return c.deps.identities.registryByName(name);
}

Error operatorOnly() {
  return error(Code::Denied, "only the operator may list, create, change or delete registries");
}

// Routes above registries are the operator's. Basic credentials there are tried on the
// registries that know the user (as their admin or a token), so that right ones are refused
// with 403 and wrong ones with 401.
http::Response refuseAboveRegistries(Call& c, std::string_view user, std::string_view password,
                                     std::string_view remote) {
  auto registries = c.deps.identities.listRegistries();
  if (!registries) return respond(c, registries.takeError());
  for (const auto& r : *registries) {
    bool knows = r.name == user;
    if (!knows) {
      auto token = c.deps.identities.token(r.id, user);
      if (!token) return respond(c, token.takeError());
      knows = token->has_value();
    }
    if (!knows) continue;
    auto result = c.deps.authenticator.login(r, user, password, remote);
    if (result.failure == auth::AuthFailure::Throttled) return throttledResponse(result);
    if (result.ok()) return errorResponse(operatorOnly());
  }
  return errorResponse(unauthorized("invalid username or password"));
}

// Sets the caller, and for routes under a registry the registry, or returns the refusal.
std::optional<http::Response> authenticate(Call& c, const http::Request& req) {
  const auto header = req.header("Authorization");
  if (!header || header->empty()) {
    if (auto secret = sessionCookie(req)) return authenticateSession(c, req, *secret);
    return errorResponse(unauthorized("authentication required"));
  }
  const auto space = header->find(' ');
  const auto scheme = header->substr(0, space);
  auto value = space == std::string_view::npos ? std::string_view() : header->substr(space + 1);
  while (value.starts_with(' ')) value.remove_prefix(1);
  const bool underRegistry = !c.registryName.empty();

  if (equalsIgnoreCase(scheme, "bearer")) {
    if (value.empty() || !c.deps.host.isOperatorToken(value)) {
      return errorResponse(unauthorized("invalid operator token"));
    }
    c.caller.kind = Caller::Kind::Operator;
    if (underRegistry) {
      auto found = findRegistry(c, c.registryName);
      if (!found) return respond(c, found.takeError());
      if (!*found) {
        return errorResponse(error(Code::NotFound, "registry " + c.registryName + " not found"));
      }
      c.registry = std::move(**found);
    }
    return std::nullopt;
  }
  if (!equalsIgnoreCase(scheme, "basic")) {
    return errorResponse(unauthorized("unsupported authorization scheme"));
  }
  const auto decoded = auth::base64Decode(value);
  const auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) return errorResponse(unauthorized("malformed basic credentials"));
  const std::string_view user = std::string_view(*decoded).substr(0, colon);
  const std::string_view password = std::string_view(*decoded).substr(colon + 1);
  if (!underRegistry) {
    // A person or service principal of the deployment, else a registry's own credentials.
    auto principal = c.deps.identities.principal(user);
    if (!principal) return respond(c, principal.takeError());
    if (!*principal) return refuseAboveRegistries(c, user, password, req.remote);
    auto result = c.deps.authenticator.loginPrincipal(user, password, req.remote);
    if (result.failure == auth::AuthFailure::Throttled) return throttledResponse(result);
    if (!result.ok()) return errorResponse(unauthorized(result.detail));
    if (auto r = signInPrincipal(c, (*principal)->id); !r) return respond(c, r.takeError());
    return std::nullopt;
  }
  if (user == auth::kRefreshTokenUser) {
    // A refresh token is for /v2 and /oauth2/token: it never manages a registry (nor renews
    // itself through .../login).
    return errorResponse(unauthorized(
        "a refresh token is not a credential of the control API; sign in with a password"));
  }
  // Credentials belong to the registry in the path: another registry's are unknown here.
  auto found = findRegistry(c, c.registryName);
  if (!found) return respond(c, found.takeError());
  if (!*found) return errorResponse(unauthorized("invalid username or password"));
  auto result = c.deps.authenticator.login(**found, user, password, req.remote);
  if (result.failure == auth::AuthFailure::Throttled) return throttledResponse(result);
  if (!result.ok()) return errorResponse(unauthorized(result.detail));
  switch (result.identity.kind) {
    case auth::Identity::Kind::Admin:
      c.caller.kind = Caller::Kind::Admin;
      break;
    case auth::Identity::Kind::Token:
      c.caller.kind = Caller::Kind::Token;
      c.caller.permissions = std::move(result.identity.permissions);
      c.caller.token = result.identity.subject;
      break;
    case auth::Identity::Kind::Principal: {
      c.registry = std::move(**found);
      auto id = result.identity.subject.substr(auth::kPrincipalPrefix.size());
      if (auto r = signInPrincipal(c, std::move(id)); !r) return respond(c, r.takeError());
      return std::nullopt;
    }
    default:
      return errorResponse(unauthorized("invalid username or password"));
  }
  c.registry = std::move(**found);
  return std::nullopt;
}

// 400 for a repository name, tag or digest outside the grammar, before any store sees it.
Result<void> validateParams(const Call& c) {
  if (!c.repository.empty() && !isValidRepositoryName(c.repository)) {
    return error(Code::InvalidArgument, "invalid repository name \"" + c.repository + "\"");
  }
  if (!c.tag.empty() && !isValidTag(c.tag)) {
    return error(Code::InvalidArgument, "invalid tag \"" + c.tag + "\"");
  }
  if (!c.digest.empty() && !Digest::parse(c.digest)) {
    return error(Code::InvalidArgument, "invalid digest \"" + c.digest + "\"");
  }
  return {};
}

Error denied(std::string message) { return error(Code::Denied, std::move(message)); }

// People, service principals and role assignments are the deployment's.
bool deploymentRoute(Operation op) {
  using enum Operation;
  switch (op) {
    case ListUsers:
    case CreateUser:
    case ShowUser:
    case DeleteUser:
    case SetUserPassword:
    case ListServicePrincipals:
    case CreateServicePrincipal:
    case ShowServicePrincipal:
    case DeleteServicePrincipal:
    case ResetServicePrincipalCredential:
    case DeleteServicePrincipalCredential:
    case ListFederatedCredentials:
    case CreateFederatedCredential:
    case DeleteFederatedCredential:
    case ListRoleAssignments:
    case CreateRoleAssignment:
    case DeleteRoleAssignment:
      return true;
    default:
      return false;
  }
}

// What a request under a registry needs of a principal there: a control right, or (for the
// repository routes) data actions on the repository, as a token's scope map grants them.
struct Need {
  auth::ControlRight right = auth::ControlRight::None;
  uint8_t actions = 0;
};

// The data actions a repository route needs; 0 for every other route.
uint8_t repositoryActions(Operation op) {
  using enum Operation;
  switch (op) {
    case ShowRepository:
    case ListTags:
    case ShowTag:
    case ListManifests:
    case ShowManifest:
    case TagHistory:
    case ListDeletedManifests:
      return auth::kMetadataRead;
    case UpdateRepository:
    case UpdateTag:
    case UpdateManifest:
    case RollbackTag:
    case RestoreManifest:
      return auth::kMetadataWrite;
    case DeleteRepository:
    case DeleteTag:
    case DeleteManifest:
    case PurgeRepository:
      return auth::kContentDelete;
    default:
      return 0;
  }
}

Need registryNeed(Operation op) {
  using enum Operation;
  using auth::ControlRight;
  if (const auto actions = repositoryActions(op)) return {ControlRight::None, actions};
  switch (op) {
    case ShowRegistry:
    case Login:
    case ListRepositories:
      return {};
    case ShowUsage:
    case ShowGc:
    case ShowPolicies:
    case ListPurgeSchedules:
    case ListDeletedRepositories:
    case ListScopeMaps:
    case ShowScopeMap:
    case ListTokens:
    case ShowToken:
    case ListWebhooks:
    case ShowWebhook:
    case ListWebhookEvents:
    case ListRegistryAudit:
    case ListCredentialSets:
    case ShowCredentialSet:
    case ListCacheRules:
    case ShowCacheRule:
    case ListImports:
    case ShowImport:
    case ListReplications:
    case ShowReplication:
      return {ControlRight::SeeRegistry};
    default:
      // Every other route under a registry changes it, or shows its secrets (credentials, a
      // webhook's headers).
      return {ControlRight::Change};
  }
}

std::string_view rightName(auth::ControlRight right) {
  switch (right) {
    case auth::ControlRight::SeeRegistry:
      return "Reader, Contributor or Owner";
    case auth::ControlRight::Change:
      return "Contributor or Owner";
    case auth::ControlRight::Assign:
      return "Owner";
    default:
      return "a role";
  }
}

Result<void> authorizePrincipal(const Call& c) {
  using enum Operation;
  using auth::ControlRight;
  const auto& roles = c.caller.roles;
  const uint8_t atDeployment = auth::controlRightsAt(roles, std::nullopt);
  auto requireAtDeployment = [&](ControlRight right) -> Result<void> {
    if (auth::hasRight(atDeployment, right)) return {};
    return denied("this needs " + std::string(rightName(right)) + " at the deployment (\"/\")");
  };
  const auto op = c.route->operation;
  switch (op) {
    case ShowVersion:
    case ListRegistries:       // lists the registries its roles reach
    case ListRoleAssignments:  // its own, and those at scopes where it is Owner
    case CreateRoleAssignment:
    case DeleteRoleAssignment:  // the handlers check the assignment's scope
      return {};
    case CreateRegistry:
    case CheckName:
      return requireAtDeployment(ControlRight::Change);
    case ListAudit:
      return requireAtDeployment(ControlRight::SeeRegistry);
    case ListUsers:
    case ShowUser:
    case ListServicePrincipals:
    case ShowServicePrincipal:
      // An Owner anywhere looks up whom to assign a role to.
      if (auth::hasRight(atDeployment, ControlRight::SeeRegistry)) return {};
      for (const auto& a : roles) {
        if (mayAssign(c, a.registry)) return {};
      }
      return requireAtDeployment(ControlRight::SeeRegistry);
    default:
      if (deploymentRoute(op)) return requireAtDeployment(ControlRight::Assign);
      break;
  }
  // Every other route is under a registry; one that is not is refused, never guessed at.
  if (!c.registry) return denied("only the operator may use this route");
  const auto& registry = c.settings();
  if (!auth::reaches(roles, registry.id)) {
    return denied("you have no role in registry " + registry.name);
  }
  const auto need = registryNeed(op);
  if (need.right != ControlRight::None &&
      !auth::hasRight(auth::controlRightsAt(roles, registry.id), need.right)) {
    return denied("this needs " + std::string(rightName(need.right)) + " at registry " +
                  registry.name);
  }
  if (op == ListRepositories && !c.caller.permissions.any(auth::kMetadataRead)) {
    return denied("your roles grant metadata/read on no repository of " + registry.name);
  }
  if (need.actions != 0 && (c.caller.permissions.actionsOn(c.repository) & need.actions) == 0) {
    return denied("your roles do not grant " + auth::scopeActionNames(need.actions).front() +
                  " on repository " + c.repository);
  }
  return {};
}

Result<void> authorize(const Call& c) {
  using enum Operation;
  const auto op = c.route->operation;
  if (c.caller.kind == Caller::Kind::Operator) return {};
  if (op == ShowSession || op == DeleteSession) return {};
  if (c.caller.kind == Caller::Kind::Principal) return authorizePrincipal(c);
  if (deploymentRoute(op)) {
    return denied("only the operator manages people, service principals and role assignments");
  }
  if (op == ShowVersion || op == ListRegistries || op == CreateRegistry || op == CheckName ||
      op == UpdateRegistry || op == DeleteRegistry || op == ListAudit) {
    return operatorOnly();
  }
  if (c.caller.kind == Caller::Kind::Admin) return {};

  if (op == ListRepositories) {
    if (!c.caller.permissions.any(auth::kMetadataRead)) {
      return denied("the token's scope map grants metadata/read on no repository");
    }
    return {};
  }
  const uint8_t needed = repositoryActions(op);
  if (needed == 0) return denied("a token may use the repository routes only");
  if ((c.caller.permissions.actionsOn(c.repository) & needed) == 0) {
    return denied("the token's scope map does not grant " + auth::scopeActionNames(needed).front() +
                  " on repository " + c.repository);
  }
  return {};
}

// ---- handlers ----

Reply handle(Call& c) {
  using enum Operation;
  switch (c.route->operation) {
    case OpenApi:
      break;  // answered before authentication
    case ListRegistries:
      return listRegistries(c);
    case CreateRegistry:
      return createRegistry(c);
    case CheckName:
      return checkName(c);
    case ShowRegistry:
      return showRegistry(c);
    case UpdateRegistry:
      return updateRegistry(c);
    case DeleteRegistry:
      return deleteRegistry(c);
    case ShowUsage:
      return showUsage(c);
    case ShowVersion:
      return jsonReply(200, boost::json::object{{"version", version()}, {"commit", commit()}});
    case ShowGc:
      return showGc(c);
    case PurgeRepository:
      return purgeRepository(c);
    case ListPurgeSchedules:
      return listPurgeSchedules(c);
    case CreatePurgeSchedule:
      return createPurgeSchedule(c);
    case DeletePurgeSchedule:
      return deletePurgeSchedule(c);
    case ShowPolicies:
      return showPolicies(c);
    case UpdatePolicies:
      return updatePolicies(c);
    case TagHistory:
      return tagHistory(c);
    case RollbackTag:
      return rollbackTag(c);
    case ListDeletedRepositories:
      return listDeletedRepositories(c);
    case ListDeletedManifests:
      return listDeletedManifests(c);
    case RestoreManifest:
      return restoreManifest(c);
    case ShowCredentials:
      return showCredentials(c);
    case RenewCredential:
      return renewCredential(c);
    case Login:
      return login(c);
    case ListRepositories:
      return listRepositories(c);
    case ShowRepository:
      return showRepository(c);
    case UpdateRepository:
      return updateRepository(c);
    case DeleteRepository:
      return deleteRepository(c);
    case ListTags:
      return listTags(c);
    case ShowTag:
      return showTag(c);
    case UpdateTag:
      return updateTag(c);
    case DeleteTag:
      return deleteTag(c);
    case ListManifests:
      return listManifests(c);
    case ShowManifest:
      return showManifest(c);
    case UpdateManifest:
      return updateManifest(c);
    case DeleteManifest:
      return deleteManifest(c);
    case ListScopeMaps:
      return listScopeMaps(c);
    case CreateScopeMap:
      return createScopeMap(c);
    case ShowScopeMap:
      return showScopeMap(c);
    case UpdateScopeMap:
      return updateScopeMap(c);
    case DeleteScopeMap:
      return deleteScopeMap(c);
    case ListTokens:
      return listTokens(c);
    case CreateToken:
      return createToken(c);
    case ShowToken:
      return showToken(c);
    case UpdateToken:
      return updateToken(c);
    case DeleteToken:
      return deleteToken(c);
    case GenerateTokenCredential:
      return generateTokenCredential(c);
    case DeleteTokenCredential:
      return deleteTokenCredential(c);
    case ListCredentialSets:
      return listCredentialSets(c);
    case CreateCredentialSet:
      return createCredentialSet(c);
    case ShowCredentialSet:
      return showCredentialSet(c);
    case UpdateCredentialSet:
      return updateCredentialSet(c);
    case DeleteCredentialSet:
      return deleteCredentialSet(c);
    case ListCacheRules:
      return listCacheRules(c);
    case CreateCacheRule:
      return createCacheRule(c);
    case ShowCacheRule:
      return showCacheRule(c);
    case UpdateCacheRule:
      return updateCacheRule(c);
    case DeleteCacheRule:
      return deleteCacheRule(c);
    case ListImports:
      return listImports(c);
    case CreateImport:
      return createImport(c);
    case ShowImport:
      return showImport(c);
    case ListReplications:
      return listReplications(c);
    case CreateReplication:
      return createReplication(c);
    case ShowReplication:
      return showReplication(c);
    case UpdateReplication:
      return updateReplication(c);
    case DeleteReplication:
      return deleteReplication(c);
    case SyncReplication:
      return syncReplication(c);
    case ListWebhooks:
      return listWebhooks(c);
    case CreateWebhook:
      return createWebhook(c);
    case ShowWebhook:
      return showWebhook(c);
    case UpdateWebhook:
      return updateWebhook(c);
    case DeleteWebhook:
      return deleteWebhook(c);
    case PingWebhook:
      return pingWebhook(c);
    case ListWebhookEvents:
      return listWebhookEvents(c);
    case ShowWebhookConfig:
      return showWebhookConfig(c);
    case ListAudit:
    case ListRegistryAudit:
      return listAudit(c);
    case CreateSession:
      return createSession(c, c.deps.sessions);
    case ShowSession:
      return showSession(c);
    case DeleteSession:
      return deleteSession(c);
    case ListUsers:
      return listUsers(c);
    case CreateUser:
      return createUser(c);
    case ShowUser:
      return showUser(c);
    case DeleteUser:
      return deleteUser(c);
    case SetUserPassword:
      return setUserPassword(c);
    case ListServicePrincipals:
      return listServicePrincipals(c);
    case CreateServicePrincipal:
      return createServicePrincipal(c);
    case ShowServicePrincipal:
      return showServicePrincipal(c);
    case DeleteServicePrincipal:
      return deleteServicePrincipal(c);
    case ResetServicePrincipalCredential:
      return resetServicePrincipalCredential(c);
    case DeleteServicePrincipalCredential:
      return deleteServicePrincipalCredential(c);
    case ListFederatedCredentials:
      return listFederatedCredentials(c);
    case CreateFederatedCredential:
      return createFederatedCredential(c);
    case DeleteFederatedCredential:
      return deleteFederatedCredential(c);
    case ListRoleAssignments:
      return listRoleAssignments(c);
    case CreateRoleAssignment:
      return createRoleAssignment(c);
    case DeleteRoleAssignment:
      return deleteRoleAssignment(c);
  }
  return error(Code::Internal, "operation without a handler");
}

http::Response run(Call& c) {
  try {
    return respond(c, handle(c));
  } catch (const std::exception& e) {
    return respond(c, error(Code::Internal, e.what()));
  }
}

// Gathers a JSON body of at most kMaxBody bytes, then runs the call with it. (BufferedSink
// answers in the data plane's error shape; the control plane has its own.)
class JsonBodySink final : public http::BodySink {
 public:
  // `req` outlives the sink: a created item's name, known from the body, becomes the audit's
  // target.
  JsonBodySink(Call call, http::Request& req)
      : call_(std::move(call)), req_(req), portal_(hasCsrfHeader(req)) {}

  bool write(const char* data, size_t size) override {
    if (body_.size() + size > kMaxBody) {
      overflow_ = true;
      return false;
    }
    body_.append(data, size);
    return true;
  }

  http::Response finish(bool complete) override {
    if (overflow_) return errorResponse(tooLarge());
    if (!complete) return errorResponse(error(Code::InvalidArgument, "incomplete request body"));
    auto parsed = parseBody(body_);
    if (!parsed) return respond(call_, parsed.takeError());
    call_.body = std::move(*parsed);
    if (const auto* name = call_.body.if_contains("name"); name && name->is_string()) {
      if (call_.name.empty()) req_.auditTarget = std::string(name->get_string());
    }
    auto resp = run(call_);
    if (portal_) resp.headers.erase("WWW-Authenticate");
    if (call_.route->operation == Operation::CreateSession) {
      const auto [identity, target] = signInAudit(call_, resp.status);
      req_.identity = identity;
      req_.auditTarget = target;
    }
    return resp;
  }

  static Error tooLarge() {
    return error(Code::TooLarge, "the request body exceeds " + std::to_string(kMaxBody) + " bytes");
  }

 private:
  Call call_;
  http::Request& req_;
  bool portal_;  // a page of the portal asks: no Basic challenge (see ControlApp::dispatch)
  std::string body_;
  bool overflow_ = false;
};

// What a control request acts on, for the audit log: the most specific name in its path.
std::string auditTarget(const Call& c) {
  if (!c.repository.empty()) {
    if (!c.tag.empty()) return c.repository + ":" + c.tag;
    if (!c.digest.empty()) return c.repository + "@" + c.digest;
    return c.repository;
  }
  if (!c.name.empty()) return c.name;
  return c.registryName;
}

bool takesBody(const Route& route) {
  return (route.method == "POST" || route.method == "PATCH") && route.operation != Operation::Login;
}

bool declaredTooLarge(const http::Request& req) {
  const auto length = req.header("Content-Length");
  if (!length) return false;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(length->data(), length->data() + length->size(), value);
  return ec == std::errc() && ptr == length->data() + length->size() && value > kMaxBody;
}

http::Dispatch route(ControlDeps& deps, http::Request& req) {
  const auto method = http::methodName(req.method);
  auto match = matchRequest(method, req.path);
  const Route* chosen = match.route;
  req.plane = "control";
  if (chosen != nullptr) req.route = chosen->path;
  if (chosen == nullptr) {
    if (match.allowed.empty()) {
      return fail(error(Code::NotFound,
                        "no such route: " + std::string(method) + " " + std::string(req.path)));
    }
    std::string allow;
    for (auto m : match.allowed) {
      if (!allow.empty()) allow += ", ";
      allow += m;
    }
    auto resp =
        errorResponse(error(Code::MethodNotAllowed, std::string(method) + " is not allowed on " +
                                                        req.path + " (allowed: " + allow + ")"));
    resp.headers.add("Allow", std::move(allow));
    return http::Dispatch::reply(std::move(resp));
  }
  auto& params = match.params;
  if (chosen->operation == Operation::OpenApi) {
    return http::Dispatch::reply(http::Response::json(200, std::string(openApiDocument())));
  }

  Call call{deps,
            chosen,
            std::move(params.registry),
            std::move(params.repository),
            std::move(params.tag),
            std::move(params.digest),
            std::move(params.name),
            std::move(params.password),
            std::nullopt,
            {},
            req.query,
            req.requestId,
            {},
            req.remote};
  req.registry = call.registryName;
  call.credential = std::move(params.credential);
  call.host = std::string(req.host());
  call.userAgent = std::string(req.header("User-Agent").value_or(""));
  // Behind a proxy that ends TLS, X-Forwarded-Proto says so (a client that lies only makes its
  // own cookie Secure).
  call.secure = req.secure || req.header("X-Forwarded-Proto") == "https";
  if (chosen->operation == Operation::CreateSession) {
    if (auto previous = sessionCookie(req)) call.sessionSecret = std::move(*previous);
    // Signs in with the credentials in the body: nothing to authenticate before it.
    req.auditAction = chosen->audit;
    if (!hasCsrfHeader(req)) return fail(csrfRefused());
    if (declaredTooLarge(req)) return fail(JsonBodySink::tooLarge());
    return http::Dispatch::body(std::make_unique<JsonBodySink>(std::move(call), req));
  }
  if (auto refusal = authenticate(call, req)) {
    if (refusal->status == 401 || refusal->status == 429) {
      req.auditAction = "login";
      req.identity = auth::basicUser(req.header("Authorization"));
      if (req.identity.empty() && req.header("Authorization")) req.identity = "operator";
    }
    return http::Dispatch::reply(std::move(*refusal));
  }
  req.identity = call.actor().identity;
  req.auditAction = chosen->audit;
  req.auditTarget = auditTarget(call);
  if (auto valid = validateParams(call); !valid) return fail(valid.takeError());
  if (auto allowedCall = authorize(call); !allowedCall) return fail(allowedCall.takeError());
  if (chosen->operation == Operation::ShowManifest ||
      chosen->operation == Operation::ListRepositories ||
      chosen->operation == Operation::ListTags || chosen->operation == Operation::ListManifests) {
    // Reads the image's config blob, which may wait for an object store; lists read every tag
    // or manifest of a repository, a search every repository of a registry.
    return http::Dispatch::offload(
        [call = std::move(call)]() mutable { return http::Dispatch::reply(run(call)); });
  }
  if (!takesBody(*chosen)) return http::Dispatch::reply(run(call));
  if (declaredTooLarge(req)) return fail(JsonBodySink::tooLarge());
  return http::Dispatch::body(std::make_unique<JsonBodySink>(std::move(call), req));
}

}  // namespace

std::optional<std::string_view> Call::param(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

meta::Actor Call::actor() const {
  meta::Actor actor;
  actor.source = http::clientAddress(remote);
  actor.requestId = requestId;
  actor.host = host;
  actor.method = std::string(route->method);
  actor.userAgent = userAgent;
  switch (caller.kind) {
    case Caller::Kind::Operator:
      actor.identity = "operator";
      break;
    case Caller::Kind::Admin:
      actor.identity = "admin";
      break;
    case Caller::Kind::Token:
      actor.identity = "token:" + caller.token;
      break;
    case Caller::Kind::Principal:
      actor.identity = "principal:" + caller.principal;
      break;
  }
  return actor;
}

http::Response throttledResponse(const auth::AuthResult& result) {
  auto resp = errorResponse(error(Code::TooManyRequests, result.detail));
  resp.headers.add("Retry-After", std::to_string(result.retryAfter));
  return resp;
}

Result<void> signInPrincipal(Call& c, std::string id) {
  auto roles = c.deps.identities.roleAssignments(std::string_view(id));
  if (!roles) return roles.takeError();
  c.caller.kind = Caller::Kind::Principal;
  c.caller.principal = std::move(id);
  c.caller.roles = std::move(*roles);
  if (c.registry) c.caller.permissions = auth::permissionsIn(c.caller.roles, c.registry->id);
  return {};
}

bool changesRegistry(const Call& c) {
  if (c.caller.kind != Caller::Kind::Principal) return true;
  return c.registry && auth::hasRight(auth::controlRightsAt(c.caller.roles, c.registry->id),
                                      auth::ControlRight::Change);
}

bool mayAssign(const Call& c, std::optional<meta::RegistryId> registry) {
  if (c.caller.kind == Caller::Kind::Operator) return true;
  if (c.caller.kind != Caller::Kind::Principal) return false;
  return auth::hasRight(auth::controlRightsAt(c.caller.roles, registry),
                        auth::ControlRight::Assign);
}

ControlApp::ControlApp(ControlDeps deps) : deps_(deps) {}
ControlApp::~ControlApp() = default;

http::Dispatch ControlApp::dispatch(http::Request& request) {
  try {
    auto dispatch = route(deps_, request);
    // A page of the portal (it sends X-Berth-Request) handles a 401 itself: a Basic challenge
    // would make the browser ask for a user name and password in a dialog of its own instead.
    if (dispatch.response && hasCsrfHeader(request)) {
      dispatch.response->headers.erase("WWW-Authenticate");
    }
    return dispatch;
  } catch (const std::exception& e) {
    log::error("control request failed",
               {{"request_id", request.requestId}, {"path", request.path}, {"detail", e.what()}});
    return fail(error(Code::Internal, "internal error"));
  }
}

}  // namespace berth::control
