#include "core/config.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

namespace berth {
namespace {

Error configError(std::string detail) { return makeError(ApiCode::Unknown, std::move(detail)); }

constexpr ConfigKey kKeys[] = {
    {"listen", "--listen", "Address to listen on, HOST:PORT.", &ServeConfig::listen},
    {"data", "--data", "Data directory: the metadata database and the blobs.",
     &ServeConfig::dataDir},
    {"metadata", "--metadata",
     "Where the metadata lives (registries, repositories, tags, identities, events): empty for "
     "SQLite at DATA/berth.db, or postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=...] for "
     "PostgreSQL, which many nodes share (see README, Scale-out). The schema is created and "
     "migrated at start.",
     &ServeConfig::metadata, 0, true},
    {"metadata_connections", "",
     "PostgreSQL: connections each node keeps to read with, at most; writes use one more, and "
     "listening for other nodes' changes another.",
     &ServeConfig::metadataConnections, 1},
    {"metadata_statement_timeout_seconds", "",
     "PostgreSQL: a statement taking longer, or a wait for the writers' turn, fails with 503 "
     "instead of holding the request.",
     &ServeConfig::metadataStatementTimeoutSeconds, 1},
    {"log_level", "--log-level", "debug, info, warn or error.", &ServeConfig::logLevel},
    {"threads", "--threads", "Worker threads (0: one per core).", &ServeConfig::threads},
    {"idle_timeout_seconds", "",
     "A connection idle this long between requests, or a body stalled this long, is closed.",
     &ServeConfig::idleTimeoutSeconds, 1},
    {"manifest_cache_entries", "", "Manifests and tags the data plane keeps in memory.",
     &ServeConfig::manifestCacheEntries},
    {"open_blob_cache_entries", "",
     "Blobs each registry keeps open after a read, for the next one (a descriptor each).",
     &ServeConfig::openBlobCacheEntries},
    {"token_lifetime_seconds", "--token-lifetime", "Lifetime of access tokens, in seconds.",
     &ServeConfig::tokenLifetimeSeconds, 1},
    {"tls_cert", "--tls-cert",
     "PEM certificate chain: with tls_key set too, the listener serves HTTPS only.",
     &ServeConfig::tlsCert, 0, false, true},
    {"tls_key", "--tls-key", "PEM private key of tls_cert.", &ServeConfig::tlsKey, 0, false, true},
    {"domain", "--domain",
     "Serve registry NAME at NAME.DOMAIN (DOMAIN may end in :PORT, the port clients use); other "
     "hosts reach the registry \"default\". Empty: localhost and the port of listen.",
     &ServeConfig::domain},
    {"operator_token_file", "--operator-token-file",
     "File with the control API's operator token; created with a fresh token (mode 0600) when "
     "missing. Empty: DATA/operator-token.",
     &ServeConfig::operatorTokenFile},
    {"secret_key_file", "--secret-key-file",
     "File with the key that seals secrets in the metadata (webhook secrets, upstream "
     "passwords); created (mode 0600) when missing. Nodes sharing a metadata database must "
     "share it. Empty: DATA/secret.key. The environment variable BERTH_SECRET_KEY (the 32 bytes "
     "in base64, `head -c 32 /dev/urandom | base64`) takes its place, for containers.",
     &ServeConfig::secretKeyFile},
    {"disk_reserve_bytes", "",
     "Space kept free on the data file system for deleting and starting up when it is full.",
     &ServeConfig::diskReserveBytes},
    {"max_connections", "",
     "Open connections at most; beyond them a connection is answered 503 and closed.",
     &ServeConfig::maxConnections, 1},
    {"max_connections_per_client", "",
     "Open connections at most from one client address (0: no per-client limit).",
     &ServeConfig::maxConnectionsPerClient},
    {"min_transfer_rate", "",
     "Bytes per second a request body or a download must average once idle_timeout_seconds "
     "have passed, else it is cut off (0: no minimum).",
     &ServeConfig::minTransferRate},
    {"max_header_bytes", "",
     "The request line and header fields together; a larger head is answered 431.",
     &ServeConfig::maxHeaderBytes, 1024},
    {"gc_interval_seconds", "",
     "Garbage collection: a pass over every registry this often (0: never; `berth admin gc` "
     "runs one by hand).",
     &ServeConfig::gcIntervalSeconds},
    {"gc_grace_seconds", "", "Unreferenced blobs are kept this long after their last use.",
     &ServeConfig::gcGraceSeconds},
    {"upload_expiry_seconds", "", "Upload sessions nothing writes to are removed after this long.",
     &ServeConfig::uploadExpirySeconds, 1},
    {"shutdown_delay_seconds", "",
     "After SIGTERM, how long /readyz answers 503 while requests are still served, before the "
     "listener closes.",
     &ServeConfig::shutdownDelaySeconds},
    {"lifecycle_interval_seconds", "",
     "How often due purge schedules are looked for (retention runs hourly).",
     &ServeConfig::lifecycleIntervalSeconds, 1},
    {"tag_history_days", "", "Changes of tags are kept this long (berth repository tag-history).",
     &ServeConfig::tagHistoryDays, 1},
    {"upload_hash_threads", "",
     "Threads that compute uploads' SHA-256 beside the network threads, reading each upload's "
     "file just behind the request that writes it (0: each request hashes as it writes).",
     &ServeConfig::uploadHashThreads},
    {"storage", "--storage",
     "Where registries keep their blobs: file://PATH, s3://BUCKET[/PREFIX]?endpoint=URL&region=R&"
     "path_style=true|false or azblob://ACCOUNT/CONTAINER[/PREFIX]?endpoint=URL, with "
     "redirect=true to send blob downloads to the store. Each registry lives under "
     "<storage>/<name>. Empty: file://DATA/registries. Checked with one request at start.",
     &ServeConfig::storage},
    {"storage_part_size", "",
     "Object stores: uploads go to the store in parts of this many bytes (at least 5 MiB), "
     "gathered in DATA/spool.",
     &ServeConfig::storagePartSize, 5 << 20},
    {"storage_cache_bytes", "",
     "Object stores: blobs read whole are copied to DATA/cache, up to this many bytes in all "
     "(least recently read out first), and read again from there; a blob larger than a quarter "
     "of it is not copied, nor any while the data file system has less than 1 GiB free beyond "
     "disk_reserve_bytes (0: no copies).",
     &ServeConfig::storageCacheBytes},
    {"storage_idle_connections", "",
     "Object stores: connections to each store kept open between requests for reuse (each also "
     "holds two local sockets of libcurl's); more may be open while requests run, one per "
     "store call in progress.",
     &ServeConfig::storageIdleConnections},
    {"storage_ca_file", "",
     "Object stores on HTTPS: a PEM file of the certificates to trust (a private CA's); else, "
     "for S3, AWS_CA_BUNDLE; else the system's.",
     &ServeConfig::storageCaFile},
    {"aws_access_key_id", "", "S3: the access key (else AWS_ACCESS_KEY_ID).",
     &ServeConfig::awsAccessKeyId},
    {"aws_secret_access_key", "", "S3: the secret key (else AWS_SECRET_ACCESS_KEY).",
     &ServeConfig::awsSecretAccessKey, 0, true},
    {"aws_session_token", "",
     "S3: a session token of temporary credentials (else "
     "AWS_SESSION_TOKEN).",
     &ServeConfig::awsSessionToken, 0, true},
    {"azure_storage_key", "",
     "Azure Blob: the account key, for Shared Key (else "
     "AZURE_STORAGE_KEY).",
     &ServeConfig::azureStorageKey, 0, true},
    {"azure_storage_sas_token", "",
     "Azure Blob: a SAS token instead of the key (else AZURE_STORAGE_SAS_TOKEN).",
     &ServeConfig::azureStorageSasToken, 0, true},
    {"blocking_threads", "",
     "Threads that run requests' calls to storage that may block (object stores), so that a "
     "slow store never stalls a network thread; started on first use.",
     &ServeConfig::blockingThreads, 1},
    {"blocking_queue", "",
     "Requests that may wait for a blocking thread beyond those running; any more are answered "
     "503 with Retry-After.",
     &ServeConfig::blockingQueue},
    {"stream_threads", "",
     "Threads that stream blob downloads from object stores to clients, one per download in "
     "progress for as long as its client takes to read it (each holds about 1 MiB of "
     "buffers); a pool apart from blocking_threads, so that slow readers never delay uploads. "
     "Downloads beyond these wait in a queue of blocking_queue.",
     &ServeConfig::streamThreads, 1},
    {"metrics", "", "Prometheus metrics: recorded, and served at /metrics (false: neither).",
     &ServeConfig::metrics},
    {"metrics_listen", "",
     "HOST:PORT of a second listener that serves /metrics, /healthz and /readyz only; when set, "
     "the main listener does not serve /metrics. Empty: /metrics on the main listener's "
     "management host.",
     &ServeConfig::metricsListen},
    {"metrics_registry_label", "",
     "Label request metrics with the registry too: one series per registry and route.",
     &ServeConfig::metricsRegistryLabel},
    {"webhook_senders", "",
     "Webhook deliveries in flight at once (one at a time per webhook, so that a slow "
     "receiver holds one sender only).",
     &ServeConfig::webhookSenders, 1},
    {"webhook_timeout_seconds", "",
     "One delivery attempt, from connecting to the last byte of the answer.",
     &ServeConfig::webhookTimeoutSeconds, 1},
    {"webhook_retry_seconds", "",
     "A delivery that gets no answer, 408, 429 or 5xx is tried again, with exponential backoff "
     "and jitter, until this long after the event; then it is marked failed.",
     &ServeConfig::webhookRetrySeconds},
    {"webhook_backoff_max_seconds", "", "The longest wait between two attempts of a delivery.",
     &ServeConfig::webhookBackoffMaxSeconds, 1},
    {"webhook_allow_loopback", "",
     "Allow webhook service URIs that reach loopback or link-local addresses (refused by "
     "default: a webhook must not become a way into the host or a cloud metadata service).",
     &ServeConfig::webhookAllowLoopback},
    {"webhook_ca_file", "",
     "HTTPS receivers: a PEM file of the certificates to trust (a private CA's); empty: the "
     "system's.",
     &ServeConfig::webhookCaFile},
    {"audit_log", "",
     "Also write every audit record as a JSON line to this file (appended; opened again when "
     "moved away, for log rotation), or to stderr with \"-\". Empty: the database only.",
     &ServeConfig::auditLog},
    {"audit_retention_days", "", "Audit records are kept in the database this long.",
     &ServeConfig::auditRetentionDays, 1},
    {"audit_queue", "",
     "Audit records that may wait to be written; beyond them records are dropped and counted "
     "(berth_audit_records_total{fate=\"dropped\"}) rather than slow a request.",
     &ServeConfig::auditQueue, 1},
    {"portal", "",
     "Serve the web portal at / on the management host (any host that is not a registry's "
     "login server).",
     &ServeConfig::portal},
    {"session_lifetime_seconds", "",
     "A portal sign-in (POST /api/v1/session) lasts this long; then the browser signs in again.",
     &ServeConfig::sessionLifetimeSeconds, 60},
    {"sessions_max", "",
     "Sign-in sessions kept at once, over every identity; past it a new one ends the oldest.",
     &ServeConfig::sessionsMax, 1},
    {"sessions_per_identity", "",
     "Sign-in sessions kept for one identity (the operator, an admin account, a token); past it "
     "its new one ends its oldest, and nobody else's.",
     &ServeConfig::sessionsPerIdentity, 1},
    {"oidc_keys_lifetime_seconds", "",
     "The keys (JWKS) of an OpenID Connect issuer that federated credentials trust are fetched "
     "again after this long.",
     &ServeConfig::oidcKeysLifetimeSeconds, 60},
    {"oidc_unknown_key_refetch_seconds", "",
     "An ID token signed by a key id berth has not seen fetches the issuer's keys again (the "
     "issuer may have rotated them), at most once per this long per issuer.",
     &ServeConfig::oidcUnknownKeyRefetchSeconds, 1},
    {"oidc_ca_file", "",
     "OpenID Connect issuers: a PEM file of the certificates to trust (a private CA's); empty: "
     "the system's.",
     &ServeConfig::oidcCaFile},
    {"oidc_allow_http", "",
     "Allow OpenID Connect issuers over plain http (for tests; issuers are https otherwise).",
     &ServeConfig::oidcAllowHttp},
    {"upstream_insecure_registries", "",
     "Other registries (HOST:PORT, or HOST for every port of it; separated by commas) reached "
     "over plain HTTP by imports, as docker's insecure-registries; every other is reached over "
     "HTTPS.",
     &ServeConfig::upstreamInsecureRegistries},
    {"upstream_ca_file", "",
     "Other registries: a PEM file of the certificates to trust (a private CA's); empty: the "
     "system's.",
     &ServeConfig::upstreamCaFile},
    {"upstream_allow_loopback", "",
     "Let imports reach registries on loopback and link-local addresses (refused otherwise, so "
     "that a registry's users cannot make berth read from the machine itself).",
     &ServeConfig::upstreamAllowLoopback},
    {"import_workers", "", "Imports that run at once on this node.", &ServeConfig::importWorkers,
     1},
    {"import_queue", "",
     "Imports waiting for a worker at most; beyond them an import is refused with 429.",
     &ServeConfig::importQueue, 1},
    {"cache_tag_ttl_seconds", "",
     "Pull-through cache: a cached tag is served this long before a pull checks it with the "
     "upstream (a HEAD request; the stored copy is served when the upstream cannot answer).",
     &ServeConfig::cacheTagTtlSeconds},
    {"cache_fetches", "",
     "Pull-through cache: blobs fetched from upstreams at once; a pull beyond them is answered "
     "429.",
     &ServeConfig::cacheFetches, 1},
    {"replication_workers", "", "Replication: changes copied to targets at once on this node.",
     &ServeConfig::replicationWorkers, 1},
    {"replication_queue", "",
     "Replication: changes waiting per replication at most; beyond them a change is counted as "
     "dropped (berth replication sync copies what is missing).",
     &ServeConfig::replicationQueue, 1},
    {"replication_backoff_cap_seconds", "",
     "Replication: the longest wait between two attempts to copy a change to a target that "
     "failed (the waits double from a second up to it).",
     &ServeConfig::replicationBackoffCapSeconds, 1},
    {"replication_retry_hours", "",
     "Replication: a change not copied this long after it happened is given up (counted as "
     "failed; berth replication sync copies it again).",
     &ServeConfig::replicationRetryHours, 1},
};

// A field's value as JSON.
boost::json::value valueOf(const ServeConfig& config, const ConfigKey& key) {
  return std::visit(
      [&](auto member) -> boost::json::value {
        const auto& v = config.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return boost::json::value(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return boost::json::value(v);
        } else {
          return boost::json::value(static_cast<uint64_t>(v));
        }
      },
      key.field);
}

// Sets a field from JSON; false when the value has the wrong type or is out of range.
bool setValue(ServeConfig& config, const ConfigKey& key, const boost::json::value& v) {
  return std::visit(
      [&](auto member) -> bool {
        auto& out = config.*member;
        using T = std::decay_t<decltype(out)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!v.is_string()) return false;
          out = std::string(v.as_string());
          return true;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!v.is_bool()) return false;
          out = v.as_bool();
          return true;
        } else {
          if (!v.is_int64() || v.as_int64() < 0) return false;
          const auto n = static_cast<uint64_t>(v.as_int64());
          if (n > std::numeric_limits<T>::max() || n < key.minimum) return false;
          out = static_cast<T>(n);
          return true;
        }
      },
      key.field);
}

std::string typeOf(const ConfigKey& key) {
  return std::visit(
      [](auto member) -> std::string {
        using T = std::decay_t<decltype(ServeConfig{}.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return "string";
        } else if constexpr (std::is_same_v<T, bool>) {
          return "boolean";
        } else {
          return "integer";
        }
      },
      key.field);
}

}  // namespace

std::span<const ConfigKey> configKeys() { return kKeys; }

Result<ServeConfig> loadConfigFile(const std::string& path, ServeConfig config) {
  std::ifstream in(path);
  if (!in) return configError("cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) return configError(path + ": not a JSON object");
  for (const auto& member : value.as_object()) {
    const std::string_view name = member.key();
    const auto* key = std::find_if(std::begin(kKeys), std::end(kKeys),
                                   [&](const ConfigKey& k) { return k.key == name; });
    if (key == std::end(kKeys)) {
      return configError(path + ": unknown key \"" + std::string(name) + "\"");
    }
    if (!setValue(config, *key, member.value())) {
      std::string expected = typeOf(*key);
      if (key->minimum > 0) expected += " of at least " + std::to_string(key->minimum);
      return configError(path + ": bad value for \"" + std::string(name) + "\" (expected " +
                         expected + ")");
    }
  }
  return config;
}

std::string configJson(const ServeConfig& config, std::span<const ConfigKey> keys) {
  // In the table's order, one key per line.
  std::string out = "{\n";
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& key = keys[i];
    auto value = valueOf(config, key);
    if (key.secret && value.is_string() && !value.as_string().empty()) value = "<redacted>";
    out += "  " + boost::json::serialize(boost::json::value(key.key)) + ": " +
           boost::json::serialize(value) + (i + 1 < keys.size() ? ",\n" : "\n");
  }
  return out + "}\n";
}

std::string configReference() {
  const ServeConfig defaults;
  std::string out =
      "# Configuration reference\n\n"
      "<!-- Generated by `berth serve --config-reference`; a test fails when this file and the "
      "binary disagree. -->\n\n"
      "`berth serve` reads its settings from defaults, then from the JSON object of the file "
      "given with `--config`, then from its flags: a flag given wins over the file. An unknown "
      "key, or a value of the wrong type, stops the server with a one-line error naming it. "
      "`berth serve --print-config` prints the settings in effect (secrets redacted) and "
      "exits.\n\n"
      "| Key | Flag | Type | Default | Description |\n"
      "|---|---|---|---|---|\n";
  for (const auto& key : kKeys) {
    std::string value = boost::json::serialize(valueOf(defaults, key));
    std::string description(key.description);
    if (key.minimum > 0) description += " At least " + std::to_string(key.minimum) + ".";
    out += "| `" + std::string(key.key) + "` | " +
           (key.flag.empty() ? std::string() : "`" + std::string(key.flag) + "`") + " | " +
           typeOf(key) + " | `" + value + "` | " + description + " |\n";
  }
  out +=
      "\nFlags of `berth serve` that are not keys:\n\n"
      "| Flag | Description |\n"
      "|---|---|\n"
      "| `--config FILE` | The JSON configuration file. |\n"
      "| `--print-config` | Print the settings in effect (defaults, file, flags) as JSON, secrets "
      "redacted, and exit. |\n"
      "| `--config-reference` | Print this reference and exit. |\n";
  out +=
      "\n## Example\n\n"
      "```json\n"
      "{\n"
      "  \"listen\": \"0.0.0.0:443\",\n"
      "  \"data\": \"/var/lib/berth\",\n"
      "  \"domain\": \"registry.example.com\",\n"
      "  \"tls_cert\": \"/etc/berth/tls/chain.pem\",\n"
      "  \"tls_key\": \"/etc/berth/tls/key.pem\",\n"
      "  \"gc_grace_seconds\": 7200,\n"
      "  \"metrics_listen\": \"127.0.0.1:9464\"\n"
      "}\n"
      "```\n\n"
      "With it, registry `team` answers at `team.registry.example.com`, other hosts reach the "
      "registry `default`, and Prometheus scrapes `http://127.0.0.1:9464/metrics`.\n";
  return out;
}

Result<HostPort> parseHostPort(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return configError("listen address must be HOST:PORT, got \"" + text + "\"");
  }
  HostPort out;
  out.host = text.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host.empty()) out.host = "0.0.0.0";
  const auto* first = text.data() + colon + 1;
  const auto* last = text.data() + text.size();
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || ptr != last || port > 65535) {
    return configError("bad port in listen address \"" + text + "\"");
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

}  // namespace berth
