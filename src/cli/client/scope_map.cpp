// `berth scope-map …`: the repository permissions tokens are bound to (`az acr scope-map`).
#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct ScopeMapArgs {
  std::string name;
  std::string registry;
  std::string description;
  std::vector<std::vector<std::string>> repositories;
  std::vector<std::vector<std::string>> addRepositories;
  std::vector<std::vector<std::string>> removeRepositories;
  bool yes = false;
};

void addNames(CLI::App* cmd, ScopeMapArgs& args) {
  cmd->add_option("-n,--name", args.name, "Name of the scope map")->type_name("NAME")->required();
  cmd->add_option("-r,--registry", args.registry, "Name of the registry")
      ->type_name("REGISTRY")
      ->required();
}

// "--repository REPO ACTION..." as CLI11 collects it: repeatable, up to five actions each.
CLI::Option* addRepositoryGroups(CLI::App* cmd, const std::string& flag,
                                 std::vector<std::vector<std::string>>& groups,
                                 const std::string& help) {
  return cmd->add_option(flag, groups, help)
      ->allow_extra_args()
      ->expected(2, 6)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->type_name("REPO ACTION...");
}

constexpr const char* kActionsHelp =
    "Actions: content/read (pull), content/write (push), content/delete, metadata/read\n"
    "(list tags and manifests), metadata/write (lock and unlock). A repository may end in /*\n"
    "for everything under it, or be * for every repository.";

}  // namespace

void addScopeMapCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "scope-map", "Manage the repository permissions of tokens");
  group->footer(kActionsHelp);
  {
    auto args = std::make_shared<ScopeMapArgs>();
    auto* cmd = set.command(*group, "create", "Create a scope map", [args]() -> Output {
      json::object body{{"name", args->name},
                        {"actions", parseRepositoryActions(args->repositories, "--repository")}};
      if (!args->description.empty()) body["description"] = args->description;
      return ControlClient::open().post(registryPath(args->registry) + "/scope-maps", body);
    });
    addNames(cmd, *args);
    addRepositoryGroups(cmd, "--repository", args->repositories,
                        "A repository and the actions allowed on it (repeatable)")
        ->required();
    cmd->add_option("--description", args->description, "Free text")->type_name("TEXT");
    cmd->footer(std::string(kActionsHelp) +
                "\n\nExample:\n"
                "  berth scope-map create -n ci-push -r myregistry \\\n"
                "    --repository team/app content/read content/write \\\n"
                "    --repository team/base content/read");
  }
  {
    auto args = std::make_shared<ScopeMapArgs>();
    auto* cmd = set.command(
        *group, "list", "List the scope maps, built-in ones included", [args]() -> Output {
          return ControlClient::open().get(registryPath(args->registry) + "/scope-maps");
        });
    cmd->add_option("-r,--registry", args->registry, "Name of the registry")
        ->type_name("REGISTRY")
        ->required();
  }
  {
    auto args = std::make_shared<ScopeMapArgs>();
    auto* cmd = set.command(*group, "show", "Show a scope map", [args]() -> Output {
      return ControlClient::open().get(scopeMapPath(args->registry, args->name));
    });
    addNames(cmd, *args);
  }
  {
    auto args = std::make_shared<ScopeMapArgs>();
    auto* cmd = set.command(
        *group, "update", "Add or remove actions, or change the description", [args]() -> Output {
          json::object body;
          if (!args->addRepositories.empty()) {
            body["addActions"] = parseRepositoryActions(args->addRepositories, "--add-repository");
          }
          if (!args->removeRepositories.empty()) {
            body["removeActions"] =
                parseRepositoryActions(args->removeRepositories, "--remove-repository");
          }
          if (!args->description.empty()) body["description"] = args->description;
          if (body.empty()) {
            throw ClientError(
                "nothing to update: give --add-repository, --remove-repository or "
                "--description");
          }
          return ControlClient::open().patch(scopeMapPath(args->registry, args->name), body);
        });
    addNames(cmd, *args);
    addRepositoryGroups(cmd, "--add-repository", args->addRepositories,
                        "Allow these actions on a repository (repeatable)");
    addRepositoryGroups(cmd, "--remove-repository", args->removeRepositories,
                        "Take these actions on a repository away (repeatable)");
    cmd->add_option("--description", args->description, "Free text")->type_name("TEXT");
    cmd->footer(
        "Example:\n"
        "  berth scope-map update -n ci-push -r myregistry \\\n"
        "    --add-repository team/app content/delete --remove-repository team/base "
        "content/read");
  }
  {
    auto args = std::make_shared<ScopeMapArgs>();
    auto* cmd =
        set.command(*group, "delete", "Delete a scope map no token uses", [args]() -> Output {
          requireYes(args->yes, "deleting scope map \"" + args->name + "\"");
          ControlClient::open().remove(scopeMapPath(args->registry, args->name));
          return std::nullopt;
        });
    addNames(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not refuse: the deletion is intended");
  }
}

}  // namespace berth::cli::client
