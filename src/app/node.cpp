#include "app/node.hpp"

#include <sys/stat.h>

#include "auth/token_endpoint.hpp"
#include "meta/sqlite/identity_store.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "registry/app.hpp"
#include "storage/fs/fs_blob_store.hpp"

namespace berth::app {

Result<Stores> Stores::open(const std::filesystem::path& dataDir) {
  std::error_code ec;
  std::filesystem::create_directories(dataDir, ec);
  if (ec) {
    return makeError(ApiCode::Unknown,
                     "cannot create data directory " + dataDir.string() + ": " + ec.message());
  }
  // The database holds password hashes and signing keys: only the owner may read it.
  ::chmod(dataDir.c_str(), 0700);
  Stores stores;
  const auto db = dataDir / "berth.db";
  auto meta = meta::openSqliteStore(db);
  if (!meta) return meta.takeError();
  stores.meta = std::move(*meta);
  auto identities = meta::openSqliteIdentityStore(db);
  if (!identities) return identities.takeError();
  stores.identities = std::move(*identities);
  auto id = stores.meta->ensureRegistry(kDefaultRegistry);
  if (!id) return id.takeError();
  stores.defaultRegistry = *id;
  auto blobs = storage::FsBlobStore::open(dataDir / "registries" / std::string(kDefaultRegistry));
  if (!blobs) return blobs.takeError();
  stores.blobs = std::move(*blobs);
  return stores;
}

struct Node::Planes {
  auth::Authenticator authenticator;
  registry::RegistryApp registry;
  auth::TokenEndpoint tokens;

  Planes(Stores& s, const NodeOptions& options)
      : authenticator(*s.identities, options.auth),
        registry(registry::RegistryDeps{*s.meta, *s.identities, *s.blobs, authenticator,
                                        s.defaultRegistry, options.manifestCacheEntries}),
        tokens(authenticator, [&s](const http::Request&) -> Result<meta::RegistrySettings> {
          auto settings = s.identities->registrySettings(s.defaultRegistry);
          if (!settings) return settings.takeError();
          if (!*settings) return makeError(ApiCode::NotFound, "no such registry");
          return **settings;
        }) {}
};

Result<std::unique_ptr<Node>> Node::open(NodeOptions options) {
  auto stores = Stores::open(options.dataDir);
  if (!stores) return stores.takeError();
  auto node = std::unique_ptr<Node>(new Node(std::move(*stores), nullptr));
  node->planes_ = std::make_unique<Planes>(node->stores_, options);
  if (auto r = node->planes_->authenticator.ensureSigningKey(); !r) return r.takeError();
  return node;
}

Node::Node(Stores stores, std::unique_ptr<Planes> planes)
    : stores_(std::move(stores)), planes_(std::move(planes)) {}
Node::~Node() = default;

http::Dispatch Node::dispatch(http::Request& request) {
  if (request.path.starts_with("/oauth2/")) return planes_->tokens.dispatch(request);
  return planes_->registry.dispatch(request);
}

}  // namespace berth::app
