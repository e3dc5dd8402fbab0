#pragma once
// Roles, with ACR's names and meanings, assigned to people and service principals at a scope:
// the deployment ("/"), a registry ("/registries/R") or a repository pattern within a registry
// ("/registries/R/repositories/team/*").
//
// | role        | data plane (scope-map actions)          | control plane                        |
// |-------------|-----------------------------------------|--------------------------------------|
// | AcrPull     | content/read, metadata/read             | see repositories, tags, manifests    |
// | AcrPush     | AcrPull's and content/write             | the same                             |
// | AcrDelete   | content/delete, metadata/read           | the same, and delete them            |
// | Reader      | content/read, metadata/read             | see everything of the registry       |
// | Contributor | every action                            | change everything of the registry    |
// | Owner       | every action                            | Contributor's, and assign roles      |
//
// At the deployment, Contributor and Owner also create registries, and Owner manages people
// and service principals.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "auth/scope.hpp"
#include "meta/identity_store.hpp"

namespace berth::auth {

enum class Role { AcrPull, AcrPush, AcrDelete, Reader, Contributor, Owner };

std::optional<Role> parseRole(std::string_view name);
std::string_view roleName(Role role);
std::span<const Role> allRoles();

// What a role grants on the repositories it covers, as scope-map action bits.
uint8_t dataActions(Role role);

// What a role lets a caller do on the control plane at its scope.
enum class ControlRight : uint8_t {
  None = 0,
  SeeRepositories = 1,  // list and show repositories, tags, manifests, their history
  SeeRegistry = 2,      // the registry itself: settings, usage, credentials' names, tokens
  Change = 4,           // change anything of the registry but role assignments
  Assign = 8,           // assign roles at the scope
};
uint8_t controlRights(Role role);

// A role assignment's scope, parsed: "/", "/registries/R", "/registries/R/repositories/P".
struct RoleScope {
  std::string registry;    // empty: the deployment
  std::string repository;  // empty: the whole registry (or deployment); else a pattern
  std::string text() const;
};
// nullopt when `text` is none of the three shapes, or names a registry or pattern outside the
// grammar.
std::optional<RoleScope> parseRoleScope(std::string_view text);

// What a principal's role assignments give it. Assignments of roles this berth does not know
// (written by a newer one) give nothing.
using Assignments = std::span<const meta::RoleAssignmentRecord>;
// Control rights at the deployment (no registry): its assignments at "/"; at a registry, those
// and its assignments to the whole registry. Repository-pattern assignments give no control
// right of their own: their data actions decide the repository routes.
uint8_t controlRightsAt(Assignments assignments, std::optional<meta::RegistryId> registry);
bool hasRight(uint8_t rights, ControlRight right);
// Scope-map permissions in `registry`: the data actions of its assignments at "/", at the
// registry and at the registry's repository patterns.
Permissions permissionsIn(Assignments assignments, meta::RegistryId registry);
// Whether any assignment reaches `registry` (at "/", the registry or one of its patterns).
bool reaches(Assignments assignments, meta::RegistryId registry);

}  // namespace berth::auth
