#include "core/config.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

namespace berth {
namespace {

Error configError(std::string detail) { return makeError(ApiCode::Unknown, std::move(detail)); }

}  // namespace

Result<ServeConfig> loadConfigFile(const std::string& path, ServeConfig config) {
  std::ifstream in(path);
  if (!in) return configError("cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) return configError(path + ": not a JSON object");
  for (const auto& member : value.as_object()) {
    // Named, not bound: clang 14 lets no lambda capture a structured binding.
    const auto key = member.key();
    const auto& v = member.value();
    auto str = [&](std::string& out) -> bool {
      if (!v.is_string()) return false;
      out = std::string(v.as_string());
      return true;
    };
    auto num = [&](auto& out) -> bool {
      using T = std::decay_t<decltype(out)>;
      if (!v.is_int64() || v.as_int64() < 0) return false;
      if (static_cast<uint64_t>(v.as_int64()) > std::numeric_limits<T>::max()) return false;
      out = static_cast<T>(v.as_int64());
      return true;
    };
    bool ok = false;
    if (key == "listen") {
      ok = str(config.listen);
    } else if (key == "data") {
      ok = str(config.dataDir);
    } else if (key == "log_level") {
      ok = str(config.logLevel);
    } else if (key == "threads") {
      ok = num(config.threads);
    } else if (key == "idle_timeout_seconds") {
      ok = num(config.idleTimeoutSeconds);
    } else if (key == "manifest_cache_entries") {
      ok = num(config.manifestCacheEntries);
    } else if (key == "open_blob_cache_entries") {
      ok = num(config.openBlobCacheEntries);
    } else if (key == "token_lifetime_seconds") {
      ok = num(config.tokenLifetimeSeconds);
    } else if (key == "tls_cert") {
      ok = str(config.tlsCert);
    } else if (key == "tls_key") {
      ok = str(config.tlsKey);
    } else if (key == "domain") {
      ok = str(config.domain);
    } else if (key == "operator_token_file") {
      ok = str(config.operatorTokenFile);
    } else if (key == "disk_reserve_bytes") {
      ok = num(config.diskReserveBytes);
    } else if (key == "max_connections") {
      ok = num(config.maxConnections) && config.maxConnections > 0;
    } else if (key == "max_connections_per_client") {
      ok = num(config.maxConnectionsPerClient);
    } else if (key == "min_transfer_rate") {
      ok = num(config.minTransferRate);
    } else if (key == "gc_interval_seconds") {
      ok = num(config.gcIntervalSeconds);
    } else if (key == "gc_grace_seconds") {
      ok = num(config.gcGraceSeconds);
    } else if (key == "shutdown_delay_seconds") {
      ok = num(config.shutdownDelaySeconds);
    } else if (key == "lifecycle_interval_seconds") {
      ok = num(config.lifecycleIntervalSeconds) && config.lifecycleIntervalSeconds > 0;
    } else if (key == "tag_history_days") {
      ok = num(config.tagHistoryDays) && config.tagHistoryDays > 0;
    } else if (key == "upload_expiry_seconds") {
      ok = num(config.uploadExpirySeconds) && config.uploadExpirySeconds > 0;
    } else if (key == "max_header_bytes") {
      ok = num(config.maxHeaderBytes) && config.maxHeaderBytes >= 1024;
    } else {
      return configError(path + ": unknown key \"" + std::string(key) + "\"");
    }
    if (!ok) return configError(path + ": bad value for \"" + std::string(key) + "\"");
  }
  return config;
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
