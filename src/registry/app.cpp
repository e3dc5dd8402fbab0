#include "registry/app.hpp"

#include <charconv>
#include <vector>

#include "core/reference.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "registry/handlers.hpp"
#include "storage/fs/fs_blob_store.hpp"

namespace berth::registry {

inline constexpr std::string_view kDefaultRegistry = "default";

struct RegistryApp::State {
  meta::MetadataStorePtr meta;
  storage::BlobStorePtr blobs;
  meta::RegistryId defaultRegistry = 0;
  std::unique_ptr<Authorizer> authorizer;
  Caches caches;
  std::optional<Services> services;  // set once the stores above exist

  explicit State(size_t cacheEntries) : caches(cacheEntries) {}
};

Result<std::unique_ptr<RegistryApp>> RegistryApp::open(const RegistryOptions& options,
                                                       std::unique_ptr<Authorizer> authorizer) {
  std::error_code ec;
  std::filesystem::create_directories(options.dataDir, ec);
  if (ec) {
    return makeError(ApiCode::Unknown, "cannot create data directory " + options.dataDir.string() +
                                           ": " + ec.message());
  }
  auto state = std::make_unique<State>(options.manifestCacheEntries);
  auto meta = meta::openSqliteStore(options.dataDir / "berth.db");
  if (!meta) return meta.takeError();
  state->meta = std::move(*meta);
  auto id = state->meta->ensureRegistry(kDefaultRegistry);
  if (!id) return id.takeError();
  state->defaultRegistry = *id;
  auto blobs =
      storage::FsBlobStore::open(options.dataDir / "registries" / std::string(kDefaultRegistry));
  if (!blobs) return blobs.takeError();
  state->blobs = std::move(*blobs);
  state->authorizer = std::move(authorizer);
  state->services.emplace(Services{*state->meta, *state->authorizer, state->caches});
  return std::unique_ptr<RegistryApp>(new RegistryApp(std::move(state)));
}

RegistryApp::RegistryApp(std::unique_ptr<State> state) : state_(std::move(state)) {}
RegistryApp::~RegistryApp() = default;

namespace {

using http::Method;

bool isRead(Method m) { return m == Method::Get || m == Method::Head; }

Action actionFor(Method m) {
  switch (m) {
    case Method::Get:
    case Method::Head:
      return Action::Pull;
    case Method::Delete:
      return Action::Delete;
    default:
      return Action::Push;
  }
}

enum class Resource { Blob, UploadStart, Upload, Manifest, Tags, Referrers };

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

}  // namespace

http::Dispatch RegistryApp::dispatch(http::Request& req) {
  auto& st = *state_;
  Services& services = *st.services;
  // The seam for many registries: the Host header will select the tenant here.
  RequestContext ctx;
  ctx.registry = st.defaultRegistry;
  ctx.registryName = std::string(kDefaultRegistry);
  ctx.blobs = st.blobs.get();
  ctx.requestId = req.requestId;

  const std::string_view path = req.path;
  if (path == "/v2/" || path == "/v2") {
    if (!isRead(req.method)) return fail(ApiCode::Unsupported);
    return http::Dispatch::reply(http::Response::json(200, "{}"));
  }
  if (path == "/v2/_catalog") {
    if (req.method != Method::Get) return fail(ApiCode::Unsupported);
    if (!st.authorizer->allowed(ctx, "", Action::Catalog)) return fail(ApiCode::Denied);
    return handleCatalog(services, req, ctx);
  }
  if (!path.starts_with("/v2/")) return fail(ApiCode::NotFound);
  auto route = matchRepositoryRoute(path.substr(4));
  if (!route) return fail(ApiCode::NotFound);
  if (!isValidRepositoryName(route->name)) {
    return fail(ApiCode::NameInvalid, "invalid repository name");
  }
  if (!methodAllowed(route->resource, req.method)) return fail(ApiCode::Unsupported);
  if (!st.authorizer->allowed(ctx, route->name, actionFor(req.method))) {
    return fail(ApiCode::Denied);
  }

  Target target{std::move(ctx), std::move(route->name), std::move(route->ref)};
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
  return fail(ApiCode::NotFound);
}

// ---- helpers shared by the handlers ----

void Caches::forgetRepositoryTags(meta::RepositoryId repository) {
  const auto prefix = std::to_string(repository) + "/";
  tags.eraseIf([&](const std::string& k, const std::string&) { return k.starts_with(prefix); });
}

http::Response errorResponse(const Error& error) { return http::Response::error(error); }

http::Dispatch fail(ApiCode code, std::string detail, int status) {
  return http::Dispatch::reply(errorResponse(makeError(code, std::move(detail), status)));
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

Result<std::optional<size_t>> pageSize(const http::Request& req) {
  auto n = req.param("n");
  if (!n) return std::optional<size_t>();
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(n->data(), n->data() + n->size(), value);
  if (n->empty() || ec != std::errc() || ptr != n->data() + n->size()) {
    return makeError(ApiCode::PaginationNumberInvalid, "n must be a non-negative integer");
  }
  return std::optional<size_t>(value);
}

}  // namespace berth::registry
