#include "cli/client/auth_files.hpp"

#include <unistd.h>

#include <boost/json.hpp>

#include "cli/client/error.hpp"
#include "cli/client/files.hpp"
#include "cli/client/login_server.hpp"
#include "cli/client/output.hpp"

namespace berth::cli::client {
namespace fs = std::filesystem;
namespace json = boost::json;

fs::path dockerConfigPath() {
  if (auto dir = envOr("DOCKER_CONFIG"); !dir.empty()) return fs::path(dir) / "config.json";
  return homeDir() / ".docker" / "config.json";
}

fs::path containersAuthPath() {
  if (auto file = envOr("REGISTRY_AUTH_FILE"); !file.empty()) return file;
  if (auto dir = envOr("XDG_RUNTIME_DIR"); !dir.empty()) {
    return fs::path(dir) / "containers" / "auth.json";
  }
  return fs::path("/run/containers") / std::to_string(getuid()) / "auth.json";
}

std::string withAuth(const fs::path& path, const std::string& loginServer, const std::string& user,
                     const std::string& password) {
  json::object config;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    const std::string text = readFile(path, "credentials file");
    if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
      json::error_code parseError;
      json::value existing = json::parse(text, parseError);
      // Never overwrite a file we cannot read back: its other entries would be lost.
      if (parseError || !existing.is_object()) {
        throw ClientError(path.string() + " is not a JSON object; fix or remove it");
      }
      config = std::move(existing.as_object());
    }
  }
  json::value& auths = config["auths"];
  if (auths.is_null()) auths = json::object();
  if (!auths.is_object()) throw ClientError(path.string() + ": \"auths\" is not an object");
  auths.as_object()[loginServer] = json::object{{"auth", base64(user + ":" + password)}};
  return render(config, Format::Json);
}

}  // namespace berth::cli::client
