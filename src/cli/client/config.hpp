#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace berth::cli::client {

// What `berth configure` stores. The operator token itself is never stored here, only the
// path of the file that holds it.
struct StoredConfig {
  std::string server;
  std::string operatorTokenFile;
  std::string caFile;
};

// $XDG_CONFIG_HOME/berth/config.json, else ~/.config/berth/config.json.
std::filesystem::path configPath();
// The stored configuration, or nothing when `berth configure` never ran.
std::optional<StoredConfig> loadConfig();
// Writes the configuration with mode 0600 in a directory of mode 0700.
void saveConfig(const StoredConfig& config);

// A person's or service principal's sign-in (`berth login --user`): the session cookie of
// the server it was made on. Stored with mode 0600 next to the configuration.
struct StoredSession {
  std::string server;
  std::string cookie;    // the berth_session value
  std::string identity;  // whom it signed in, for messages
};
std::filesystem::path sessionPath();
std::optional<StoredSession> loadSession();
void saveSession(const StoredSession& session);
// Whether there was one to remove.
bool removeSession();

// Where and how to reach the control API: the stored configuration overridden by
// $BERTH_SERVER and $BERTH_OPERATOR_TOKEN.
struct Endpoint {
  std::string server;         // base URL, no trailing slash
  std::string operatorToken;  // empty when none is configured
  std::string caFile;
  // The session of `berth login --user` made on this server: used instead of the operator
  // token while it lasts.
  std::string sessionCookie;
  std::string sessionIdentity;
};
Endpoint resolveEndpoint();

}  // namespace berth::cli::client
