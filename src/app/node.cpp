#include "app/node.hpp"

#include <sys/stat.h>

#include <condition_variable>
#include <mutex>

#include "app/tenancy.hpp"
#include "auth/token_endpoint.hpp"
#include "control/app.hpp"
#include "core/log.hpp"
#include "meta/sqlite/identity_store.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "registry/app.hpp"

namespace berth::app {

Result<Stores> Stores::open(const std::filesystem::path& dataDir, uint64_t diskReserveBytes) {
  std::error_code ec;
  std::filesystem::create_directories(dataDir, ec);
  if (ec) {
    return makeError(ApiCode::Unknown,
                     "cannot create data directory " + dataDir.string() + ": " + ec.message());
  }
  // The database holds password hashes and signing keys: only the owner may read it.
  ::chmod(dataDir.c_str(), 0700);
  Stores stores;
  stores.reserve = std::make_shared<DiskReserve>(dataDir / "reserve", diskReserveBytes);
  stores.reserve->restore();
  const auto db = dataDir / "berth.db";
  auto meta = meta::openSqliteStore(db, stores.reserve);
  if (!meta) return meta.takeError();
  stores.meta = std::move(*meta);
  auto identities = meta::openSqliteIdentityStore(db, stores.reserve);
  if (!identities) return identities.takeError();
  stores.identities = std::move(*identities);
  auto id = stores.meta->ensureRegistry(kDefaultRegistry);
  if (!id) return id.takeError();
  stores.defaultRegistry = *id;
  return stores;
}

struct Node::Planes {
  Tenancy tenancy;
  auth::Authenticator authenticator;
  registry::RegistryApp registry;
  auth::TokenEndpoint tokens;
  control::ControlApp control;

  Planes(Stores& s, NodeOptions options, std::string operatorToken)
      : tenancy(*s.identities,
                TenancyOptions{options.dataDir, options.domain, std::string(kDefaultRegistry),
                               std::move(operatorToken), options.openBlobsPerRegistry}),
        authenticator(*s.identities, withLoginServers(options.auth, tenancy)),
        registry(
            registry::RegistryDeps{*s.meta, authenticator, tenancy, options.manifestCacheEntries}),
        tokens(authenticator,
               [this](const http::Request& req) -> Result<meta::RegistrySettings> {
                 auto tenant = tenancy.resolve(req.host());
                 if (!tenant) return tenant.takeError();
                 return std::move(tenant->settings);
               }),
        control(control::ControlDeps{*s.meta, *s.identities, authenticator, tenancy}) {
    tenancy.onForget([this] { registry.forgetCached(); });
  }

  static auth::AuthOptions withLoginServers(auth::AuthOptions auth, const Tenancy& tenancy) {
    auth.loginServer = [&tenancy](std::string_view name) { return tenancy.loginServer(name); };
    return auth;
  }
};

Result<std::unique_ptr<Node>> Node::open(NodeOptions options) {
  auto stores = Stores::open(options.dataDir, options.diskReserveBytes);
  if (!stores) return stores.takeError();
  if (options.operatorTokenFile.empty())
    options.operatorTokenFile = options.dataDir / "operator-token";
  auto operatorToken = loadOperatorToken(options.operatorTokenFile);
  if (!operatorToken) return operatorToken.takeError();
  auto node = std::unique_ptr<Node>(new Node(std::move(*stores), nullptr));
  const auto upkeep = options.upkeepInterval;
  const auto gcInterval = options.gcInterval;
  auto gc = options.gc;
  node->planes_ =
      std::make_unique<Planes>(node->stores_, std::move(options), std::move(*operatorToken));
  if (auto r = node->planes_->authenticator.ensureSigningKey(); !r) return r.takeError();
  node->startUpkeep(upkeep);
  node->startGc(gcInterval, std::move(gc));
  return node;
}

Node::Node(Stores stores, std::unique_ptr<Planes> planes)
    : stores_(std::move(stores)), planes_(std::move(planes)) {}

Node::~Node() {
  for (auto* worker : {&gc_, &upkeep_}) {
    if (worker->joinable()) {
      worker->request_stop();
      worker->join();
    }
  }
}

void Node::startUpkeep(std::chrono::seconds interval) {
  upkeep_ = std::jthread([this, interval](std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait_for(lock, stop, interval, [] { return false; });
      if (stop.stop_requested()) return;
      // Space freed since the reserve was used: take it back for the next full disk.
      if (!stores_.reserve->held()) stores_.reserve->restore();
    }
  });
}

void Node::startGc(std::chrono::seconds interval, jobs::GcOptions options) {
  if (interval.count() <= 0) return;
  gc_ = std::jthread([this, interval, options = std::move(options)](std::stop_token stop) mutable {
    using Clock = std::chrono::steady_clock;
    constexpr auto kSweepEvery = std::chrono::hours(24);
    options.stopping = [&stop] { return stop.stop_requested(); };
    auto nextSweep = Clock::now();
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait_for(lock, stop, interval, [] { return false; });
      if (stop.stop_requested()) return;
      options.sweepOrphans = Clock::now() >= nextSweep;
      if (options.sweepOrphans) nextSweep = Clock::now() + kSweepEvery;
      collectGarbage(options);
    }
  });
}

void Node::collectGarbage(const jobs::GcOptions& options) {
  auto registries = stores_.identities->listRegistries();
  if (!registries) {
    log::warn("garbage collection skipped", {{"error", registries.error().detail}});
    return;
  }
  bool removed = false;
  for (const auto& registry : *registries) {
    if (options.stopping && options.stopping()) break;
    auto blobs = planes_->tenancy.blobsOf(registry);
    if (!blobs) continue;
    const auto run = jobs::collectGarbage(*stores_.meta, **blobs, registry.id, options);
    if (auto r = stores_.meta->recordGcRun(registry.id, run); !r) {
      log::warn("garbage collection not recorded",
                {{"registry", registry.name}, {"error", r.error().detail}});
    }
    if (run.linksRemoved + run.blobsRemoved + run.uploadsRemoved + run.orphansRemoved > 0) {
      removed = true;
      log::info("garbage collected", {{"registry", registry.name},
                                      {"links", run.linksRemoved},
                                      {"blobs", run.blobsRemoved},
                                      {"bytes", run.bytesRemoved},
                                      {"uploads", run.uploadsRemoved},
                                      {"orphans", run.orphansRemoved}});
    }
  }
  // The data plane caches which blobs are linked where.
  if (removed) planes_->registry.forgetCached();
}

http::Dispatch Node::dispatch(http::Request& request) {
  const std::string_view path = request.path;
  if (path.starts_with("/v2")) return planes_->registry.dispatch(request);
  if (path.starts_with("/oauth2/")) return planes_->tokens.dispatch(request);
  if (path.starts_with("/api/")) return planes_->control.dispatch(request);
  if (path == "/healthz") {
    return http::Dispatch::reply(http::Response::json(200, R"({"status":"ok"})"));
  }
  return planes_->registry.dispatch(request);
}

}  // namespace berth::app
