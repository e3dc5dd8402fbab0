// `berth configure`: where the control API is and how to authenticate to it.
#include "cli/client/config.hpp"
#include "cli/client/files.hpp"
#include "cli/client/groups.hpp"
#include "cli/client/http.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

struct ConfigureArgs {
  std::string server;
  std::string operatorTokenFile;
  std::string caFile;
  // To tell "not given" from "given empty" (which clears the stored value).
  CLI::Option* tokenOption = nullptr;
  CLI::Option* caOption = nullptr;
};

json::value pathOrNull(const std::string& path) {
  return path.empty() ? json::value(nullptr) : json::value(path);
}

Output configure(const ConfigureArgs& args) {
  StoredConfig config = loadConfig().value_or(StoredConfig{});
  config.server = args.server;
  while (config.server.ends_with('/')) config.server.pop_back();
  parseUrl(config.server, "--server");
  // Flags not given keep what was stored; an empty value clears it.
  if (args.tokenOption->count() > 0) {
    config.operatorTokenFile.clear();
    if (!args.operatorTokenFile.empty()) {
      // Readable now, so that a typo shows here and not at the first command. Its content is
      // never printed.
      readFile(args.operatorTokenFile, "operator token file");
      config.operatorTokenFile = fs::absolute(args.operatorTokenFile).lexically_normal().string();
    }
  }
  if (args.caOption->count() > 0) {
    config.caFile.clear();
    if (!args.caFile.empty()) {
      readFile(args.caFile, "CA file");
      config.caFile = fs::absolute(args.caFile).lexically_normal().string();
    }
  }
  saveConfig(config);
  return json::object{{"server", config.server},
                      {"operatorTokenFile", pathOrNull(config.operatorTokenFile)},
                      {"caFile", pathOrNull(config.caFile)},
                      {"configFile", configPath().string()}};
}

}  // namespace

void addConfigureCommand(CommandSet& set, CLI::App& root) {
  auto args = std::make_shared<ConfigureArgs>();
  auto* cmd = set.command(root, "configure", "Set the server the client commands manage",
                          [args] { return configure(*args); });
  cmd->add_option("--server", args->server, "Base URL of the berth server, e.g. https://host:5000")
      ->type_name("URL")
      ->required();
  args->tokenOption =
      cmd->add_option("--operator-token-file", args->operatorTokenFile,
                      "File holding the operator token (the server's --operator-token-file)")
          ->type_name("FILE");
  args->caOption =
      cmd->add_option("--ca-file", args->caFile,
                      "PEM CA bundle to verify the server's certificate (default: the system's)")
          ->type_name("PEM");
  cmd->footer(
      "Stored in $XDG_CONFIG_HOME/berth/config.json (~/.config/berth/config.json), mode 0600.\n"
      "BERTH_SERVER and BERTH_OPERATOR_TOKEN (the token itself) override it. Options left out\n"
      "keep their stored value; an empty value clears it.\n\n"
      "Example:\n"
      "  berth configure --server https://registry.example:5000 \\\n"
      "    --operator-token-file /etc/berth/operator-token --ca-file certs/ca.crt");
}

}  // namespace berth::cli::client
