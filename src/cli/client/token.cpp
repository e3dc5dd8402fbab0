// `berth token …`: repository-scoped credentials (`az acr token`).
#include <algorithm>

#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"
#include "cli/client/output.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct TokenArgs {
  std::string name;
  std::string registry;
  std::string scopeMap;
  std::vector<std::vector<std::string>> repositories;
  std::string status;
  std::string expiration;
  std::string expirationInDays;
  bool noPasswords = false;
  bool password1 = false;
  bool password2 = false;
  bool yes = false;
};

void addNames(CLI::App* cmd, TokenArgs& args) {
  cmd->add_option("-n,--name", args.name, "Name of the token (its user name)")
      ->type_name("NAME")
      ->required();
  cmd->add_option("-r,--registry", args.registry, "Name of the registry")
      ->type_name("REGISTRY")
      ->required();
}

void addExpiration(CLI::App* cmd, TokenArgs& args) {
  cmd->add_option("--expiration", args.expiration,
                  "Passwords expire at this UTC time, e.g. 2030-01-01T00:00:00Z")
      ->type_name("TIME");
  cmd->add_option("--expiration-in-days", args.expirationInDays,
                  "Passwords expire this many days from now")
      ->type_name("DAYS");
}

Output create(const TokenArgs& args) {
  if (args.scopeMap.empty() == args.repositories.empty()) {
    throw ClientError("give either --scope-map or --repository");
  }
  json::object body{{"name", args.name}};
  if (!args.status.empty()) {
    body["status"] = parseChoice(args.status, "--status", {"enabled", "disabled"});
  }
  if (auto expiry = parseExpiry(args.expiration, args.expirationInDays)) body["expiry"] = *expiry;
  if (args.noPasswords) body["noPasswords"] = true;
  auto control = ControlClient::open();
  if (!args.scopeMap.empty()) {
    body["scopeMapName"] = args.scopeMap;
    return control.post(registryPath(args.registry) + "/tokens", body);
  }
  // --repository: a scope map of the token's own first, as az does.
  const std::string mapName = args.name + "-scope-map";
  const json::array actions = parseRepositoryActions(args.repositories, "--repository");
  control.post(registryPath(args.registry) + "/scope-maps",
               json::object{{"name", mapName},
                            {"description", "Created for token " + args.name},
                            {"actions", actions}});
  body["scopeMapName"] = mapName;
  try {
    return control.post(registryPath(args.registry) + "/tokens", body);
  } catch (const ClientError&) {
    // Leave nothing behind when the token cannot be made (its name is taken, say).
    try {
      control.remove(scopeMapPath(args.registry, mapName));
    } catch (const ClientError&) {
    }
    throw;
  }
}

Output update(const TokenArgs& args) {
  json::object body;
  if (!args.scopeMap.empty()) body["scopeMapName"] = args.scopeMap;
  if (!args.status.empty()) {
    body["status"] = parseChoice(args.status, "--status", {"enabled", "disabled"});
  }
  if (body.empty()) throw ClientError("nothing to update: give --scope-map or --status");
  return ControlClient::open().patch(tokenPath(args.registry, args.name), body);
}

// Both of the chosen passwords are checked first, so that one the token lacks changes nothing.
Output deleteCredential(const TokenArgs& args) {
  if (!args.password1 && !args.password2)
    throw ClientError("give --password1, --password2 or both");
  auto control = ControlClient::open();
  const std::string path = tokenPath(args.registry, args.name);
  const json::value has = Query("credentials.passwords[].name").apply(control.get(path));
  std::vector<std::string> chosen;
  if (args.password1) chosen.emplace_back("password1");
  if (args.password2) chosen.emplace_back("password2");
  for (const auto& name : chosen) {
    if (!has.is_array() || std::find(has.as_array().begin(), has.as_array().end(),
                                     json::value(name)) == has.as_array().end()) {
      throw ClientError("token \"" + args.name + "\" has no " + name);
    }
  }
  for (const auto& name : chosen) control.remove(path + "/credentials/" + name);
  return control.get(path);
}

Output generate(const TokenArgs& args) {
  json::object body;
  // Neither or both flags: both passwords, which is what the API does without a name.
  if (args.password1 != args.password2) body["name"] = args.password1 ? "password1" : "password2";
  if (auto expiry = parseExpiry(args.expiration, args.expirationInDays)) body["expiry"] = *expiry;
  return ControlClient::open().post(tokenPath(args.registry, args.name) + "/credentials", body);
}

}  // namespace

void addTokenCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "token", "Manage tokens: credentials bound to a scope map");
  group->footer(
      "A token's name is its user name; its password1 and password2 are shown once, when made.\n\n"
      "Examples:\n"
      "  berth token create -n ci-push -r myregistry --repository team/app content/read "
      "content/write\n"
      "  berth token create -n k8s-pull -r myregistry --scope-map _repositories_pull "
      "--expiration-in-days 90\n"
      "  berth token credential generate -n ci-push -r myregistry --password2\n"
      "  berth token credential delete -n ci-push -r myregistry --password1");
  {
    auto args = std::make_shared<TokenArgs>();
    auto* cmd = set.command(*group, "create", "Create a token and its passwords",
                            [args] { return create(*args); });
    addNames(cmd, *args);
    cmd->add_option("--scope-map", args->scopeMap,
                    "Bind the token to this scope map (built-in ones included)")
        ->type_name("MAP");
    cmd->add_option("--repository", args->repositories,
                    "A repository and the actions allowed on it (repeatable): creates the scope "
                    "map <name>-scope-map")
        ->allow_extra_args()
        ->expected(2, 6)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->type_name("REPO ACTION...");
    cmd->add_option("--status", args->status, "enabled (default) or disabled")->type_name("STATUS");
    addExpiration(cmd, *args);
    cmd->add_flag("--no-passwords", args->noPasswords,
                  "Create no passwords (make them later with `token credential generate`)");
  }
  {
    auto args = std::make_shared<TokenArgs>();
    auto* cmd = set.command(*group, "list", "List the tokens of a registry", [args]() -> Output {
      return ControlClient::open().get(registryPath(args->registry) + "/tokens");
    });
    cmd->add_option("-r,--registry", args->registry, "Name of the registry")
        ->type_name("REGISTRY")
        ->required();
  }
  {
    auto args = std::make_shared<TokenArgs>();
    auto* cmd = set.command(*group, "show", "Show a token", [args]() -> Output {
      return ControlClient::open().get(tokenPath(args->registry, args->name));
    });
    addNames(cmd, *args);
  }
  {
    auto args = std::make_shared<TokenArgs>();
    auto* cmd = set.command(*group, "update", "Change a token's scope map or status",
                            [args] { return update(*args); });
    addNames(cmd, *args);
    cmd->add_option("--scope-map", args->scopeMap, "Bind the token to this scope map")
        ->type_name("MAP");
    cmd->add_option("--status", args->status, "enabled or disabled")->type_name("STATUS");
  }
  {
    auto args = std::make_shared<TokenArgs>();
    auto* cmd = set.command(*group, "delete", "Delete a token", [args]() -> Output {
      requireYes(args->yes, "deleting token \"" + args->name + "\"");
      ControlClient::open().remove(tokenPath(args->registry, args->name));
      return std::nullopt;
    });
    addNames(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not refuse: the deletion is intended");
  }
  auto* credential = set.group(*group, "credential", "Manage a token's passwords");
  {
    auto args = std::make_shared<TokenArgs>();
    auto* cmd = set.command(*credential, "generate",
                            "Generate new passwords for a token (both unless one is chosen)",
                            [args] { return generate(*args); });
    addNames(cmd, *args);
    cmd->add_flag("--password1", args->password1, "Generate password1 only");
    cmd->add_flag("--password2", args->password2, "Generate password2 only");
    addExpiration(cmd, *args);
    cmd->footer(
        "Example:\n"
        "  berth token credential generate -n ci-push -r myregistry --password1 "
        "--expiration-in-days 30 \\\n"
        "    --query credentials.passwords.0.value -o tsv");
  }
  {
    auto args = std::make_shared<TokenArgs>();
    auto* cmd = set.command(*credential, "delete",
                            "Delete a token's password1, password2 or both; they stop working at "
                            "once",
                            [args] { return deleteCredential(*args); });
    addNames(cmd, *args);
    cmd->add_flag("--password1", args->password1, "Delete password1");
    cmd->add_flag("--password2", args->password2, "Delete password2");
  }
}

}  // namespace berth::cli::client
