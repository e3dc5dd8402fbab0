#pragma once
// The handlers of the control plane, one file per resource family. Internal to the control
// component: app.cpp routes, authenticates and authorizes, then hands a Call to one of these.
#include <array>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/roles.hpp"
#include "auth/scope.hpp"
#include "control/app.hpp"
#include "control/routes.hpp"
#include "core/result.hpp"
#include "http/message.hpp"

namespace berth::control {

struct Caller {
  enum class Kind { Operator, Admin, Token, Principal };
  Kind kind = Kind::Operator;
  // A token's, or a principal's in the registry of the path; the others may do everything.
  auth::Permissions permissions;
  std::string token;  // the token's name
  // A person's or service principal's id, and its role assignments.
  std::string principal;
  std::vector<meta::RoleAssignmentRecord> roles;

  // Whether `permissions` bound what it may do with repositories (a token or a principal).
  bool limited() const { return kind == Kind::Token || kind == Kind::Principal; }
};

// One routed, authenticated and authorized request. It owns what it refers to besides the
// dependencies (which outlive every request), so that a body sink may keep it.
struct Call {
  ControlDeps deps;
  const Route* route;  // in the static route table
  // Path parameters, as matched ({registry}, {repository}, {tag}, {digest}, {name},
  // {password}).
  std::string registryName, repository, tag, digest, name, password;
  // The registry named in the path, for every route under /registries/{registry}.
  std::optional<meta::RegistrySettings> registry;
  Caller caller;
  std::vector<std::pair<std::string, std::string>> query;
  std::string requestId;
  boost::json::object body;  // POST and PATCH
  std::string remote;        // the client's address and port
  std::string host, userAgent;
  bool secure = false;  // arrived over TLS
  // Set when the request is signed in by the session cookie: its secret and end.
  std::string sessionSecret;
  std::optional<int64_t> sessionExpires;
  std::string credential;  // {credential}: a federated credential's name

  std::optional<std::string_view> param(std::string_view key) const;
  const meta::RegistrySettings& settings() const { return *registry; }
  meta::RegistryId registryId() const { return registry->id; }
  // Who makes a change, as the tag history records it.
  meta::Actor actor() const;
};

using Reply = Result<http::Response>;

// 429 with Retry-After, for a caller over the failed-login limit.
http::Response throttledResponse(const auth::AuthResult& result);

// Loads the role assignments of principal `id` into the caller (and its permissions in
// `registry`, when the request names one).
Result<void> signInPrincipal(Call& c, std::string id);
// Whether the caller may assign roles at `registry` (none: the deployment): the operator, or a
// principal that is Owner there or at the deployment.
bool mayAssign(const Call& c, std::optional<meta::RegistryId> registry);
// Whether the caller may change the registry of the path (not only see it): all but a
// principal without Contributor or Owner there or at the deployment.
bool changesRegistry(const Call& c);

// SKUs: included storage and the number of scope maps and of tokens each allows.
struct Sku {
  std::string_view name;
  uint64_t quotaBytes;
  uint64_t identityLimit;
  uint64_t webhookLimit;
};
inline constexpr std::array<Sku, 3> kSkus{{
    {"Basic", 10 * meta::kGiB, 100, 2},
    {"Standard", 100 * meta::kGiB, 500, 10},
    {"Premium", 500 * meta::kGiB, 50000, 500},
}};
// nullptr for an unknown name.
const Sku* findSku(std::string_view name);
// The SKU of a stored registry (Basic for a name berth does not know).
const Sku& skuOf(const meta::RegistrySettings& registry);

// Scope map and token names: up to 50 letters, digits and dashes, beginning with a letter or
// digit (built-in maps begin with `_`).
inline constexpr std::string_view kIdentityNameRule =
    "has 1 to 50 letters, digits and dashes and begins with a letter or digit";
using auth::isValidIdentityName;

// Scope maps and tokens of the registry that count against its SKU (built-ins excluded).
Result<uint64_t> userScopeMapCount(Call& c);
Result<uint64_t> tokenCount(Call& c);

// {"deleteEnabled", "writeEnabled"[, "readEnabled", "listEnabled"]}: the last two only for
// a repository.
boost::json::object attributesJson(const meta::Attributes& attributes, bool repository);
// The change a PATCH body asks for; `repository` admits readEnabled and listEnabled.
Result<meta::AttributeChange> attributeChange(const boost::json::object& body, bool repository);
// The id of the repository named in the path; NOT_FOUND when there is none.
Result<meta::RepositoryId> repositoryId(Call& c);

// The longest page of a list.
inline constexpr size_t kMaxPage = 1000;

// ?n= (1 to kMaxPage; absent: all) and ?offset= of a list that is sorted in memory.
struct PageWindow {
  uint64_t offset = 0;
  uint64_t count = UINT64_MAX;
};
Result<PageWindow> pageWindow(const Call& c);
// Whether `part` occurs in `text`, ignoring ASCII case (the ?q= of a list).
bool containsFolded(std::string_view text, std::string_view part);

enum class Order { TimeDesc, TimeAsc, Name };
// ?orderby=: time_desc (also when absent), time_asc, and with `byName` name.
Result<Order> orderOf(const Call& c, bool byName);

// registries.cpp
Reply listRegistries(Call& c);
Reply createRegistry(Call& c);
Reply checkName(Call& c);
Reply showRegistry(Call& c);
Reply updateRegistry(Call& c);
Reply deleteRegistry(Call& c);
Reply showUsage(Call& c);
Reply showGc(Call& c);

// lifecycle.cpp
Reply purgeRepository(Call& c);
Reply listPurgeSchedules(Call& c);
Reply createPurgeSchedule(Call& c);
Reply deletePurgeSchedule(Call& c);
Reply showPolicies(Call& c);
Reply updatePolicies(Call& c);
Reply tagHistory(Call& c);
Reply rollbackTag(Call& c);
Reply listDeletedRepositories(Call& c);
Reply listDeletedManifests(Call& c);
Reply restoreManifest(Call& c);

// identities.cpp
Reply showCredentials(Call& c);
Reply renewCredential(Call& c);
Reply login(Call& c);
Reply listScopeMaps(Call& c);
Reply createScopeMap(Call& c);
Reply showScopeMap(Call& c);
Reply updateScopeMap(Call& c);
Reply deleteScopeMap(Call& c);

// tokens.cpp
Reply listTokens(Call& c);
Reply createToken(Call& c);
Reply showToken(Call& c);
Reply updateToken(Call& c);
Reply deleteToken(Call& c);
Reply generateTokenCredential(Call& c);
Reply deleteTokenCredential(Call& c);

// webhooks.cpp
Reply listWebhooks(Call& c);
Reply createWebhook(Call& c);
Reply showWebhook(Call& c);
Reply updateWebhook(Call& c);
Reply deleteWebhook(Call& c);
Reply pingWebhook(Call& c);
Reply listWebhookEvents(Call& c);
Reply showWebhookConfig(Call& c);
Reply listCredentialSets(Call& c);
Reply createCredentialSet(Call& c);
Reply showCredentialSet(Call& c);
Reply updateCredentialSet(Call& c);
Reply deleteCredentialSet(Call& c);
Reply listCacheRules(Call& c);
Reply createCacheRule(Call& c);
Reply showCacheRule(Call& c);
Reply updateCacheRule(Call& c);
Reply deleteCacheRule(Call& c);
Reply listImports(Call& c);
Reply createImport(Call& c);
Reply showImport(Call& c);
Reply listReplications(Call& c);
Reply createReplication(Call& c);
Reply showReplication(Call& c);
Reply updateReplication(Call& c);
Reply deleteReplication(Call& c);
Reply syncReplication(Call& c);
Reply listAudit(Call& c);

// principals.cpp
Reply listUsers(Call& c);
Reply createUser(Call& c);
Reply showUser(Call& c);
Reply deleteUser(Call& c);
Reply setUserPassword(Call& c);
Reply listServicePrincipals(Call& c);
Reply createServicePrincipal(Call& c);
Reply showServicePrincipal(Call& c);
Reply deleteServicePrincipal(Call& c);
Reply resetServicePrincipalCredential(Call& c);
Reply deleteServicePrincipalCredential(Call& c);
Reply listFederatedCredentials(Call& c);
Reply createFederatedCredential(Call& c);
Reply deleteFederatedCredential(Call& c);
Reply listRoleAssignments(Call& c);
// {"id","assignee","role","scope","createdTime"}.
Result<boost::json::object> roleAssignmentJson(const ControlDeps& deps,
                                               const meta::RoleAssignmentRecord& a);
Reply createRoleAssignment(Call& c);
Reply deleteRoleAssignment(Call& c);

// repositories.cpp
Reply listRepositories(Call& c);
Reply showRepository(Call& c);
Reply updateRepository(Call& c);
Reply deleteRepository(Call& c);

// artifacts.cpp
Reply listTags(Call& c);
Reply showTag(Call& c);
Reply updateTag(Call& c);
Reply deleteTag(Call& c);
Reply listManifests(Call& c);
Reply showManifest(Call& c);
Reply updateManifest(Call& c);
Reply deleteManifest(Call& c);

}  // namespace berth::control
