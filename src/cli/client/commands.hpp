#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace berth::cli {

// Adds the client commands (configure, registry, credential, login, repository, manifest, token,
// scope-map, check-health), which manage a berth server through its control API. The chosen
// command is stored in `action` once parsed; it prints its result, or one line on stderr and
// returns 1.
void addClientCommands(CLI::App& root, std::function<int()>& action);

}  // namespace berth::cli
