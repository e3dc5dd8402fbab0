#pragma once
#include <CLI/CLI.hpp>

#include "cli/client/command.hpp"

// One function per command group, each in its own file.
namespace berth::cli::client {

void addConfigureCommand(CommandSet& set, CLI::App& root);
void addRegistryCommands(CommandSet& set, CLI::App& root);
void addCredentialCommands(CommandSet& set, CLI::App& root);
void addLoginCommand(CommandSet& set, CLI::App& root);
void addLogoutCommand(CommandSet& set, CLI::App& root);
// `berth user`, `berth sp`, `berth role assignment`.
void addPrincipalCommands(CommandSet& set, CLI::App& root);
void addRepositoryCommands(CommandSet& set, CLI::App& root);
void addManifestCommands(CommandSet& set, CLI::App& root);
void addTokenCommands(CommandSet& set, CLI::App& root);
void addScopeMapCommands(CommandSet& set, CLI::App& root);
void addCheckHealthCommand(CommandSet& set, CLI::App& root);
void addLifecycleCommands(CommandSet& set, CLI::App& root);
// `berth webhook …` and `berth audit list`.
void addEventCommands(CommandSet& set, CLI::App& root);
// `berth credential-set …`, `berth import`, `berth import-job …`, `berth cache …`.
void addUpstreamCommands(CommandSet& set, CLI::App& root);
// `berth replication …`.
void addReplicationCommands(CommandSet& set, CLI::App& root);
// tag-history and tag-rollback, under `berth repository`.
void addTagHistoryCommands(CommandSet& set, CLI::App& repository);
// Soft delete: `berth repository list-deleted`, `berth manifest list-deleted|restore`.
void addDeletedRepositoryCommand(CommandSet& set, CLI::App& repository);
void addDeletedManifestCommands(CommandSet& set, CLI::App& manifest);

}  // namespace berth::cli::client
