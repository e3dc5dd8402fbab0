#include "control/routes.hpp"

#include <array>

namespace berth::control {
namespace {

using enum Operation;

constexpr std::array kRoutes{
    Route{"GET", "/api/v1/openapi.json", OpenApi},
    Route{"GET", "/api/v1/version", ShowVersion},
    Route{"GET", "/api/v1/registries", ListRegistries},
    Route{"POST", "/api/v1/registries", CreateRegistry},
    Route{"POST", "/api/v1/registries/check-name", CheckName},
    Route{"GET", "/api/v1/registries/{registry}", ShowRegistry},
    Route{"PATCH", "/api/v1/registries/{registry}", UpdateRegistry},
    Route{"DELETE", "/api/v1/registries/{registry}", DeleteRegistry},
    Route{"GET", "/api/v1/registries/{registry}/usage", ShowUsage},
    Route{"GET", "/api/v1/registries/{registry}/gc", ShowGc},
    Route{"GET", "/api/v1/registries/{registry}/policies", ShowPolicies},
    Route{"PATCH", "/api/v1/registries/{registry}/policies", UpdatePolicies},
    Route{"GET", "/api/v1/registries/{registry}/purge-schedules", ListPurgeSchedules},
    Route{"POST", "/api/v1/registries/{registry}/purge-schedules", CreatePurgeSchedule},
    Route{"DELETE", "/api/v1/registries/{registry}/purge-schedules/{name}", DeletePurgeSchedule},
    Route{"POST", "/api/v1/registries/{registry}/repositories/{repository}/_purge",
          PurgeRepository},
    Route{"GET", "/api/v1/registries/{registry}/deleted-repositories", ListDeletedRepositories},
    Route{"GET", "/api/v1/registries/{registry}/repositories/{repository}/_deleted",
          ListDeletedManifests},
    Route{"POST",
          "/api/v1/registries/{registry}/repositories/{repository}/_deleted/{digest}/restore",
          RestoreManifest},
    Route{"GET", "/api/v1/registries/{registry}/repositories/{repository}/_tags/{tag}/history",
          TagHistory},
    Route{"POST", "/api/v1/registries/{registry}/repositories/{repository}/_tags/{tag}/rollback",
          RollbackTag},
    Route{"GET", "/api/v1/registries/{registry}/credentials", ShowCredentials},
    Route{"POST", "/api/v1/registries/{registry}/credentials/renew", RenewCredential},
    Route{"POST", "/api/v1/registries/{registry}/login", Login},
    Route{"GET", "/api/v1/registries/{registry}/repositories", ListRepositories},
    Route{"GET", "/api/v1/registries/{registry}/repositories/{repository}", ShowRepository},
    Route{"PATCH", "/api/v1/registries/{registry}/repositories/{repository}", UpdateRepository},
    Route{"DELETE", "/api/v1/registries/{registry}/repositories/{repository}", DeleteRepository},
    Route{"GET", "/api/v1/registries/{registry}/repositories/{repository}/_tags", ListTags},
    Route{"GET", "/api/v1/registries/{registry}/repositories/{repository}/_tags/{tag}", ShowTag},
    Route{"PATCH", "/api/v1/registries/{registry}/repositories/{repository}/_tags/{tag}",
          UpdateTag},
    Route{"DELETE", "/api/v1/registries/{registry}/repositories/{repository}/_tags/{tag}",
          DeleteTag},
    Route{"GET", "/api/v1/registries/{registry}/repositories/{repository}/_manifests",
          ListManifests},
    Route{"GET", "/api/v1/registries/{registry}/repositories/{repository}/_manifests/{digest}",
          ShowManifest},
    Route{"PATCH", "/api/v1/registries/{registry}/repositories/{repository}/_manifests/{digest}",
          UpdateManifest},
    Route{"DELETE", "/api/v1/registries/{registry}/repositories/{repository}/_manifests/{digest}",
          DeleteManifest},
    Route{"GET", "/api/v1/registries/{registry}/scope-maps", ListScopeMaps},
    Route{"POST", "/api/v1/registries/{registry}/scope-maps", CreateScopeMap},
    Route{"GET", "/api/v1/registries/{registry}/scope-maps/{name}", ShowScopeMap},
    Route{"PATCH", "/api/v1/registries/{registry}/scope-maps/{name}", UpdateScopeMap},
    Route{"DELETE", "/api/v1/registries/{registry}/scope-maps/{name}", DeleteScopeMap},
    Route{"GET", "/api/v1/registries/{registry}/tokens", ListTokens},
    Route{"POST", "/api/v1/registries/{registry}/tokens", CreateToken},
    Route{"GET", "/api/v1/registries/{registry}/tokens/{name}", ShowToken},
    Route{"PATCH", "/api/v1/registries/{registry}/tokens/{name}", UpdateToken},
    Route{"DELETE", "/api/v1/registries/{registry}/tokens/{name}", DeleteToken},
    Route{"POST", "/api/v1/registries/{registry}/tokens/{name}/credentials",
          GenerateTokenCredential},
    Route{"DELETE", "/api/v1/registries/{registry}/tokens/{name}/credentials/{password}",
          DeleteTokenCredential},
};

}  // namespace

std::span<const Route> routes() { return kRoutes; }

}  // namespace berth::control
