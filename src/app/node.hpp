#pragma once
// The composition root: opens the stores of a data directory and wires the planes of one
// berth process: data plane /v2, auth plane /oauth2, control plane /api/v1, and /healthz.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "app/request_metrics.hpp"
#include "auth/authenticator.hpp"
#include "auth/oidc.hpp"
#include "control/app.hpp"
#include "core/disk_reserve.hpp"
#include "events/audit.hpp"
#include "events/secret_box.hpp"
#include "events/webhooks.hpp"
#include "http/message.hpp"
#include "jobs/gc.hpp"
#include "meta/event_store.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/upstream_store.hpp"
#include "storage/open_store.hpp"
#include "upstream/cache.hpp"
#include "upstream/import_runner.hpp"
#include "upstream/replicator.hpp"

namespace berth::app {

inline constexpr std::string_view kDefaultRegistry = "default";

inline constexpr uint64_t kDefaultDiskReserveBytes = 64ull << 20;

// Where the metadata lives: SQLite in the data directory, or a PostgreSQL database many nodes
// share.
struct MetadataOptions {
  std::string url;  // empty: SQLite at <data>/berth.db
  size_t connections = 16;
  std::chrono::seconds statementTimeout{30};
};

// The stores of one data directory, shared by the server and `berth admin`.
struct Stores {
  meta::MetadataStorePtr meta;
  meta::IdentityStorePtr identities;
  meta::EventStorePtr events;
  meta::UpstreamStorePtr upstreams;
  meta::RegistryId defaultRegistry = 0;
  // <data>/reserve: room kept for deleting and starting on a full disk.
  std::shared_ptr<DiskReserve> reserve;

  static Result<Stores> open(const std::filesystem::path& dataDir,
                             uint64_t diskReserveBytes = kDefaultDiskReserveBytes,
                             const MetadataOptions& metadata = {});
};

struct NodeOptions {
  std::filesystem::path dataDir;
  MetadataOptions metadata;
  size_t manifestCacheEntries = 4096;
  auth::AuthOptions auth;
  // Registry <name> answers at <name>.<domain>; other hosts reach the default registry.
  std::string domain = "localhost";
  // Holds the operator token of the control API; created when missing. Empty:
  // <data>/operator-token.
  std::filesystem::path operatorTokenFile;
  // Seals secrets in the metadata; created when missing. Empty: <data>/secret.key. Nodes that
  // share a metadata database share it.
  std::filesystem::path secretKeyFile;
  // The key itself (base64), instead of a file: BERTH_SECRET_KEY in containers.
  std::string secretKey;
  uint64_t diskReserveBytes = kDefaultDiskReserveBytes;
  // Where registries keep their blobs (a store URL; empty: <data>/registries), and how.
  std::string storage;
  storage::StoreOptions store;
  // How often background upkeep runs (putting the disk reserve back once space is free).
  std::chrono::seconds upkeepInterval{30};
  // Garbage collection: a pass over every registry this often (0: none); the first pass after
  // start, and one a day, also sweep the blob stores for orphaned files.
  std::chrono::seconds gcInterval{60};
  jobs::GcOptions gc;
  // Purge schedules and the retention policy: due schedules run at this interval; retention,
  // and forgetting tag history older than tagHistoryDays, once an hour.
  std::chrono::seconds lifecycleInterval{30};
  uint32_t tagHistoryDays = 90;
  // /metrics on the management host of this listener (off when another listener serves it);
  // request metrics labelled with the registry too (one series per registry).
  bool metricsHere = true;
  bool metricsRegistryLabel = false;
  events::WebhookOptions webhooks;
  events::AuditOptions audit;
  control::SessionOptions sessions;
  // The web portal at / on the management host.
  bool portal = true;
  // OpenID Connect issuers of federated credentials, and the CAs of their HTTPS.
  auth::OidcOptions oidc;
  std::string oidcCaFile;
  // Other registries: how berth reaches them (imports), and the import workers.
  upstream::ClientOptions upstream;
  bool upstreamAllowLoopback = false;
  upstream::ImportRunnerOptions imports;
  upstream::CacheOptions cache;  // the pull-through cache (its spool: DATA/spool/cache)
  upstream::ReplicationOptions replication;
};

class Node final : public http::Application {
 public:
  static Result<std::unique_ptr<Node>> open(NodeOptions options);
  ~Node() override;

  http::Dispatch dispatch(http::Request& request) override;
  void completed(const http::Exchange& exchange) override;
  // Readiness turns false: a load balancer should send no new requests.
  void beginShutdown() override { shuttingDown_ = true; }
  // /metrics, /healthz and /readyz, for a listener that serves nothing else; nullopt for
  // other paths.
  std::optional<http::Response> management(http::Request& request);

  struct Planes;

 private:
  Node(Stores stores, std::unique_ptr<Planes> planes);
  void audit(const http::Exchange& exchange);
  // GET /readyz: the metadata store and every blob store answer, the data disk has room, and
  // no shutdown has begun; 503 naming what failed otherwise.
  http::Response readiness();
  void startUpkeep(std::chrono::seconds interval);
  void startGc(std::chrono::seconds interval, jobs::GcOptions options);
  void collectGarbage(const jobs::GcOptions& options);
  meta::JobLease lead(std::string_view job);
  void startLifecycle(std::chrono::seconds interval, uint32_t tagHistoryDays);
  void runPurgeSchedules(const std::function<bool()>& stopping);
  void applyRetention(const std::function<bool()>& stopping);
  Stores stores_;
  std::unique_ptr<Planes> planes_;
  std::filesystem::path dataDir_;
  std::atomic<bool> shuttingDown_{false};
  bool metricsHere_ = true;
  bool portal_ = true;
  std::unique_ptr<RequestMetrics> requestMetrics_;
  // <data>/secret.key: seals webhook secrets in the database.
  std::unique_ptr<events::SecretBox> secrets_;
  std::unique_ptr<events::WebhookDispatcher> webhooks_;
  std::unique_ptr<events::AuditLog> audit_;
  // Background work, off the request threads, one thread each; stopped and joined before the
  // stores close.
  std::jthread upkeep_;
  std::jthread gc_;
  std::jthread lifecycle_;
};

// The application of a listener that serves only /metrics, /healthz and /readyz
// (metrics_listen).
class ManagementListener final : public http::Application {
 public:
  explicit ManagementListener(Node& node) : node_(node) {}
  http::Dispatch dispatch(http::Request& request) override;

 private:
  Node& node_;
};

}  // namespace berth::app
