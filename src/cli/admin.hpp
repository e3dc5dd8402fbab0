#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace berth::cli {

// Adds `berth admin …` to `root`; the chosen command is stored in `action` once parsed.
void addAdminCommands(CLI::App& root, std::function<int()>& action);
// Runs a command, turning its failure into one line on stderr and exit status 1.
int runCommand(const std::function<int()>& action);

}  // namespace berth::cli
