#include "cli/client/config.hpp"

#include <boost/json.hpp>

#include "cli/client/error.hpp"
#include "cli/client/files.hpp"

namespace berth::cli::client {
namespace fs = std::filesystem;
namespace json = boost::json;
namespace {

std::string stringField(const json::object& object, std::string_view key, const fs::path& file) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return {};
  if (!value->is_string()) {
    throw ClientError(file.string() + ": \"" + std::string(key) + "\" must be a string");
  }
  return std::string(value->as_string());
}

}  // namespace

fs::path configPath() {
  fs::path base = envOr("XDG_CONFIG_HOME");
  // The XDG spec: a relative value is invalid and must be ignored.
  if (base.empty() || base.is_relative()) base = homeDir() / ".config";
  return base / "berth" / "config.json";
}

std::optional<StoredConfig> loadConfig() {
  const fs::path path = configPath();
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  const std::string text = readFile(path, "configuration");
  json::error_code parseError;
  json::value parsed = json::parse(text, parseError);
  if (parseError || !parsed.is_object()) {
    throw ClientError(path.string() + " is not a JSON object; run berth configure again");
  }
  const auto& object = parsed.as_object();
  return StoredConfig{stringField(object, "server", path),
                      stringField(object, "operatorTokenFile", path),
                      stringField(object, "caFile", path)};
}

void saveConfig(const StoredConfig& config) {
  json::object object{
      {"server", config.server},
      {"operatorTokenFile", config.operatorTokenFile.empty()
                                ? json::value(nullptr)
                                : json::value(config.operatorTokenFile)},
      {"caFile", config.caFile.empty() ? json::value(nullptr) : json::value(config.caFile)}};
  writePrivateFile(configPath(), json::serialize(object) + "\n");
}

fs::path sessionPath() { return configPath().parent_path() / "session.json"; }

std::optional<StoredSession> loadSession() {
  const fs::path path = sessionPath();
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  json::error_code parseError;
  json::value parsed = json::parse(readFile(path, "session"), parseError);
  if (parseError || !parsed.is_object()) {
    throw ClientError(path.string() + " is not a JSON object; run berth logout");
  }
  const auto& object = parsed.as_object();
  return StoredSession{stringField(object, "server", path), stringField(object, "cookie", path),
                       stringField(object, "identity", path)};
}

void saveSession(const StoredSession& session) {
  json::object object{
      {"server", session.server}, {"cookie", session.cookie}, {"identity", session.identity}};
  writePrivateFile(sessionPath(), json::serialize(object) + "\n");
}

bool removeSession() {
  std::error_code ec;
  return fs::remove(sessionPath(), ec);
}

Endpoint resolveEndpoint() {
  const auto stored = loadConfig();
  Endpoint endpoint;
  endpoint.server = envOr("BERTH_SERVER");
  if (endpoint.server.empty() && stored) endpoint.server = stored->server;
  if (endpoint.server.empty()) {
    throw ClientError(
        "no server configured: run `berth configure --server URL` or set BERTH_SERVER");
  }
  while (endpoint.server.ends_with('/')) endpoint.server.pop_back();
  endpoint.operatorToken = trimmed(envOr("BERTH_OPERATOR_TOKEN"));
  if (endpoint.operatorToken.empty() && stored && !stored->operatorTokenFile.empty()) {
    endpoint.operatorToken = trimmed(readFile(stored->operatorTokenFile, "operator token file"));
  }
  if (stored) endpoint.caFile = stored->caFile;
  if (auto session = loadSession(); session && session->server == endpoint.server) {
    endpoint.sessionCookie = session->cookie;
    endpoint.sessionIdentity = session->identity;
  }
  return endpoint;
}

}  // namespace berth::cli::client
