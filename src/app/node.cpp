#include "app/node.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <ctime>
#include <mutex>

#include "app/tenancy.hpp"
#include "auth/oidc.hpp"
#include "auth/token_endpoint.hpp"
#include "control/app.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "events/webhook_rules.hpp"
#include "jobs/cron.hpp"
#include "jobs/purge.hpp"
#include "meta/postgres/database.hpp"
#include "meta/sql/stores.hpp"
#include "meta/sqlite/database.hpp"
#include "portal/portal.hpp"
#include "registry/app.hpp"
#include "storage/object/http_client.hpp"

namespace berth::app {

Result<Stores> Stores::open(const std::filesystem::path& dataDir, uint64_t diskReserveBytes,
                            const MetadataOptions& metadata) {
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
  Result<meta::sql::DatabasePtr> db = makeError(ApiCode::Unknown);
  if (metadata.url.empty()) {
    auto opened = meta::sqlite::Database::open(dataDir / "berth.db", stores.reserve);
    if (!opened) return opened.takeError();
    db = meta::sql::DatabasePtr(std::move(*opened));
  } else {
    if (!meta::postgres::isUrl(metadata.url)) {
      return makeError(ApiCode::Unknown, "metadata: not a postgres:// URL: " +
                                             meta::postgres::redacted(metadata.url));
    }
    meta::postgres::Options options;
    options.url = metadata.url;
    options.connections = metadata.connections;
    options.statementTimeoutMs = static_cast<int>(metadata.statementTimeout.count() * 1000);
    options.lockTimeoutMs = options.statementTimeoutMs / 2;
    db = meta::postgres::open(options);
    if (!db) {
      return makeError(ApiCode::Unknown, "cannot open the metadata database " +
                                             meta::postgres::redacted(metadata.url) + ": " +
                                             db.error().detail);
    }
  }
  auto made = meta::makeSqlStores(*db);
  stores.meta = std::move(made.meta);
  stores.identities = std::move(made.identities);
  stores.events = std::move(made.events);
  stores.upstreams = std::move(made.upstreams);
  auto id = stores.meta->ensureRegistry(kDefaultRegistry);
  if (!id) return id.takeError();
  stores.defaultRegistry = *id;
  return stores;
}

// Imports write into the registries this process hosts.
class TenancyImports final : public upstream::ImportTarget {
 public:
  explicit TenancyImports(Tenancy& tenancy) : tenancy_(tenancy) {}
  Result<std::shared_ptr<storage::BlobStore>> blobsOf(
      const meta::RegistrySettings& registry) override {
    return tenancy_.blobsOf(registry);
  }
  void forget(meta::RegistryId registry) override { tenancy_.forget(registry); }

 private:
  Tenancy& tenancy_;
};

struct Node::Planes {
  Tenancy tenancy;
  auth::Authenticator authenticator;
  std::shared_ptr<storage::object::HttpClient> upstreamHttp;
  TenancyImports importTarget;
  upstream::Importer importer;
  upstream::Cache cache;
  registry::RegistryApp registry;
  storage::object::HttpClient oidcHttp;
  auth::OidcVerifier oidc;
  auth::TokenEndpoint tokens;
  upstream::ImportRunner imports;
  upstream::Replicator replicator;
  control::ControlApp control;

  Planes(Stores& s, NodeOptions options, std::string operatorToken, control::EventDeps events)
      : tenancy(*s.identities,
                TenancyOptions{options.dataDir, options.domain, std::string(kDefaultRegistry),
                               std::move(operatorToken), serverStore(options), options.store}),
        authenticator(*s.identities, withLoginServers(options.auth, tenancy)),
        upstreamHttp(std::make_shared<storage::object::HttpClient>(
            upstreamHttpOptions(options.upstream.http, options.upstreamAllowLoopback))),
        importTarget(tenancy),
        importer(*s.meta, importTarget, upstreamHttp, options.upstream),
        cache(*s.meta, *s.identities, *s.upstreams, events.secrets, importer, upstreamHttp,
              options.upstream, withSpool(options.cache, options.dataDir)),
        registry(registry::RegistryDeps{*s.meta, authenticator, tenancy,
                                        options.manifestCacheEntries, &cache}),
        oidcHttp(oidcHttpOptions(options.oidcCaFile)),
        oidc([this](const std::string& url) { return fetchIssuerDocument(oidcHttp, url); },
             options.oidc),
        tokens(
            authenticator,
            [this](const http::Request& req) -> Result<meta::RegistrySettings> {
              auto tenant = tenancy.resolve(req.host());
              if (!tenant) return tenant.takeError();
              return std::move(tenant->settings);
            },
            auth::ExchangeDeps{&oidc,
                               [this, &s](std::string_view service) {
                                 return registryOfService(tenancy, *s.identities, service);
                               }}),
        imports(*s.upstreams, importer, options.imports),
        replicator(*s.meta, *s.identities, *s.events, *s.upstreams, importTarget, events.secrets,
                   upstreamHttp, options.upstream, options.replication),
        control(control::ControlDeps{
            *s.meta, *s.identities, authenticator, tenancy, std::move(events), options.sessions,
            options.oidc.allowHttp,
            control::UpstreamDeps{*s.upstreams, imports, options.upstreamAllowLoopback,
                                  [this](meta::RegistryId r) { cache.forgetRules(r); },
                                  &replicator}}) {
    tenancy.onForget([this] { registry.forgetCached(); });
    replicator.start();
  }
  // The background work first: an import or a cache fill that ends tells the registry (declared
  // after the cache, so destroyed before it) to forget what it cached.
  ~Planes() {
    replicator.stop();
    imports.stop();
    cache.stop();
  }

  static storage::object::HttpOptions oidcHttpOptions(const std::string& caFile) {
    storage::object::HttpOptions o;
    o.connectTimeout = std::chrono::seconds(5);
    o.totalTimeout = std::chrono::seconds(10);
    o.maxAttempts = 2;
    o.idleHandles = 4;
    o.caFile = caFile;
    o.peer = "OpenID Connect issuer";
    return o;
  }

  static upstream::CacheOptions withSpool(upstream::CacheOptions o,
                                          const std::filesystem::path& dataDir) {
    o.spoolDir = dataDir / "spool" / "cache";
    return o;
  }

  static storage::object::HttpOptions upstreamHttpOptions(storage::object::HttpOptions o,
                                                          bool allowLoopback) {
    o.peer = "upstream";
    if (!allowLoopback) {
      o.allowAddress = [](const sockaddr* address) { return !events::refusedAddress(address); };
    }
    return o;
  }

  // An issuer's discovery document or JWKS: at most 1 MiB, 200 only.
  static Result<std::string> fetchIssuerDocument(storage::object::HttpClient& http,
                                                 const std::string& url) {
    storage::object::HttpRequest request;
    request.url = url;
    request.headers = {{"Accept", "application/json"}};
    request.responseLimit = 1 << 20;
    auto response = http.perform(std::move(request));
    if (!response) return response.takeError();
    if (response->status != 200) {
      return makeError(ApiCode::Unknown, "HTTP " + std::to_string(response->status));
    }
    return std::move(response->body);
  }

  // The registry a token request's `service` names: its login server, or its name.
  static Result<std::optional<meta::RegistrySettings>> registryOfService(
      Tenancy& tenancy, meta::IdentityStore& identities, std::string_view service) {
    const auto named = tenancy.registryOfHost(service);
    return identities.registryByName(named ? std::string_view(*named) : service);
  }

  static storage::StoreUrl serverStore(const NodeOptions& options) {
    if (options.storage.empty()) return defaultServerStore(options.dataDir);
    auto url = storage::parseStoreUrl(options.storage);
    return url ? *url : defaultServerStore(options.dataDir);  // checked by Node::open
  }

  static auth::AuthOptions withLoginServers(auth::AuthOptions auth, const Tenancy& tenancy) {
    auth.loginServer = [&tenancy](std::string_view name) { return tenancy.loginServer(name); };
    return auth;
  }
};

Result<std::unique_ptr<Node>> Node::open(NodeOptions options) {
  auto stores = Stores::open(options.dataDir, options.diskReserveBytes, options.metadata);
  if (!stores) return stores.takeError();
  if (options.operatorTokenFile.empty())
    options.operatorTokenFile = options.dataDir / "operator-token";
  auto operatorToken = loadOperatorToken(options.operatorTokenFile);
  if (!operatorToken) return operatorToken.takeError();
  if (!options.storage.empty()) {
    auto url = storage::parseStoreUrl(options.storage);
    if (!url) return url.takeError();
    if (url->kind != storage::StoreUrl::Kind::File) {
      // One request to the store now: a bad bucket, endpoint or key stops the start.
      auto probed = storage::openStore(*url, options.store, true);
      if (!probed) return probed.takeError();
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(options.store.objects.spoolDir, ec);
  if (ec) {
    return makeError(ApiCode::Unknown, "cannot create " + options.store.objects.spoolDir.string() +
                                           ": " + ec.message());
  }
  auto node = std::unique_ptr<Node>(new Node(std::move(*stores), nullptr));
  node->dataDir_ = options.dataDir;
  const auto upkeep = options.upkeepInterval;
  const auto gcInterval = options.gcInterval;
  auto gc = options.gc;
  const auto lifecycle = options.lifecycleInterval;
  const auto historyDays = options.tagHistoryDays;
  node->metricsHere_ = options.metricsHere;
  node->portal_ = options.portal;
  node->requestMetrics_ = std::make_unique<RequestMetrics>(options.metricsRegistryLabel);
  auto secrets =
      !options.secretKey.empty()
          ? events::SecretBox::fromText(options.secretKey)
          : events::SecretBox::open(options.secretKeyFile.empty() ? node->dataDir_ / "secret.key"
                                                                  : options.secretKeyFile);
  if (!secrets) return secrets.takeError();
  node->secrets_ = std::make_unique<events::SecretBox>(std::move(*secrets));
  node->webhooks_ = std::make_unique<events::WebhookDispatcher>(*node->stores_.events,
                                                                *node->secrets_, options.webhooks);
  node->audit_ = std::make_unique<events::AuditLog>(*node->stores_.events, options.audit);
  control::EventDeps eventDeps{*node->stores_.events, *node->secrets_,
                               options.webhooks.allowLoopback,
                               [hooks = node->webhooks_.get()] { hooks->wake(); }};
  node->planes_ = std::make_unique<Planes>(node->stores_, std::move(options),
                                           std::move(*operatorToken), std::move(eventDeps));
  if (auto r = node->planes_->authenticator.ensureSigningKey(); !r) return r.takeError();
  node->webhooks_->start();
  node->audit_->start();
  node->startUpkeep(upkeep);
  node->startGc(gcInterval, std::move(gc));
  node->startLifecycle(lifecycle, historyDays);
  return node;
}

Node::Node(Stores stores, std::unique_ptr<Planes> planes)
    : stores_(std::move(stores)), planes_(std::move(planes)) {}

Node::~Node() {
  for (auto* worker : {&lifecycle_, &gc_, &upkeep_}) {
    if (worker->joinable()) {
      worker->request_stop();
      worker->join();
    }
  }
  if (webhooks_) webhooks_->stop();
  if (audit_) audit_->stop();
}

namespace {

// A thread that runs `work` every `interval` until it is asked to stop; `work` gets a
// predicate that says when it should stop early.
std::jthread every(std::chrono::seconds interval,
                   std::function<void(const std::function<bool()>& stopping)> work) {
  return std::jthread([interval, work = std::move(work)](std::stop_token stop) {
    const std::function<bool()> stopping = [stop] { return stop.stop_requested(); };
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait_for(lock, stop, interval, [] { return false; });
      if (stop.stop_requested()) return;
      work(stopping);
    }
  });
}

}  // namespace

void Node::startUpkeep(std::chrono::seconds interval) {
  upkeep_ = every(interval, [this](const std::function<bool()>&) {
    // Space freed since the reserve was used: take it back for the next full disk.
    if (!stores_.reserve->held()) stores_.reserve->restore();
  });
}

void Node::startGc(std::chrono::seconds interval, jobs::GcOptions options) {
  if (interval.count() <= 0) return;
  using Clock = std::chrono::steady_clock;
  gc_ = every(interval, [this, options = std::move(options),
                         nextSweep = Clock::now()](const std::function<bool()>& stopping) mutable {
    // The first pass, and one a day, also sweep the blob stores for orphaned files.
    options.stopping = stopping;
    options.sweepOrphans = Clock::now() >= nextSweep;
    if (options.sweepOrphans) nextSweep = Clock::now() + std::chrono::hours(24);
    collectGarbage(options);
  });
}

void Node::startLifecycle(std::chrono::seconds interval, uint32_t tagHistoryDays) {
  if (interval.count() <= 0) return;
  using Clock = std::chrono::steady_clock;
  lifecycle_ = every(interval, [this, tagHistoryDays, nextHourly = Clock::now()](
                                   const std::function<bool()>& stopping) mutable {
    runPurgeSchedules(stopping);
    if (Clock::now() < nextHourly) return;
    // Once an hour on one node: a node that finds another at it tries again next interval.
    auto lease = lead("lifecycle");
    if (!lease) return;
    nextHourly = Clock::now() + std::chrono::hours(1);
    applyRetention(stopping);
    const int64_t before = std::time(nullptr) - int64_t{tagHistoryDays} * 86400;
    if (auto pruned = stores_.meta->pruneTagHistory(before); !pruned) {
      log::warn("tag history not pruned", {{"error", pruned.error().detail}});
    }
    // Finished imports are kept 30 days, to be looked up (berth import-job).
    const int64_t importsBefore = (std::time(nullptr) - 30 * 86400) * int64_t{1000};
    if (auto pruned = stores_.upstreams->pruneImportJobs(importsBefore); !pruned) {
      log::warn("import jobs not pruned", {{"error", pruned.error().detail}});
    }
  });
}

namespace {

// berth_gc_*: passes (one per registry), what they removed, and how long they took.
void countGc(const meta::GcRun& run, std::chrono::steady_clock::duration took) {
  static auto& passes = metrics::counters(
      "berth_gc_runs_total", "Garbage-collection passes over a registry, by result.", {"result"});
  static auto& ok = passes.with({"completed"});
  static auto& failed = passes.with({"failed"});
  static auto& removed = metrics::counters("berth_gc_removed_total",
                                           "What garbage collection removed, by kind.", {"kind"});
  static auto& blobs = removed.with({"blobs"});
  static auto& links = removed.with({"links"});
  static auto& uploads = removed.with({"uploads"});
  static auto& orphans = removed.with({"orphans"});
  static auto& bytes = metrics::counters("berth_gc_removed_bytes_total",
                                         "Bytes of blobs garbage collection removed.")
                           .with();
  static auto& duration =
      metrics::histograms("berth_gc_run_duration_seconds",
                          "Time a garbage-collection pass over a registry took, in seconds.", {},
                          metrics::requestBuckets())
          .with();
  static auto& last = metrics::gauges("berth_gc_last_run_timestamp_seconds",
                                      "When the last garbage-collection pass finished.")
                          .with();
  (run.error.empty() ? ok : failed).add();
  blobs.add(run.blobsRemoved);
  links.add(run.linksRemoved);
  uploads.add(run.uploadsRemoved);
  orphans.add(run.orphansRemoved);
  bytes.add(run.bytesRemoved);
  duration.observe(took);
  last.set(run.finished);
}

}  // namespace

// Whether this process may run `job` now (no other node sharing the database runs it); the
// lease to hold while it runs, or null.
meta::JobLease Node::lead(std::string_view job) {
  auto lease = stores_.meta->exclusive(job);
  if (!lease) {
    log::warn("background job skipped", {{"job", job}, {"error", lease.error().detail}});
    return nullptr;
  }
  if (!*lease) log::write(log::Level::Debug, "background job runs on another node", {{"job", job}});
  return std::move(*lease);
}

void Node::collectGarbage(const jobs::GcOptions& options) {
  // One pass at a time across the nodes; a node that dies gives its turn up.
  auto lease = lead("gc");
  if (!lease) return;
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
    const auto started = std::chrono::steady_clock::now();
    const auto run = jobs::collectGarbage(*stores_.meta, **blobs, registry.id, options);
    countGc(run, std::chrono::steady_clock::now() - started);
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

namespace {

std::string summary(const jobs::RegistryPurge& p) {
  boost::json::object o{
      {"repositories", p.repositories},
      {"tagsDeleted", p.tags},
      {"manifestsDeleted", p.manifests},
      {"locked", p.locked},
      {"error", p.error.empty() ? boost::json::value(nullptr) : boost::json::value(p.error)}};
  return boost::json::serialize(o);
}

}  // namespace

void Node::runPurgeSchedules(const std::function<bool()>& stopping) {
  const int64_t now = std::time(nullptr);
  auto due = stores_.meta->duePurgeSchedules(now);
  if (!due) {
    log::warn("purge schedules skipped", {{"error", due.error().detail}});
    return;
  }
  bool removed = false;
  for (const auto& schedule : *due) {
    if (stopping()) break;
    auto cron = jobs::CronSchedule::parse(schedule.cron);
    const int64_t next = cron ? cron->next(now) : INT64_MAX;
    // Claimed first, so that a schedule runs once even where several processes look for it.
    auto claimed = stores_.meta->claimPurgeSchedule(schedule.id, schedule.nextRun, next);
    if (!claimed || !*claimed) continue;
    std::vector<jobs::PurgeFilter> filters;
    for (const auto& text : schedule.filters) {
      if (auto f = jobs::parseFilter(text)) filters.push_back(std::move(*f));
    }
    jobs::PurgeOptions options;
    options.before = now - schedule.agoSeconds;
    options.untagged = schedule.untagged;
    options.keep = schedule.keep;
    options.actor = {"purge", ""};
    // A schedule without filters purges untagged manifests in every repository.
    auto result = jobs::purgeRegistry(*stores_.meta, schedule.registry, filters, options);
    removed = removed || result.tags + result.manifests > 0;
    log::info("scheduled purge ran", {{"schedule", schedule.id},
                                      {"registry_id", schedule.registry},
                                      {"tags", result.tags},
                                      {"manifests", result.manifests},
                                      {"error", result.error}});
    if (auto r = stores_.meta->recordPurgeRun(schedule.id, now, next, summary(result)); !r) {
      log::warn("purge schedule not updated", {{"error", r.error().detail}});
    }
  }
  if (removed) planes_->registry.forgetCached();
}

void Node::applyRetention(const std::function<bool()>& stopping) {
  auto registries = stores_.meta->retainingRegistries();
  if (!registries) {
    log::warn("retention skipped", {{"error", registries.error().detail}});
    return;
  }
  bool removed = false;
  for (const auto& [registry, policies] : *registries) {
    if (stopping()) break;
    jobs::PurgeOptions options;
    options.before = std::time(nullptr) - int64_t{policies.retention.days} * 86400;
    options.untagged = true;
    options.actor = {"retention", ""};
    auto result = jobs::purgeRegistry(*stores_.meta, registry, {}, options);
    if (result.manifests > 0) {
      removed = true;
      log::info("retention deleted untagged manifests",
                {{"registry_id", registry}, {"manifests", result.manifests}});
    }
    if (!result.error.empty()) {
      log::warn("retention stopped", {{"registry_id", registry}, {"error", result.error}});
    }
  }
  if (removed) planes_->registry.forgetCached();
}

http::Response Node::readiness() {
  // Less free space than this on the data file system counts as full.
  constexpr uint64_t kFullBelow = 1 << 20;
  boost::json::object checks;
  bool ready = true;
  auto check = [&](std::string_view name, std::string failure) {
    if (!failure.empty()) ready = false;
    checks[name] = failure.empty() ? boost::json::value("ok") : boost::json::value(failure);
  };
  check("shutdown", shuttingDown_ ? "shutting down" : "");
  auto usage = stores_.meta->usage(stores_.defaultRegistry);
  check("metadata", usage ? "" : "the metadata store does not answer: " + usage.error().detail);
  std::string storage;
  if (auto registries = stores_.identities->listRegistries(); !registries) {
    storage = "registries cannot be listed: " + registries.error().detail;
  } else {
    for (const auto& r : *registries) {
      auto blobs = planes_->tenancy.blobsOf(r);
      auto answered = blobs ? (*blobs)->check() : Result<void>(blobs.takeError());
      if (!answered) {
        storage = "the blob store of registry " + r.name + " does not answer";
        break;
      }
    }
  }
  check("storage", storage);
  struct statvfs fs {};
  std::string disk;
  if (::statvfs(dataDir_.c_str(), &fs) != 0) {
    disk = "the data directory cannot be examined";
  } else if (static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < kFullBelow) {
    disk = "the file system of the data directory is full";
  }
  check("disk", disk);
  boost::json::object body{{"status", ready ? "ready" : "not ready"},
                           {"checks", std::move(checks)}};
  return http::Response::json(ready ? 200 : 503, boost::json::serialize(body));
}

std::optional<http::Response> Node::management(http::Request& request) {
  const std::string_view path = request.path;
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") return std::nullopt;
  request.plane = "management";
  // A static string, as the metrics keep it.
  request.route = path == "/healthz" ? "/healthz" : path == "/readyz" ? "/readyz" : "/metrics";
  if (request.method != http::Method::Get && request.method != http::Method::Head) {
    auto refused = http::Response::error(makeError(ApiCode::Unsupported, "use GET", 405));
    refused.headers.add("Allow", "GET, HEAD");
    return refused;
  }
  if (path == "/healthz") return http::Response::json(200, R"({"status":"ok"})");
  if (path == "/readyz") return readiness();
  if (!metrics::enabled()) {
    return http::Response::error(makeError(ApiCode::NotFound, "metrics are turned off"));
  }
  http::Response resp;
  resp.headers.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  resp.body = metrics::exposition();
  return resp;
}

http::Dispatch Node::dispatch(http::Request& request) {
  const std::string_view path = request.path;
  if (path.starts_with("/v2")) return planes_->registry.dispatch(request);
  if (path.starts_with("/oauth2/")) return planes_->tokens.dispatch(request);
  if (path.starts_with("/api/")) return planes_->control.dispatch(request);
  // /metrics is the management host's: a registry's login server has no such path.
  if (path != "/metrics" || (metricsHere_ && !planes_->tenancy.registryOfHost(request.host()))) {
    if (auto answer = management(request)) return http::Dispatch::reply(std::move(*answer));
  }
  // The portal is the management host's: a registry's login server serves the registry only.
  if (portal_ && portal::isPortalPath(path) && !planes_->tenancy.registryOfHost(request.host())) {
    request.plane = "portal";
    request.route = path.starts_with("/portal/") ? "/portal/{file}" : "/";
    return http::Dispatch::reply(portal::serve(request));
  }
  return planes_->registry.dispatch(request);
}

void Node::completed(const http::Exchange& exchange) {
  requestMetrics_->record(exchange);
  if (!exchange.request.auditAction.empty()) audit(exchange);
}

void Node::audit(const http::Exchange& exchange) {
  const auto& req = exchange.request;
  meta::AuditRecord r;
  r.registry = req.registry;
  r.identity = req.identity;
  r.source = http::clientAddress(req.remote);
  r.userAgent = std::string(req.header("User-Agent").value_or("")).substr(0, 256);
  r.action = std::string(req.auditAction);
  r.target = req.auditTarget;
  r.status = exchange.status;
  // 0: the answer never went out whole (the client left, the server was stopping).
  r.outcome = exchange.status > 0 && exchange.status < 400 ? "success" : "failure";
  r.requestId = req.requestId;
  audit_->record(std::move(r));
}

http::Dispatch ManagementListener::dispatch(http::Request& request) {
  if (auto answer = node_.management(request)) return http::Dispatch::reply(std::move(*answer));
  return http::Dispatch::reply(http::Response::error(makeError(ApiCode::NotFound,
                                                               "this listener serves /metrics, "
                                                               "/healthz and /readyz only")));
}

}  // namespace berth::app
