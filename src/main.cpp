// berth: a private container registry. `berth serve` runs the registry.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/node.hpp"
#include "cli/admin.hpp"
#include "cli/client/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/version.hpp"
#include "http/server.hpp"

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

int serve(const std::string& configFile, const berth::ServeConfig& flags, CLI::App& cmd) {
  berth::ServeConfig config;
  if (!configFile.empty()) {
    auto loaded = berth::loadConfigFile(configFile);
    if (!loaded) return fatal(loaded.error().detail);
    config = *loaded;
  }
  // Flags given on the command line win over the file.
  if (cmd.count("--listen")) config.listen = flags.listen;
  if (cmd.count("--data")) config.dataDir = flags.dataDir;
  if (cmd.count("--log-level")) config.logLevel = flags.logLevel;
  if (cmd.count("--threads")) config.threads = flags.threads;
  if (cmd.count("--token-lifetime")) config.tokenLifetimeSeconds = flags.tokenLifetimeSeconds;
  if (cmd.count("--tls-cert")) config.tlsCert = flags.tlsCert;
  if (cmd.count("--tls-key")) config.tlsKey = flags.tlsKey;
  if (cmd.count("--domain")) config.domain = flags.domain;
  if (cmd.count("--operator-token-file")) config.operatorTokenFile = flags.operatorTokenFile;
  if (config.tlsCert.empty() != config.tlsKey.empty()) {
    return fatal("--tls-cert and --tls-key go together");
  }

  auto level = parseLevel(config.logLevel);
  if (!level) return fatal("unknown log level \"" + config.logLevel + "\"");
  berth::log::setLevel(*level);
  auto address = berth::parseHostPort(config.listen);
  if (!address) return fatal(address.error().detail);

  berth::app::NodeOptions options;
  options.dataDir = config.dataDir;
  options.manifestCacheEntries = config.manifestCacheEntries;
  options.auth.tokenLifetime = std::chrono::seconds(config.tokenLifetimeSeconds);
  const std::string domain =
      config.domain.empty() ? "localhost:" + std::to_string(address->port) : config.domain;
  options.domain = domain;
  options.operatorTokenFile = config.operatorTokenFile;
  options.diskReserveBytes = config.diskReserveBytes;
  options.openBlobsPerRegistry = config.openBlobCacheEntries;
  options.gcInterval = std::chrono::seconds(config.gcIntervalSeconds);
  options.gc.grace = std::chrono::seconds(config.gcGraceSeconds);
  options.gc.uploadExpiry = std::chrono::seconds(config.uploadExpirySeconds);
  options.tagHistoryDays = config.tagHistoryDays;
  options.lifecycleInterval = std::chrono::seconds(config.lifecycleIntervalSeconds);
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
  berth::log::info("berth serving", {{"data", config.dataDir},
                                     {"domain", domain},
                                     {"version", berth::version()},
                                     {"commit", berth::commit()}});
  server.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth: a private container registry"};
  app.set_version_flag("--version", berth::versionLine());
  app.require_subcommand(1);

  auto* serveCmd = app.add_subcommand("serve", "Run the registry server");
  std::string configFile;
  berth::ServeConfig flags;
  serveCmd->add_option("--config", configFile, "JSON configuration file; flags override it")
      ->check(CLI::ExistingFile);
  serveCmd->add_option("--listen", flags.listen, "Address to listen on, HOST:PORT")
      ->capture_default_str();
  serveCmd->add_option("--data", flags.dataDir, "Data directory (metadata and blobs)")
      ->capture_default_str();
  serveCmd->add_option("--log-level", flags.logLevel, "debug, info, warn or error")
      ->capture_default_str();
  serveCmd->add_option("--threads", flags.threads, "Worker threads (0: one per core)")
      ->capture_default_str();
  serveCmd
      ->add_option("--token-lifetime", flags.tokenLifetimeSeconds,
                   "Lifetime of access tokens, in seconds")
      ->capture_default_str();
  serveCmd->add_option("--tls-cert", flags.tlsCert, "PEM certificate chain: serve HTTPS")
      ->check(CLI::ExistingFile);
  serveCmd->add_option("--tls-key", flags.tlsKey, "PEM private key of --tls-cert")
      ->check(CLI::ExistingFile);
  serveCmd->add_option("--domain", flags.domain,
                       "Serve registry NAME at NAME.DOMAIN (DOMAIN may end in :PORT, the port "
                       "clients use; default localhost:<listen port>); other hosts reach the "
                       "registry \"default\"");
  serveCmd->add_option("--operator-token-file", flags.operatorTokenFile,
                       "File with the control API's operator token; created with a fresh token "
                       "(mode 0600) when missing. Default: DATA/operator-token");

  std::function<int()> adminAction;
  berth::cli::addAdminCommands(app, adminAction);
  std::function<int()> clientAction;
  berth::cli::addClientCommands(app, clientAction);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serveCmd->parsed()) return serve(configFile, flags, *serveCmd);
  if (adminAction) return berth::cli::runCommand(adminAction);
  if (clientAction) return berth::cli::runCommand(clientAction);
  return 0;
}
