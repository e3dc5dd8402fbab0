#pragma once
// The control plane's routes as data: the router dispatches from this table, and the OpenAPI
// document is checked against it.
#include <span>
#include <string_view>

namespace berth::control {

enum class Operation {
  OpenApi,
  ShowVersion,
  ListRegistries,
  CreateRegistry,
  CheckName,
  ShowRegistry,
  UpdateRegistry,
  DeleteRegistry,
  ShowUsage,
  ShowGc,
  PurgeRepository,
  ListPurgeSchedules,
  CreatePurgeSchedule,
  DeletePurgeSchedule,
  ShowPolicies,
  UpdatePolicies,
  TagHistory,
  RollbackTag,
  ListDeletedRepositories,
  ListDeletedManifests,
  RestoreManifest,
  ShowCredentials,
  RenewCredential,
  Login,
  ListRepositories,
  ShowRepository,
  UpdateRepository,
  DeleteRepository,
  ListTags,
  ShowTag,
  UpdateTag,
  DeleteTag,
  ListManifests,
  ShowManifest,
  UpdateManifest,
  DeleteManifest,
  ListScopeMaps,
  CreateScopeMap,
  ShowScopeMap,
  UpdateScopeMap,
  DeleteScopeMap,
  ListTokens,
  CreateToken,
  ShowToken,
  UpdateToken,
  DeleteToken,
  GenerateTokenCredential,
  DeleteTokenCredential,
  ListWebhooks,
  CreateWebhook,
  ShowWebhook,
  UpdateWebhook,
  DeleteWebhook,
  PingWebhook,
  ListWebhookEvents,
  ShowWebhookConfig,
  ListCredentialSets,
  CreateCredentialSet,
  ShowCredentialSet,
  UpdateCredentialSet,
  DeleteCredentialSet,
  ListCacheRules,
  CreateCacheRule,
  ShowCacheRule,
  UpdateCacheRule,
  DeleteCacheRule,
  ListImports,
  CreateImport,
  ShowImport,
  ListReplications,
  CreateReplication,
  ShowReplication,
  UpdateReplication,
  DeleteReplication,
  SyncReplication,
  ListAudit,
  ListRegistryAudit,
  CreateSession,
  ShowSession,
  DeleteSession,
  ListUsers,
  CreateUser,
  ShowUser,
  DeleteUser,
  SetUserPassword,
  ListServicePrincipals,
  CreateServicePrincipal,
  ShowServicePrincipal,
  DeleteServicePrincipal,
  ResetServicePrincipalCredential,
  DeleteServicePrincipalCredential,
  ListFederatedCredentials,
  CreateFederatedCredential,
  DeleteFederatedCredential,
  ListRoleAssignments,
  CreateRoleAssignment,
  DeleteRoleAssignment,
};

struct Route {
  std::string_view method;  // GET, POST, PATCH, DELETE
  std::string_view path;    // an OpenAPI path template under /api/v1
  Operation operation;
  // What the audit log calls a request on this route ("registry.create"); empty for a read,
  // which is not recorded.
  std::string_view audit = {};
};

// Every route the control plane serves.
std::span<const Route> routes();

// The OpenAPI 3 document served at /api/v1/openapi.json.
std::string_view openApiDocument();

}  // namespace berth::control
