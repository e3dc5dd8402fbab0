#pragma once
// The server's settings: defaults, then a JSON config file, then command-line flags.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "core/result.hpp"

namespace berth {

struct ServeConfig {
  std::string listen = "127.0.0.1:5000";
  std::string dataDir = "./data";
  // Where the metadata lives: empty for SQLite in the data directory, or a PostgreSQL URL.
  std::string metadata;
  uint32_t metadataConnections = 16;
  uint32_t metadataStatementTimeoutSeconds = 30;
  std::string logLevel = "info";
  uint32_t threads = 0;  // 0: one per core
  uint32_t idleTimeoutSeconds = 60;
  uint32_t manifestCacheEntries = 4096;
  // Blobs each registry keeps open after a read, for the next one (a descriptor each).
  uint32_t openBlobCacheEntries = 256;
  uint32_t tokenLifetimeSeconds = 300;
  std::string tlsCert;  // PEM files; both set: the listener serves HTTPS
  std::string tlsKey;
  // Registry <name> answers at <name>.<domain> (the domain may end in the port clients use).
  // Empty: "localhost:<listen port>".
  std::string domain;
  std::string operatorTokenFile;  // empty: <data>/operator-token
  std::string secretKeyFile;      // empty: <data>/secret.key
  // Space kept free on the data file system for deleting and starting up when it is full.
  uint64_t diskReserveBytes = 64ull << 20;
  // Open connections at most, in all and from one client address (0: no per-client limit);
  // beyond them a connection is answered 503 and closed.
  uint32_t maxConnections = 10000;
  uint32_t maxConnectionsPerClient = 512;
  // A request body or a download slower than this (bytes per second, averaged from the start)
  // is cut off once idle_timeout_seconds have passed; 0: no minimum.
  uint32_t minTransferRate = 1024;
  // The request line and header fields together; a larger head is answered 431.
  uint32_t maxHeaderBytes = 16 * 1024;
  // Garbage collection: a pass over every registry this often (0: never; `berth admin gc`
  // runs one by hand); unreferenced blobs are kept this long after their last use; upload
  // sessions nothing writes to are removed after this long.
  uint32_t gcIntervalSeconds = 60;
  uint32_t gcGraceSeconds = 3600;
  uint32_t uploadExpirySeconds = 86400;
  // After SIGTERM, how long /readyz answers 503 while requests are still served, before the
  // listener closes.
  uint32_t shutdownDelaySeconds = 0;
  // How often due purge schedules are looked for (retention runs hourly).
  uint32_t lifecycleIntervalSeconds = 30;
  // Changes of tags are kept this long (berth repository tag-history).
  uint32_t tagHistoryDays = 90;
  // Prometheus metrics at /metrics; on another address than `listen` when metricsListen is
  // set; request series labelled with the registry when metricsRegistryLabel is.
  bool metrics = true;
  // Threads that hash uploads beside the network threads (0: each request hashes as it writes).
  uint32_t uploadHashThreads = 1;
  // The server's pool for store calls that may block, and the requests that may queue for it.
  uint32_t blockingThreads = 16;
  uint32_t blockingQueue = 256;
  // Threads that stream blob downloads from object stores, one per download in progress.
  uint32_t streamThreads = 128;
  // Where registries keep their blobs, as a store URL; empty: file://<data>/registries.
  std::string storage;
  uint32_t storagePartSize = 16 << 20;
  uint32_t storageIdleConnections = 32;
  uint64_t storageCacheBytes = 4ull << 30;
  std::string storageCaFile;
  std::string awsAccessKeyId;
  std::string awsSecretAccessKey;
  std::string awsSessionToken;
  std::string azureStorageKey;
  std::string azureStorageSasToken;
  std::string metricsListen;
  bool metricsRegistryLabel = false;
  // Webhook delivery: attempts in flight at once, the bound of one attempt, how long a
  // delivery is tried again, the longest wait between attempts, and whether service URIs on
  // loopback and link-local addresses are allowed.
  uint32_t webhookSenders = 8;
  uint32_t webhookTimeoutSeconds = 10;
  uint32_t webhookRetrySeconds = 86400;
  uint32_t webhookBackoffMaxSeconds = 300;
  bool webhookAllowLoopback = false;
  std::string webhookCaFile;
  // The audit log: exported as JSON lines ("": not exported; "-": stderr), kept this long in
  // the database, and the records that may wait to be written.
  std::string auditLog;
  uint32_t auditRetentionDays = 90;
  uint32_t auditQueue = 10000;
  // The portal: served on the management host; its sign-in sessions last this long, and at
  // most this many are kept (the oldest end first).
  bool portal = true;
  uint32_t sessionLifetimeSeconds = 8 * 3600;
  uint32_t sessionsMax = 10000;
  uint32_t sessionsPerIdentity = 10;
  // OpenID Connect issuers of federated credentials (/oauth2/exchange): how long their keys
  // are kept, how often an unknown key id fetches them again, the CAs of their HTTPS, and
  // whether plain http is allowed.
  uint32_t oidcKeysLifetimeSeconds = 3600;
  uint32_t oidcUnknownKeyRefetchSeconds = 30;
  std::string oidcCaFile;
  bool oidcAllowHttp = false;
  // Other registries berth reads from (imports): those reached over plain HTTP, the CAs of
  // their HTTPS, whether loopback and link-local addresses may be reached, and the import
  // workers and their queue.
  std::string upstreamInsecureRegistries;
  std::string upstreamCaFile;
  bool upstreamAllowLoopback = false;
  uint32_t importWorkers = 2;
  uint32_t importQueue = 100;
  // The pull-through cache: how long a cached tag is served before it is checked with the
  // upstream, and how many blobs are fetched from upstreams at once.
  uint32_t cacheTagTtlSeconds = 300;
  uint32_t cacheFetches = 32;
  // Replication: workers, the queue per replication, the retries' backoff and how long a change
  // is tried.
  uint32_t replicationWorkers = 4;
  uint32_t replicationQueue = 100000;
  uint32_t replicationBackoffCapSeconds = 300;
  uint32_t replicationRetryHours = 168;
};

// One setting: its key in the config file, its command-line flag if it has one, and where it
// lives in ServeConfig. The table is the reference: loading, flags, --print-config and
// docs/configuration.md all come from it.
struct ConfigKey {
  using Field = std::variant<std::string ServeConfig::*, uint32_t ServeConfig::*,
                             uint64_t ServeConfig::*, bool ServeConfig::*>;
  std::string_view key;
  std::string_view flag;  // "--listen", or empty
  std::string_view description;
  Field field;
  uint64_t minimum = 0;       // numbers below it are refused
  bool secret = false;        // shown as "<redacted>" by --print-config
  bool existingFile = false;  // a path that must name an existing file
};
std::span<const ConfigKey> configKeys();

// Reads a JSON object such as {"listen": "0.0.0.0:5000", "data": "/var/lib/berth"}.
// Unknown keys are an error, so that a typo does not pass silently.
Result<ServeConfig> loadConfigFile(const std::string& path, ServeConfig base = {});

// Every key of `config` with its value as a JSON object (what --print-config prints); secret
// values that are set are replaced by "<redacted>".
std::string configJson(const ServeConfig& config, std::span<const ConfigKey> keys = configKeys());

// The configuration reference in Markdown (docs/configuration.md).
std::string configReference();

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
Result<HostPort> parseHostPort(const std::string& text);

}  // namespace berth
