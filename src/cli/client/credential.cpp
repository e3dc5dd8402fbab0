// `berth credential show|renew`: the admin user's passwords (`az acr credential`).
#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct CredentialArgs {
  std::string registry;
  std::string passwordName;
};

}  // namespace

void addCredentialCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "credential", "Show and renew a registry's admin passwords");
  group->footer(
      "Passwords are stored as hashes: `show` lists their names, and a value is printed once,\n"
      "by the `renew` that makes it.");
  {
    auto args = std::make_shared<CredentialArgs>();
    auto* cmd = set.command(
        *group, "show", "Show the admin user name and password names", [args]() -> Output {
          return ControlClient::open().get(registryPath(args->registry) + "/credentials");
        });
    cmd->add_option("-n,--name", args->registry, "Name of the registry")
        ->type_name("NAME")
        ->required();
  }
  {
    auto args = std::make_shared<CredentialArgs>();
    auto* cmd = set.command(
        *group, "renew", "Replace one admin password with a new generated one", [args]() -> Output {
          const std::string name =
              parseChoice(args->passwordName, "--password-name", {"password", "password2"});
          return ControlClient::open().post(registryPath(args->registry) + "/credentials/renew",
                                            json::object{{"name", name}});
        });
    cmd->add_option("-n,--name", args->registry, "Name of the registry")
        ->type_name("NAME")
        ->required();
    cmd->add_option("--password-name", args->passwordName, "password or password2")
        ->type_name("NAME")
        ->required();
    cmd->footer(
        "Example:\n"
        "  berth credential renew -n myregistry --password-name password2 "
        "--query passwords.1.value -o tsv");
  }
}

}  // namespace berth::cli::client
