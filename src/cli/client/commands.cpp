#include "cli/client/commands.hpp"

#include <algorithm>

#include "cli/client/groups.hpp"

namespace berth::cli {

void addClientCommands(CLI::App& root, std::function<int()>& action) {
  const auto before = root.get_subcommands({});
  client::CommandSet set(action);
  client::addConfigureCommand(set, root);
  client::addRegistryCommands(set, root);
  client::addCredentialCommands(set, root);
  client::addLoginCommand(set, root);
  client::addRepositoryCommands(set, root);
  client::addTokenCommands(set, root);
  client::addScopeMapCommands(set, root);
  client::addCheckHealthCommand(set, root);
  // `berth --help` lists them apart from serve and admin, which work on the machine itself.
  for (CLI::App* cmd : root.get_subcommands({})) {
    if (std::find(before.begin(), before.end(), cmd) == before.end()) {
      cmd->group("Client commands (over the control API, see `berth configure`)");
    }
  }
}

}  // namespace berth::cli
