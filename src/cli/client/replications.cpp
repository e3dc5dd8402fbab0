// `berth replication …`: copies of a registry's pushes and deletes kept in another registry.
#include <memory>

#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct ReplicationArgs {
  std::string registry;
  std::string name;
  std::string target;
  std::string credentialSet;
  std::vector<std::string> scopes;
  std::string mode = "push";
  std::string enabled;  // "true" or "false"; empty: unchanged
  bool yes = false;
};

std::string replicationPath(std::string_view registry, std::string_view name) {
  return registryPath(registry) + "/replications/" + escapePath(name);
}

void addNames(CLI::App* cmd, ReplicationArgs& args) {
  cmd->add_option("-n,--name", args.name, "Name of the replication")->type_name("NAME")->required();
  cmd->add_option("-r,--registry", args.registry, "Name of the registry")
      ->type_name("REGISTRY")
      ->required();
}

void addSettings(CLI::App* cmd, ReplicationArgs& args) {
  cmd->add_option("--scope", args.scopes,
                  "Repositories to copy: REPO, PREFIX/* or *, each optionally with :TAG (a tag, "
                  "* or a prefix ending in *); repeat for more (none: everything)")
      ->type_name("PATTERN");
  cmd->add_option("-c,--cred-set,--credential-set", args.credentialSet,
                  "A credential set of the registry for the target's host")
      ->type_name("SET");
}

}  // namespace

void addReplicationCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "replication",
                          "Copy every push and delete of a registry to another registry");
  group->footer(
      "The target is any OCI registry: another berth, a distribution, a cloud registry.\n"
      "Changes are copied in the order they happened, per repository, and tried again with\n"
      "backoff while the target is down; `status` shows the lag and the last error, `sync`\n"
      "copies what the target is missing.\n\n"
      "Example:\n"
      "  berth credential-set create -r myregistry -n dr --login-server dr.example.com \\\n"
      "    -u mirror --password-file pw\n"
      "  berth replication create -r myregistry -n dr --target https://dr.example.com/mirror \\\n"
      "    --credential-set dr --scope 'prod/*'\n"
      "  berth replication sync -r myregistry -n dr");
  {
    auto args = std::make_shared<ReplicationArgs>();
    auto* cmd = set.command(*group, "create", "Create a replication", [args]() -> Output {
      json::array scopes;
      for (const auto& s : args->scopes) scopes.emplace_back(s);
      json::object body{{"name", args->name},
                        {"target", args->target},
                        {"scopes", std::move(scopes)},
                        {"mode", args->mode}};
      if (!args->credentialSet.empty()) body["credentialSet"] = args->credentialSet;
      return ControlClient::open().post(registryPath(args->registry) + "/replications", body);
    });
    addNames(cmd, *args);
    cmd->add_option("--target", args->target,
                    "The registry to copy to: https://HOST[:PORT][/PREFIX] (http:// for one "
                    "without TLS); repositories land under PREFIX")
        ->type_name("URL")
        ->required();
    cmd->add_option("--mode", args->mode, "push (berth copies its changes to the target)")
        ->type_name("MODE");
    addSettings(cmd, *args);
  }
  {
    auto args = std::make_shared<ReplicationArgs>();
    auto* cmd =
        set.command(*group, "list", "List the replications of a registry", [args]() -> Output {
          return ControlClient::open().get(registryPath(args->registry) + "/replications");
        });
    cmd->add_option("-r,--registry", args->registry, "Name of the registry")
        ->type_name("REGISTRY")
        ->required();
  }
  {
    auto args = std::make_shared<ReplicationArgs>();
    auto* cmd = set.command(*group, "show", "Show a replication with its status", [args]() {
      return Output(ControlClient::open().get(replicationPath(args->registry, args->name)));
    });
    addNames(cmd, *args);
  }
  {
    auto args = std::make_shared<ReplicationArgs>();
    auto* cmd = set.command(
        *group, "status", "How a replication is doing: lag, queue, last error", [args]() {
          auto shown = ControlClient::open().get(replicationPath(args->registry, args->name));
          json::value status = nullptr;
          if (const auto* o = shown.if_object()) {
            if (const auto* s = o->if_contains("status")) status = *s;
          }
          return Output(status);
        });
    addNames(cmd, *args);
  }
  {
    auto args = std::make_shared<ReplicationArgs>();
    auto* cmd = set.command(*group, "update", "Change a replication", [args]() -> Output {
      json::object body;
      if (!args->target.empty()) body["target"] = args->target;
      if (!args->scopes.empty()) {
        json::array scopes;
        for (const auto& s : args->scopes) scopes.emplace_back(s);
        body["scopes"] = std::move(scopes);
      }
      if (!args->credentialSet.empty()) {
        body["credentialSet"] = args->credentialSet == "-" ? "" : args->credentialSet;
      }
      if (!args->enabled.empty()) body["enabled"] = args->enabled == "true";
      if (body.empty())
        throw ClientError(
            "nothing to change: give --target, --scope, "
            "--credential-set or --enabled");
      return ControlClient::open().patch(replicationPath(args->registry, args->name), body);
    });
    addNames(cmd, *args);
    cmd->add_option("--target", args->target, "The registry to copy to")->type_name("URL");
    addSettings(cmd, *args);
    cmd->add_option("--enabled", args->enabled, "Copy changes (true) or hold them (false)")
        ->type_name("BOOL")
        ->check(CLI::IsMember({"true", "false"}));
  }
  {
    auto args = std::make_shared<ReplicationArgs>();
    auto* cmd = set.command(
        *group, "delete", "Delete a replication (what it copied stays)", [args]() -> Output {
          requireYes(args->yes, "deleting replication \"" + args->name + "\"");
          ControlClient::open().remove(replicationPath(args->registry, args->name));
          return std::nullopt;
        });
    addNames(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not ask for confirmation");
  }
  {
    auto args = std::make_shared<ReplicationArgs>();
    auto* cmd =
        set.command(*group, "sync",
                    "Copy every tag in scope (and its referrers) that the target is "
                    "missing or has at another digest",
                    [args]() -> Output {
                      return ControlClient::open().post(
                          replicationPath(args->registry, args->name) + "/sync", json::object{});
                    });
    addNames(cmd, *args);
  }
}

}  // namespace berth::cli::client
