#include "registry/app.hpp"

#include <charconv>
#include <vector>

#include "auth/token_endpoint.hpp"
#include "core/reference.hpp"
#include "registry/handlers.hpp"

namespace berth::registry {

struct RegistryApp::State {
  RegistryDeps deps;
  ScopeAuthorizer authorizer;
  Caches caches;
  Services services;

  // Ends before the caches go (members end in reverse order).
  meta::Watch watch;

  explicit State(RegistryDeps d)
      : deps(d),
        caches(d.manifestCacheEntries),
        services{d.meta, authorizer, caches, d.pullThrough},
        watch(d.meta.watchContent([this](const meta::ContentChange& change) {
          if (change.scope == meta::ContentChange::Scope::Repository) {
            caches.forgetRepository(change.id);
          } else {
            caches.clear();
          }
        })) {}
};

RegistryApp::RegistryApp(RegistryDeps deps) : state_(std::make_unique<State>(deps)) {}
RegistryApp::~RegistryApp() = default;

bool ScopeAuthorizer::allowed(const RequestContext& ctx, std::string_view repository,
                              Action action) {
  const auto& caller = ctx.caller;
  if (caller.anonymous()) {
    return ctx.anonymousPull && (action == Action::Pull || action == Action::ListTags);
  }
  if (action == Action::Catalog) return caller.catalog;
  const uint8_t mask = caller.permissions.actionsOn(repository);
  switch (action) {
    case Action::Pull:
      return mask & auth::kContentRead;
    case Action::ListTags:
      return mask & (auth::kContentRead | auth::kMetadataRead);
    case Action::Push:
      return mask & auth::kContentWrite;
    case Action::Delete:
      return mask & auth::kContentDelete;
    case Action::Catalog:
      break;
  }
  return false;
}

namespace {

using http::Method;

bool isRead(Method m) { return m == Method::Get || m == Method::Head; }

enum class Resource { Blob, UploadStart, Upload, Manifest, Tags, Referrers };

std::string_view dockerActionsFor(Method m) {
  switch (m) {
    case Method::Get:
    case Method::Head:
      return "pull";
    case Method::Delete:
      return "delete";
    default:
      return "pull,push";
  }
}

// 401 with the challenge that sends clients to the token endpoint.
http::Dispatch challenge(const http::Request& req, std::string_view scope, std::string_view detail,
                         bool insufficientScope = false) {
  auto resp = errorResponse(makeError(ApiCode::Unauthorized, std::string(detail)));
  std::string value = "Bearer realm=\"" + req.baseUrl() + "/oauth2/token\",service=\"" +
                      std::string(req.host()) + "\"";
  if (!scope.empty()) value += ",scope=\"" + std::string(scope) + "\"";
  if (insufficientScope) value += ",error=\"insufficient_scope\"";
  resp.headers.add("WWW-Authenticate", std::move(value));
  return http::Dispatch::reply(std::move(resp));
}

// The refusal for a caller that may not do what it asks.
http::Dispatch refuse(const http::Request& req, const RequestContext& ctx, std::string_view scope) {
  if (ctx.caller.anonymous()) return challenge(req, scope, "authentication required");
  if (ctx.caller.kind == auth::Identity::Kind::Bearer) {
    return challenge(req, scope, "token lacks the access this request needs", true);
  }
  return fail(ApiCode::Denied, "requested access to the resource is denied");
}

Action actionFor(Method m, Resource resource) {
  // An upload session belongs to a push: reading its status or cancelling it is pushing.
  if (resource == Resource::Upload || resource == Resource::UploadStart) return Action::Push;
  const bool tags = resource == Resource::Tags;
  switch (m) {
    case Method::Get:
    case Method::Head:
      return tags ? Action::ListTags : Action::Pull;
    case Method::Delete:
      return Action::Delete;
    default:
      return Action::Push;
  }
}

struct Route {
  Resource resource;
  std::string name;
  std::string ref;
};

std::string join(const std::vector<std::string_view>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

// Splits "/v2/<name>/<resource>/<ref>" from the end, since <name> may contain slashes.
std::optional<Route> matchRepositoryRoute(std::string_view rest) {
  std::vector<std::string_view> seg;
  size_t start = 0;
  for (;;) {
    const auto slash = rest.find('/', start);
    seg.push_back(rest.substr(start, slash == rest.npos ? rest.npos : slash - start));
    if (slash == rest.npos) break;
    start = slash + 1;
  }
  const size_t n = seg.size();
  auto at = [&](size_t fromEnd) { return seg[n - fromEnd]; };
  if (n >= 4 && at(3) == "blobs" && at(2) == "uploads") {
    if (at(1).empty()) return Route{Resource::UploadStart, join(seg, n - 3), {}};
    return Route{Resource::Upload, join(seg, n - 3), std::string(at(1))};
  }
  if (n >= 3 && at(2) == "blobs" && at(1) == "uploads") {
    return Route{Resource::UploadStart, join(seg, n - 2), {}};
  }
  if (n >= 3 && at(2) == "tags" && at(1) == "list") {
    return Route{Resource::Tags, join(seg, n - 2), {}};
  }
  if (n >= 3 && at(2) == "blobs")
    return Route{Resource::Blob, join(seg, n - 2), std::string(at(1))};
  if (n >= 3 && at(2) == "manifests") {
    return Route{Resource::Manifest, join(seg, n - 2), std::string(at(1))};
  }
  if (n >= 3 && at(2) == "referrers") {
    return Route{Resource::Referrers, join(seg, n - 2), std::string(at(1))};
  }
  return std::nullopt;
}

bool methodAllowed(Resource r, Method m) {
  switch (r) {
    case Resource::Blob:
      return isRead(m) || m == Method::Delete;
    case Resource::UploadStart:
      return m == Method::Post;
    case Resource::Upload:
      return m == Method::Get || m == Method::Patch || m == Method::Put || m == Method::Delete;
    case Resource::Manifest:
      return isRead(m) || m == Method::Put || m == Method::Delete;
    case Resource::Tags:
    case Resource::Referrers:
      return m == Method::Get;
  }
  return false;
}

// DENIED when the repository's attributes forbid the action (ACR's repository locks).
std::optional<http::Dispatch> refuseLocked(Services& s, meta::RegistryId registry,
                                           std::string_view name, Action action) {
  auto entry = findRepositoryEntry(s, registry, name);
  if (!entry) return replyError(entry.error());
  if (!*entry) return std::nullopt;
  const auto& a = (*entry)->attributes;
  const char* attribute = nullptr;
  switch (action) {
    case Action::Pull:
    case Action::ListTags:
      if (!a.readEnabled) attribute = "readEnabled";
      break;
    case Action::Push:
      if (!a.writeEnabled) attribute = "writeEnabled";
      break;
    case Action::Delete:
      if (!a.deleteEnabled) attribute = "deleteEnabled";
      break;
    case Action::Catalog:
      break;
  }
  if (!attribute) return std::nullopt;
  return replyError(explainedError(ApiCode::Denied, "repository \"" + std::string(name) +
                                                        "\" is locked (" + attribute + ": false)"));
}

// What the audit log records of a request on a repository route: writes always, pulls when
// the registry asks for them; uploading chunks and listing are not recorded.
void auditAs(http::Request& req, const Route& route, bool pulls) {
  const bool byDigest = route.ref.starts_with("sha256:") || route.ref.starts_with("sha512:");
  std::string target = route.name;
  if (!route.ref.empty()) target += (byDigest ? "@" : ":") + route.ref;
  const auto m = req.method;
  std::string_view action;
  switch (route.resource) {
    case Resource::Manifest:
      if (m == Method::Put) action = "manifest.push";
      if (m == Method::Delete) action = byDigest ? "manifest.delete" : "tag.delete";
      if (m == Method::Get && pulls) action = "manifest.pull";
      break;
    case Resource::Blob:
      if (m == Method::Delete) action = "blob.delete";
      if (m == Method::Get && pulls) action = "blob.pull";
      break;
    case Resource::UploadStart:
      if (auto digest = req.param("digest")) {
        action = "blob.push";
        target = route.name + "@" + std::string(*digest);
      }
      if (auto mount = req.param("mount")) {
        action = "blob.mount";
        target = route.name + "@" + std::string(*mount);
      }
      break;
    case Resource::Upload:
      if (m == Method::Put) {
        action = "blob.push";
        target = route.name + "@" + std::string(req.param("digest").value_or(""));
      }
      if (m == Method::Delete) action = "upload.cancel";
      break;
    case Resource::Tags:
    case Resource::Referrers:
      break;
  }
  if (action.empty()) return;
  req.auditAction = action;
  req.auditTarget = std::move(target);
}

// The specification has no code for a path that names no resource: UNSUPPORTED, with 404.
http::Dispatch noRoute() { return fail(ApiCode::Unsupported, "no route matches the request", 404); }

}  // namespace

meta::Actor actorOf(const RequestContext& ctx) {
  meta::Actor actor;
  actor.source = http::clientAddress(ctx.remote);
  actor.identity = auth::identityName(ctx.caller, ctx.registryName);
  actor.requestId = ctx.requestId;
  actor.host = ctx.host;
  actor.method = ctx.method;
  actor.userAgent = ctx.userAgent;
  return actor;
}

void RegistryApp::forgetCached() { state_->caches.clear(); }

namespace {

std::string_view routeTemplate(Resource resource) {
  switch (resource) {
    case Resource::Blob:
      return "/v2/{name}/blobs/{digest}";
    case Resource::UploadStart:
      return "/v2/{name}/blobs/uploads/";
    case Resource::Upload:
      return "/v2/{name}/blobs/uploads/{uuid}";
    case Resource::Manifest:
      return "/v2/{name}/manifests/{reference}";
    case Resource::Tags:
      return "/v2/{name}/tags/list";
    case Resource::Referrers:
      return "/v2/{name}/referrers/{digest}";
  }
  return "unmatched";
}

}  // namespace

http::Dispatch RegistryApp::dispatch(http::Request& req) {
  auto& st = *state_;
  Services& services = st.services;
  const std::string_view path = req.path;
  req.plane = "registry";
  if (!path.starts_with("/v2")) return noRoute();

  auto tenant = st.deps.tenants.resolve(req.host());
  if (!tenant) return replyError(tenant.error());
  const meta::RegistrySettings& settings = tenant->settings;
  req.registry = settings.name;
  RequestContext ctx;
  ctx.registry = settings.id;
  ctx.anonymousPull = settings.anonymousPull;
  ctx.blobs = tenant->blobs;
  ctx.requestId = req.requestId;
  ctx.registryName = settings.name;
  ctx.remote = req.remote;
  ctx.host = std::string(req.host());
  ctx.method = std::string(http::methodName(req.method));
  ctx.userAgent = std::string(req.header("User-Agent").value_or(""));

  auto authn = st.deps.authenticator.authenticate(req.header("Authorization"), settings, req.host(),
                                                  req.remote);
  if (!authn.ok()) {
    // Refused credentials are a failed login wherever they were presented.
    req.auditAction = "login";
    req.identity = auth::basicUser(req.header("Authorization"));
  } else {
    req.identity = auth::identityName(authn.identity, settings.name);
  }
  if (authn.failure == auth::AuthFailure::Throttled) {
    return http::Dispatch::reply(auth::throttled(authn));
  }

  if (path == "/v2/" || path == "/v2") {
    req.route = "/v2/";
    if (!authn.ok()) return challenge(req, "", authn.detail);
    if (authn.identity.anonymous()) return challenge(req, "", "authentication required");
    req.auditAction = "login";
    if (!isRead(req.method)) return fail(ApiCode::Unsupported);
    return http::Dispatch::reply(http::Response::json(200, "{}"));
  }
  if (path == "/v2/_catalog") {
    req.route = "/v2/_catalog";
    constexpr std::string_view kScope = "registry:catalog:*";
    if (!authn.ok()) return challenge(req, kScope, authn.detail);
    ctx.caller = std::move(authn.identity);
    if (req.method != Method::Get) return fail(ApiCode::Unsupported);
    if (ctx.caller.anonymous() || !st.authorizer.allowed(ctx, "", Action::Catalog)) {
      return refuse(req, ctx, kScope);
    }
    if (ctx.caller.kind == auth::Identity::Kind::Bearer) {
      // The token grants the listing; what is listed is what its subject may read.
      auto subject = st.deps.authenticator.subjectIdentity(settings, ctx.caller.subject);
      if (!subject) return refuse(req, ctx, kScope);
      ctx.caller.permissions = std::move(subject->permissions);
    }
    return handleCatalog(services, req, ctx);
  }
  if (!path.starts_with("/v2/")) return noRoute();
  auto route = matchRepositoryRoute(path.substr(4));
  if (!route) return noRoute();
  req.route = routeTemplate(route->resource);
  if (!isValidRepositoryName(route->name)) {
    return fail(ApiCode::NameInvalid, "invalid repository name");
  }
  if (!methodAllowed(route->resource, req.method)) return fail(ApiCode::Unsupported);
  if (authn.ok()) auditAs(req, *route, settings.auditPulls);
  const bool upload =
      route->resource == Resource::Upload || route->resource == Resource::UploadStart;
  const std::string scope = "repository:" + route->name + ":" +
                            std::string(upload ? "pull,push" : dockerActionsFor(req.method));
  if (!authn.ok()) return challenge(req, scope, authn.detail);
  ctx.caller = std::move(authn.identity);
  const auto action = actionFor(req.method, route->resource);
  if (!st.authorizer.allowed(ctx, route->name, action)) return refuse(req, ctx, scope);
  if (auto locked = refuseLocked(services, ctx.registry, route->name, action)) {
    return std::move(*locked);
  }

  Target target{std::move(ctx), std::move(route->name), std::move(route->ref)};
  if (upload && target.ctx.blobs->blocking()) {
    // Calls to an object store: on the blocking pool, never on a network thread. A blob's
    // GET, HEAD and DELETE make none (the metadata has the size; the bytes come from a body
    // source on the stream pool, or from the node's copy), so they stay here.
    return http::Dispatch::offload(
        [&services, &req, target = std::move(target), resource = route->resource]() mutable {
          if (resource == Resource::UploadStart) return handleUploadStart(services, req, target);
          return handleUpload(services, req, target);
        });
  }
  switch (route->resource) {
    case Resource::Blob:
      return handleBlob(services, req, target);
    case Resource::UploadStart:
      return handleUploadStart(services, req, target);
    case Resource::Upload:
      return handleUpload(services, req, target);
    case Resource::Manifest:
      return handleManifest(services, req, target);
    case Resource::Tags:
      return handleTags(services, req, target);
    case Resource::Referrers:
      return handleReferrers(services, req, target);
  }
  return noRoute();
}

// ---- helpers shared by the handlers ----

void Caches::clear() {
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  auto all = [](const auto&, const auto&) { return true; };
  manifests.eraseIf(all);
  tags.eraseIf(all);
  blobLinks.eraseIf(all);
  repositories.eraseIf(all);
}

void Caches::forgetRepository(meta::RepositoryId repository) {
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  const auto prefix = std::to_string(repository) + "/";
  auto of = [&](const std::string& k, const auto&) { return k.starts_with(prefix); };
  manifests.eraseIf(of);
  tags.eraseIf(of);
  blobLinks.eraseIf(of);
  repositories.eraseIf([&](const std::string&, const Repository& r) { return r.id == repository; });
}

void Caches::forgetRepositoryTags(meta::RepositoryId repository) {
  const auto prefix = std::to_string(repository) + "/";
  tags.eraseIf([&](const std::string& k, const std::string&) { return k.starts_with(prefix); });
}

http::Response errorResponse(const Error& error) { return http::Response::error(error); }

http::Dispatch replyError(const Error& error) {
  return http::Dispatch::reply(errorResponse(error));
}

http::Dispatch fail(ApiCode code, std::string detail, int status) {
  return replyError(makeError(code, std::move(detail), status));
}

std::string blobLocation(std::string_view name, std::string_view digest) {
  std::string out = "/v2/";
  out += name;
  out += "/blobs/";
  out += digest;
  return out;
}

std::string uploadLocation(std::string_view name, std::string_view uuid) {
  std::string out = "/v2/";
  out += name;
  out += "/blobs/uploads/";
  out += uuid;
  return out;
}

Result<std::optional<Caches::Repository>> findRepositoryEntry(Services& s,
                                                              meta::RegistryId registry,
                                                              std::string_view name) {
  const auto key = Caches::key(registry, name);
  if (auto hit = s.caches.repositories.get(key)) return std::optional<Caches::Repository>(*hit);
  const auto epoch = s.caches.epoch();
  auto found = s.meta.repository(registry, name);
  if (!found) return found.takeError();
  if (!*found) return std::optional<Caches::Repository>();
  Caches::Repository entry{(*found)->id, (*found)->attributes};
  if (s.caches.unchangedSince(epoch)) s.caches.repositories.put(key, entry);
  return std::optional<Caches::Repository>(entry);
}

Result<std::optional<meta::RepositoryId>> findRepository(Services& s, meta::RegistryId registry,
                                                         std::string_view name) {
  auto entry = findRepositoryEntry(s, registry, name);
  if (!entry) return entry.takeError();
  if (!*entry) return std::optional<meta::RepositoryId>();
  return std::optional<meta::RepositoryId>((*entry)->id);
}

Result<std::optional<size_t>> pageSize(const http::Request& req) {
  auto n = req.param("n");
  if (!n) return std::optional<size_t>();
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(n->data(), n->data() + n->size(), value);
  if (n->empty() || ec != std::errc() || ptr != n->data() + n->size()) {
    return makeError(ApiCode::Unsupported, "n must be a non-negative integer", 400);
  }
  return std::optional<size_t>(value);
}

}  // namespace berth::registry
