#include "cli/client/commands.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "cli/client/groups.hpp"

namespace berth::cli {

void addClientCommands(CLI::App& root, std::function<int()>& action) {
  const auto before = root.get_subcommands({});
  client::CommandSet set(action);
  client::addConfigureCommand(set, root);
  client::addRegistryCommands(set, root);
  client::addCredentialCommands(set, root);
  client::addLoginCommand(set, root);
  client::addLogoutCommand(set, root);
  client::addPrincipalCommands(set, root);
  client::addRepositoryCommands(set, root);
  client::addManifestCommands(set, root);
  client::addTokenCommands(set, root);
  client::addScopeMapCommands(set, root);
  client::addCheckHealthCommand(set, root);
  client::addLifecycleCommands(set, root);
  client::addEventCommands(set, root);
  client::addUpstreamCommands(set, root);
  client::addReplicationCommands(set, root);
  std::vector<const CLI::App*> added;
  // `berth --help` lists them apart from serve and admin, which work on the machine itself.
  for (CLI::App* cmd : root.get_subcommands({})) {
    if (std::find(before.begin(), before.end(), cmd) == before.end()) {
      cmd->group("Client commands (over the control API, see `berth configure`)");
      added.push_back(cmd);
    }
  }
  // A usage error of a client command is one line on stderr, as its other errors are; the
  // other commands keep CLI11's message.
  root.failure_message([added](const CLI::App* app, const CLI::Error& e) -> std::string {
    std::string path = "berth";
    bool ours = false;
    for (const CLI::App* at = app; !at->get_subcommands().empty();) {
      at = at->get_subcommands().front();
      ours = ours || std::find(added.begin(), added.end(), at) != added.end();
      path += " " + at->get_name();
    }
    if (!ours) return CLI::FailureMessage::simple(app, e);
    return "berth: " + std::string(e.what()) + " (see `" + path + " --help`)\n";
  });
}

}  // namespace berth::cli
