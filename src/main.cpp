// berth: a private container registry. `berth serve` runs the registry.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "app/node.hpp"
#include "cli/admin.hpp"
#include "cli/client/commands.hpp"
#include "cli/client/http.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/version.hpp"
#include "http/server.hpp"
#include "storage/blob_cache.hpp"
#include "storage/fs/hash_pool.hpp"

namespace {

std::optional<berth::log::Level> parseLevel(const std::string& name) {
  using berth::log::Level;
  if (name == "debug") return Level::Debug;
  if (name == "info") return Level::Info;
  if (name == "warn") return Level::Warn;
  if (name == "error") return Level::Error;
  return std::nullopt;
}

int fatal(const std::string& message) {
  std::cerr << "berth: " << message << "\n";
  return 1;
}

// Every connection and every cached open blob takes a descriptor: allow as many as the system
// lets this process have, and returns that number.
uint64_t raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

// Descriptors kept for what is not a connection: the database, open blobs, uploads, logs.
constexpr uint64_t kDescriptorsBesidesConnections = 512;

struct ServeFlags {
  std::string configFile;
  berth::ServeConfig values;
  bool printConfig = false;
  bool reference = false;
};

// One option per key of the configuration table that has a flag.
void addConfigFlags(CLI::App& cmd, berth::ServeConfig& values) {
  const berth::ServeConfig defaults;
  for (const auto& key : berth::configKeys()) {
    if (key.flag.empty()) continue;
    std::visit(
        [&](auto member) {
          auto* option =
              cmd.add_option(std::string(key.flag), values.*member, std::string(key.description));
          if (key.existingFile) {
            option->check(CLI::ExistingFile);
          } else {
            option->default_val(defaults.*member);
          }
        },
        key.field);
  }
}

int serve(const ServeFlags& flags, CLI::App& cmd) {
  if (flags.reference) {
    std::cout << berth::configReference();
    return 0;
  }
  berth::ServeConfig config;
  if (!flags.configFile.empty()) {
    auto loaded = berth::loadConfigFile(flags.configFile);
    if (!loaded) return fatal(loaded.error().detail);
    config = *loaded;
  }
  // Flags given on the command line win over the file.
  for (const auto& key : berth::configKeys()) {
    if (key.flag.empty() || cmd.count(std::string(key.flag)) == 0) continue;
    std::visit([&](auto member) { config.*member = flags.values.*member; }, key.field);
  }
  if (config.tlsCert.empty() != config.tlsKey.empty()) {
    return fatal("--tls-cert and --tls-key go together");
  }
  if (flags.printConfig) {
    std::cout << berth::configJson(config);
    return 0;
  }

  auto level = parseLevel(config.logLevel);
  if (!level) return fatal("unknown log level \"" + config.logLevel + "\"");
  berth::log::setLevel(*level);
  auto address = berth::parseHostPort(config.listen);
  if (!address) return fatal(address.error().detail);

  berth::app::NodeOptions options;
  options.dataDir = config.dataDir;
  options.metadata.url = config.metadata;
  options.metadata.connections = config.metadataConnections;
  options.metadata.statementTimeout = std::chrono::seconds(config.metadataStatementTimeoutSeconds);
  options.manifestCacheEntries = config.manifestCacheEntries;
  options.auth.tokenLifetime = std::chrono::seconds(config.tokenLifetimeSeconds);
  const std::string domain =
      config.domain.empty() ? "localhost:" + std::to_string(address->port) : config.domain;
  options.domain = domain;
  options.operatorTokenFile = config.operatorTokenFile;
  options.secretKeyFile = config.secretKeyFile;
  if (const char* key = std::getenv("BERTH_SECRET_KEY"); key && *key) options.secretKey = key;
  options.diskReserveBytes = config.diskReserveBytes;
  options.storage = config.storage;
  options.store.openBlobs = config.openBlobCacheEntries;
  options.store.objects.partSize = config.storagePartSize;
  options.store.objects.spoolDir = std::filesystem::path(config.dataDir) / "spool";
  options.store.objects.http.caFile = config.storageCaFile;
  options.store.objects.http.idleHandles = config.storageIdleConnections;
  if (config.storageCacheBytes > 0) {
    auto cache = berth::storage::BlobCache::open(std::filesystem::path(config.dataDir) / "cache",
                                                 config.storageCacheBytes,
                                                 config.diskReserveBytes + (1ull << 30));
    if (!cache) return fatal(cache.error().detail);
    options.store.objects.cache = std::move(*cache);
  }
  options.store.credentials = {config.awsAccessKeyId, config.awsSecretAccessKey,
                               config.awsSessionToken, config.azureStorageKey,
                               config.azureStorageSasToken};
  options.gcInterval = std::chrono::seconds(config.gcIntervalSeconds);
  options.gc.grace = std::chrono::seconds(config.gcGraceSeconds);
  options.gc.uploadExpiry = std::chrono::seconds(config.uploadExpirySeconds);
  options.tagHistoryDays = config.tagHistoryDays;
  options.lifecycleInterval = std::chrono::seconds(config.lifecycleIntervalSeconds);
  options.metricsHere = config.metricsListen.empty();
  options.metricsRegistryLabel = config.metricsRegistryLabel;
  options.webhooks.senders = config.webhookSenders;
  options.webhooks.timeout = std::chrono::seconds(config.webhookTimeoutSeconds);
  options.webhooks.retryFor = std::chrono::seconds(config.webhookRetrySeconds);
  options.webhooks.backoffCap = std::chrono::seconds(config.webhookBackoffMaxSeconds);
  options.webhooks.allowLoopback = config.webhookAllowLoopback;
  options.webhooks.caFile = config.webhookCaFile;
  options.audit.file = config.auditLog;
  options.audit.keep = std::chrono::hours(24) * config.auditRetentionDays;
  options.audit.queue = config.auditQueue;
  options.sessions.lifetimeSeconds = config.sessionLifetimeSeconds;
  options.sessions.max = config.sessionsMax;
  options.sessions.perIdentity = config.sessionsPerIdentity;
  options.portal = config.portal;
  options.oidc.keysLifetime = std::chrono::seconds(config.oidcKeysLifetimeSeconds);
  options.oidc.unknownKeyRefetch = std::chrono::seconds(config.oidcUnknownKeyRefetchSeconds);
  options.oidc.allowHttp = config.oidcAllowHttp;
  options.oidcCaFile = config.oidcCaFile;
  for (size_t start = 0; start < config.upstreamInsecureRegistries.size();) {
    auto comma = config.upstreamInsecureRegistries.find(',', start);
    if (comma == std::string::npos) comma = config.upstreamInsecureRegistries.size();
    auto host = config.upstreamInsecureRegistries.substr(start, comma - start);
    host.erase(0, host.find_first_not_of(' '));
    host.erase(host.find_last_not_of(' ') + 1);
    if (!host.empty()) options.upstream.insecureRegistries.push_back(host);
    start = comma + 1;
  }
  options.upstream.http.caFile = config.upstreamCaFile;
  options.upstreamAllowLoopback = config.upstreamAllowLoopback;
  options.imports.workers = config.importWorkers;
  options.imports.queue = config.importQueue;
  options.cache.tagTtl = std::chrono::seconds(config.cacheTagTtlSeconds);
  options.cache.fetches = config.cacheFetches;
  options.replication.workers = config.replicationWorkers;
  options.replication.queue = config.replicationQueue;
  options.replication.backoffCap = std::chrono::seconds(config.replicationBackoffCapSeconds);
  options.replication.retryFor = std::chrono::hours(config.replicationRetryHours);
  berth::metrics::setEnabled(config.metrics);
  berth::storage::HashPool::configure(config.uploadHashThreads);
  std::optional<berth::HostPort> metricsAddress;
  if (!config.metricsListen.empty()) {
    auto parsed = berth::parseHostPort(config.metricsListen);
    if (!parsed) return fatal("metrics_listen: " + parsed.error().detail);
    metricsAddress = *parsed;
  }
  auto app = berth::app::Node::open(std::move(options));
  if (!app) {
    return fatal(app.error().detail.empty() ? "cannot open data directory" : app.error().detail);
  }

  const uint64_t descriptors = raiseDescriptorLimit();
  uint32_t maxConnections = config.maxConnections;
  if (descriptors < maxConnections + kDescriptorsBesidesConnections) {
    // More connections than descriptors would end in failed accepts and failed opens.
    maxConnections = static_cast<uint32_t>(descriptors > 2 * kDescriptorsBesidesConnections
                                               ? descriptors - kDescriptorsBesidesConnections
                                               : descriptors / 2);
    berth::log::warn("max_connections lowered to fit the descriptor limit",
                     {{"max_connections", maxConnections}, {"descriptor_limit", descriptors}});
  }
  berth::http::ServerOptions serverOptions;
  serverOptions.maxConnections = maxConnections;
  serverOptions.maxConnectionsPerClient = config.maxConnectionsPerClient;
  serverOptions.minTransferRate = config.minTransferRate;
  serverOptions.headerLimit = config.maxHeaderBytes;
  serverOptions.host = address->host;
  serverOptions.port = address->port;
  serverOptions.threads = config.threads;
  serverOptions.blockingThreads = config.blockingThreads;
  serverOptions.blockingQueue = config.blockingQueue;
  serverOptions.streamThreads = config.streamThreads;
  serverOptions.idleTimeout = std::chrono::seconds(config.idleTimeoutSeconds);
  serverOptions.shutdownDelay = std::chrono::seconds(config.shutdownDelaySeconds);
  serverOptions.tlsCert = config.tlsCert;
  serverOptions.tlsKey = config.tlsKey;
  berth::http::Server server(serverOptions, **app);
  try {
    server.bind();
  } catch (const std::exception& e) {
    return fatal("cannot listen on " + config.listen + ": " + e.what());
  }
  const berth::metrics::Source connections([&server](auto& families) {
    const auto stats = server.stats();
    auto open = berth::metrics::gaugeFamily("berth_connections_open", "Client connections open.");
    berth::metrics::addValue(open, static_cast<double>(stats.open));
    auto accepted = berth::metrics::counterFamily("berth_connections_accepted_total",
                                                  "Client connections admitted.");
    berth::metrics::addValue(accepted, static_cast<double>(stats.accepted));
    auto refused = berth::metrics::counterFamily("berth_connections_refused_total",
                                                 "Client connections refused at max_connections or "
                                                 "max_connections_per_client.");
    berth::metrics::addValue(refused, static_cast<double>(stats.refused));
    auto pools = berth::metrics::gaugeFamily(
        "berth_pool_requests",
        "Requests holding a place on a pool of the server's threads now (running or queued): "
        "blocking (store calls), stream (downloads streamed from a store).");
    berth::metrics::addValue(pools, static_cast<double>(stats.blockingInUse),
                             {{"pool", "blocking"}});
    berth::metrics::addValue(pools, static_cast<double>(stats.streamsInUse), {{"pool", "stream"}});
    auto busy = berth::metrics::counterFamily(
        "berth_pool_refused_total",
        "Requests answered 503 because the pool they needed was full (blocking_queue).");
    berth::metrics::addValue(busy, static_cast<double>(stats.poolRefused));
    families.push_back(std::move(open));
    families.push_back(std::move(accepted));
    families.push_back(std::move(refused));
    families.push_back(std::move(pools));
    families.push_back(std::move(busy));
  });

  // metrics_listen: a second, small server for the scraper and the health checks.
  berth::app::ManagementListener management(**app);
  std::unique_ptr<berth::http::Server> metricsServer;
  std::jthread metricsThread;
  if (metricsAddress) {
    berth::http::ServerOptions o;
    o.host = metricsAddress->host;
    o.port = metricsAddress->port;
    o.threads = 1;
    o.maxConnections = 64;
    o.maxConnectionsPerClient = 16;
    o.idleTimeout = serverOptions.idleTimeout;
    metricsServer = std::make_unique<berth::http::Server>(o, management);
    try {
      metricsServer->bind();
    } catch (const std::exception& e) {
      return fatal("cannot listen on " + config.metricsListen + ": " + e.what());
    }
    metricsThread = std::jthread([&metricsServer] { metricsServer->run(false); });
  }
  berth::log::info("berth serving", {{"data", config.dataDir},
                                     {"domain", domain},
                                     {"version", berth::version()},
                                     {"commit", berth::commit()}});
  server.run();
  if (metricsServer) {
    metricsServer->stop();
    metricsThread.join();
  }
  return 0;
}

// berth probe: what a container's HEALTHCHECK or a Kubernetes exec probe runs, where no curl is.
int probe(const std::string& url) {
  try {
    berth::cli::client::HttpClient client;
    berth::cli::client::HttpRequest request;
    request.url = url;
    const auto response = client.send(request);
    if (response.status == 200) return 0;
    std::string body = response.body.substr(0, 300);
    std::replace(body.begin(), body.end(), '\n', ' ');
    std::cerr << "berth: " << url << " answered " << response.status << ": " << body << "\n";
  } catch (const std::exception& e) {
    std::cerr << "berth: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth: a private container registry"};
  app.set_version_flag("--version", berth::versionLine());
  app.require_subcommand(1);

  auto* serveCmd = app.add_subcommand("serve", "Run the registry server");
  ServeFlags flags;
  serveCmd
      ->add_option("--config", flags.configFile,
                   "JSON configuration file; flags override it (docs/configuration.md)")
      ->check(CLI::ExistingFile);
  serveCmd->add_flag("--print-config", flags.printConfig,
                     "Print the configuration in effect, as JSON (secrets redacted), and exit");
  serveCmd->add_flag("--config-reference", flags.reference,
                     "Print the reference of every configuration key and flag, in Markdown, "
                     "and exit");
  addConfigFlags(*serveCmd, flags.values);

  auto* probeCmd = app.add_subcommand(
      "probe", "Exit 0 when the server's readiness endpoint answers 200 (for health checks)");
  std::string probeUrl = "http://127.0.0.1:5000/readyz";
  probeCmd->add_option("--url", probeUrl, "The URL to GET")->capture_default_str();

  std::function<int()> adminAction;
  berth::cli::addAdminCommands(app, adminAction);
  std::function<int()> clientAction;
  berth::cli::addClientCommands(app, clientAction);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serveCmd->parsed()) return serve(flags, *serveCmd);
  // Commands other than the server speak through their output and one line of error: the
  // stores' own log lines (on stderr, as JSON) are the server's.
  berth::log::setLevel(berth::log::Level::Off);
  if (probeCmd->parsed()) return probe(probeUrl);
  if (adminAction) return berth::cli::runCommand(adminAction);
  if (clientAction) return berth::cli::runCommand(clientAction);
  return 0;
}
