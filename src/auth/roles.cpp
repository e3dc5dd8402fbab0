#include "auth/roles.hpp"

#include <algorithm>
#include <array>

#include "auth/scope.hpp"

namespace berth::auth {
namespace {

struct RoleInfo {
  Role role;
  std::string_view name;
  uint8_t data;
  uint8_t control;
};

constexpr uint8_t kSee = static_cast<uint8_t>(ControlRight::SeeRepositories);
constexpr uint8_t kSeeRegistry = static_cast<uint8_t>(ControlRight::SeeRegistry);
constexpr uint8_t kChange = static_cast<uint8_t>(ControlRight::Change);
constexpr uint8_t kAssign = static_cast<uint8_t>(ControlRight::Assign);

constexpr std::array<RoleInfo, 6> kRoles{{
    {Role::AcrPull, "AcrPull", kContentRead | kMetadataRead, kSee},
    {Role::AcrPush, "AcrPush", kContentRead | kContentWrite | kMetadataRead, kSee},
    {Role::AcrDelete, "AcrDelete", kContentDelete | kMetadataRead, kSee},
    {Role::Reader, "Reader", kContentRead | kMetadataRead, kSee | kSeeRegistry},
    {Role::Contributor, "Contributor", kAllActions, kSee | kSeeRegistry | kChange},
    {Role::Owner, "Owner", kAllActions, kSee | kSeeRegistry | kChange | kAssign},
}};

constexpr std::array<Role, 6> kAll{Role::AcrPull, Role::AcrPush,     Role::AcrDelete,
                                   Role::Reader,  Role::Contributor, Role::Owner};

const RoleInfo& info(Role role) {
  for (const auto& r : kRoles) {
    if (r.role == role) return r;
  }
  return kRoles[0];
}

// A registry's name: 5 to 50 lowercase letters and digits (as the control plane creates them).
bool isRegistryName(std::string_view name) {
  if (name.size() < 5 || name.size() > 50) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

std::optional<Role> parseRole(std::string_view name) {
  for (const auto& r : kRoles) {
    if (r.name == name) return r.role;
  }
  return std::nullopt;
}

std::string_view roleName(Role role) { return info(role).name; }
std::span<const Role> allRoles() { return kAll; }
uint8_t dataActions(Role role) { return info(role).data; }
uint8_t controlRights(Role role) { return info(role).control; }

std::string RoleScope::text() const {
  if (registry.empty()) return "/";
  if (repository.empty()) return "/registries/" + registry;
  return "/registries/" + registry + "/repositories/" + repository;
}

std::optional<RoleScope> parseRoleScope(std::string_view text) {
  if (text == "/") return RoleScope{};
  constexpr std::string_view kRegistries = "/registries/";
  if (!text.starts_with(kRegistries)) return std::nullopt;
  text.remove_prefix(kRegistries.size());
  const auto slash = text.find('/');
  RoleScope scope;
  scope.registry = std::string(text.substr(0, slash));
  if (!isRegistryName(scope.registry)) return std::nullopt;
  if (slash == std::string_view::npos) return scope;
  constexpr std::string_view kRepositories = "/repositories/";
  auto rest = text.substr(slash);
  if (!rest.starts_with(kRepositories)) return std::nullopt;
  rest.remove_prefix(kRepositories.size());
  if (!isValidPattern(rest)) return std::nullopt;
  scope.repository = std::string(rest);
  return scope;
}

uint8_t controlRightsAt(Assignments assignments, std::optional<meta::RegistryId> registry) {
  uint8_t rights = 0;
  for (const auto& a : assignments) {
    const auto role = parseRole(a.role);
    if (!role) continue;
    const bool atDeployment = !a.registry;
    const bool atRegistry = registry && a.registry == registry && a.repository.empty();
    if (atDeployment || atRegistry) rights |= controlRights(*role);
  }
  return rights;
}

bool hasRight(uint8_t rights, ControlRight right) {
  return (rights & static_cast<uint8_t>(right)) != 0;
}

Permissions permissionsIn(Assignments assignments, meta::RegistryId registry) {
  std::vector<Rule> rules;
  for (const auto& a : assignments) {
    if (a.registry && *a.registry != registry) continue;
    const auto role = parseRole(a.role);
    if (!role) continue;
    rules.push_back({a.repository.empty() ? "*" : a.repository, dataActions(*role)});
  }
  return Permissions(std::move(rules));
}

bool reaches(Assignments assignments, meta::RegistryId registry) {
  return std::any_of(assignments.begin(), assignments.end(), [&](const auto& a) {
    return parseRole(a.role) && (!a.registry || *a.registry == registry);
  });
}

}  // namespace berth::auth
