// `berth registry …`: create, inspect, change and delete registries (`az acr create`, `list`,
// `show`, `update`, `delete`, `check-name`, `show-usage`, `show-gc`).
#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

const std::vector<std::string> kSkus = {"Basic", "Standard", "Premium"};

struct RegistryArgs {
  std::string name;
  std::string sku;
  std::string adminEnabled;
  std::string anonymousPullEnabled;
  std::string auditPullsEnabled;
  std::string storagePath;
  std::string storage;
  std::string quota;
  bool yes = false;
};

void addName(CLI::App* cmd, RegistryArgs& args) {
  cmd->add_option("-n,--name", args.name, "Name of the registry")->type_name("NAME")->required();
}

// The settings --sku, --admin-enabled, --anonymous-pull-enabled, --audit-pulls-enabled and
// --quota, as API fields.
json::object settingsOf(const RegistryArgs& args) {
  json::object body;
  if (!args.sku.empty()) body["sku"] = parseChoice(args.sku, "--sku", kSkus);
  if (auto v = parseBool(args.adminEnabled, "--admin-enabled")) body["adminUserEnabled"] = *v;
  if (auto v = parseBool(args.anonymousPullEnabled, "--anonymous-pull-enabled")) {
    body["anonymousPullEnabled"] = *v;
  }
  if (auto v = parseBool(args.auditPullsEnabled, "--audit-pulls-enabled")) {
    body["auditPullsEnabled"] = *v;
  }
  if (!args.quota.empty()) body["quotaBytes"] = parseSize(args.quota, "--quota");
  return body;
}

void addSettings(CLI::App* cmd, RegistryArgs& args) {
  cmd->add_option("--sku", args.sku, "Basic, Standard or Premium (sets the default quota)")
      ->type_name("SKU");
  cmd->add_option("--admin-enabled", args.adminEnabled,
                  "Enable the admin user (user name = registry name): true or false")
      ->type_name("BOOL");
  cmd->add_option("--anonymous-pull-enabled", args.anonymousPullEnabled,
                  "Let anyone pull without credentials: true or false")
      ->type_name("BOOL");
  cmd->add_option("--audit-pulls-enabled", args.auditPullsEnabled,
                  "Record every pull in the audit log too (writes always are): true or false")
      ->type_name("BOOL");
  cmd->add_option("--quota", args.quota,
                  "Storage quota in bytes, or with KiB, MiB, GiB or TiB (overrides the SKU's)")
      ->type_name("SIZE");
}

}  // namespace

void addRegistryCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "registry", "Create and manage registries");
  group->footer(
      "Examples:\n"
      "  berth registry create -n myregistry --sku Standard --admin-enabled true\n"
      "  berth registry list -o table\n"
      "  berth registry show -n myregistry --query loginServer -o tsv");

  {
    auto args = std::make_shared<RegistryArgs>();
    auto* cmd = set.command(*group, "create", "Create a registry", [args]() -> Output {
      json::object body = settingsOf(*args);
      body["name"] = args->name;
      if (!args->storagePath.empty()) body["storagePath"] = args->storagePath;
      if (!args->storage.empty()) body["storage"] = args->storage;
      return ControlClient::open().post(registriesPath(), body);
    });
    addName(cmd, *args);
    addSettings(cmd, *args);
    cmd->add_option("--storage-path", args->storagePath,
                    "Directory on the server for the registry's blobs (default: in its data "
                    "directory)")
        ->type_name("DIR");
    cmd->add_option("--storage", args->storage,
                    "Where the registry's blobs live, as a store URL: file://PATH, "
                    "s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=true, "
                    "azblob://ACCOUNT/CONTAINER[/PREFIX]?endpoint=URL (default: the server's "
                    "storage); the server checks it with one request")
        ->type_name("URL")
        ->excludes("--storage-path");
    cmd->footer(
        "The name is 5-50 lowercase letters and digits; the registry answers at\n"
        "<name>.<domain of the server>.\n\n"
        "Examples:\n"
        "  berth registry create -n myregistry\n"
        "  berth registry create -n teamregistry --sku Premium --quota 2TiB --admin-enabled true");
  }
  {
    set.command(*group, "list", "List the registries",
                []() -> Output { return ControlClient::open().get(registriesPath()); });
  }
  {
    auto args = std::make_shared<RegistryArgs>();
    auto* cmd = set.command(*group, "show", "Show a registry", [args]() -> Output {
      return ControlClient::open().get(registryPath(args->name));
    });
    addName(cmd, *args);
  }
  {
    auto args = std::make_shared<RegistryArgs>();
    auto* cmd = set.command(*group, "update", "Change a registry's settings", [args]() -> Output {
      const json::object body = settingsOf(*args);
      if (body.empty()) {
        throw ClientError(
            "nothing to update: give --sku, --admin-enabled, --anonymous-pull-enabled, "
            "--audit-pulls-enabled or --quota");
      }
      return ControlClient::open().patch(registryPath(args->name), body);
    });
    addName(cmd, *args);
    addSettings(cmd, *args);
    cmd->footer(
        "Examples:\n"
        "  berth registry update -n myregistry --admin-enabled true\n"
        "  berth registry update -n myregistry --sku Standard --quota 200GiB");
  }
  {
    auto args = std::make_shared<RegistryArgs>();
    auto* cmd =
        set.command(*group, "delete", "Delete a registry with all its images and credentials",
                    [args]() -> Output {
                      requireYes(args->yes, "deleting registry \"" + args->name + "\"");
                      ControlClient::open().remove(registryPath(args->name));
                      return std::nullopt;
                    });
    addName(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not refuse: the deletion is intended");
  }
  {
    auto args = std::make_shared<RegistryArgs>();
    auto* cmd = set.command(*group, "check-name", "Check that a registry name is valid and free",
                            [args]() -> Output {
                              return ControlClient::open().post(registriesPath() + "/check-name",
                                                                json::object{{"name", args->name}});
                            });
    addName(cmd, *args);
  }
  {
    auto args = std::make_shared<RegistryArgs>();
    auto* cmd = set.command(*group, "show-usage",
                            "Show a registry's storage and its counts of repositories, scope "
                            "maps and tokens against their limits",
                            [args]() -> Output {
                              return ControlClient::open().get(registryPath(args->name) + "/usage");
                            });
    addName(cmd, *args);
  }
  {
    auto args = std::make_shared<RegistryArgs>();
    auto* cmd = set.command(
        *group, "show-gc",
        "Show the registry's last garbage-collection pass: what it removed "
        "and how many bytes it freed",
        [args]() -> Output { return ControlClient::open().get(registryPath(args->name) + "/gc"); });
    addName(cmd, *args);
  }
}

}  // namespace berth::cli::client
