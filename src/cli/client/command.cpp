#include "cli/client/command.hpp"

#include <iostream>

#include "cli/client/output.hpp"

namespace berth::cli::client {
namespace {

std::string oneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

void print(const boost::json::value& value, Format format, const Query& query) {
  std::cout << render(query.apply(value), format) << std::flush;
}

}  // namespace

CommandSet::CommandSet(std::function<int()>& action)
    : action_(&action), globals_(std::make_shared<Globals>()) {}

CLI::App* CommandSet::group(CLI::App& parent, const std::string& name,
                            const std::string& description) {
  auto* group = parent.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

CLI::App* CommandSet::command(CLI::App& parent, const std::string& name,
                              const std::string& description, Run run, std::string defaultFormat) {
  auto* cmd = parent.add_subcommand(name, description);
  cmd->add_option("-o,--output", globals_->output,
                  "Output format: json, table or tsv (default: " + defaultFormat + ")")
      ->type_name("FORMAT")
      ->group("Global options");
  cmd->add_option("--query", globals_->query,
                  "Print only the field at this dotted path, e.g. name, passwords.0.value, "
                  "[].name")
      ->type_name("PATH")
      ->group("Global options");
  cmd->callback([cmd, action = action_, globals = globals_, run = std::move(run),
                 defaultFormat = std::move(defaultFormat)] {
    // A command with subcommands of its own (`purge schedule`) leaves the action to them.
    if (!cmd->get_subcommands().empty()) return;
    *action = [globals, run, defaultFormat] {
      try {
        // Both are checked before anything is sent, so a typo changes nothing.
        const Format format =
            parseFormat(globals->output.empty() ? defaultFormat : globals->output);
        const Query query(globals->query);
        try {
          if (auto out = run()) print(*out, format, query);
        } catch (const FailureAfterOutput& failure) {
          print(failure.output(), format, query);
          throw;
        }
        return 0;
      } catch (const std::exception& e) {
        std::cerr << "berth: " << oneLine(e.what()) << "\n";
        return 1;
      }
    };
  });
  return cmd;
}

}  // namespace berth::cli::client
