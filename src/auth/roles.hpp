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

}  // namespace berth::auth
