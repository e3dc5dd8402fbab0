// Who may call the control API (docs/control-api.md, "Authentication"): the operator token, a
// registry's admin account, a registry's tokens by their scope maps; 401 with a Basic challenge
// without or with wrong credentials, 403 when right but not enough, 401 for another registry's
// credentials, 429 after repeated failed logins.
#include <filesystem>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

class ControlAuthTest : public ControlTest {
 protected:
  // A registry with its admin enabled and one image `team/app:v1`.
  void seed() {
    reg_ = uniqueRegistryName();
    admin_ = createRegistryWithAdmin(reg_);
    img_ = plane(reg_, admin_.basic())->pushImage(repo_, "v1");
  }
  std::string tagPath() const { return repoPath(reg_, repo_, "/_tags/v1"); }
  std::string manifestPath() const {
    return repoPath(reg_, repo_, "/_manifests/" + img_.manifest.digest);
  }

  std::string reg_;
  Identity admin_;
  std::string repo_ = "team/app";
  RegistryClient::Image img_;
};

TEST_F(ControlAuthTest, NoCredentialsIs401WithBasicChallenge) {
  seed();
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/api/v1/registries"},     {"GET", regPath(reg_)},
      {"GET", regPath(reg_, "/usage")},  {"GET", regPath(reg_, "/repositories")},
      {"GET", repoPath(reg_, repo_)},    {"GET", regPath(reg_, "/scope-maps")},
      {"GET", regPath(reg_, "/tokens")}, {"DELETE", regPath(reg_)},
  };
  for (const auto& [method, path] : routes) {
    SCOPED_TRACE(method + " " + path);
    Response r = apiAs("", method, path);
    EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
    EXPECT_EQ(r.headerOr("WWW-Authenticate"), "Basic realm=\"berth\"") << r;
  }
  Response r =
      apiAs("", "POST", "/api/v1/registries", "{\"name\":\"" + uniqueRegistryName() + "\"}");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(r.headerOr("WWW-Authenticate"), "Basic realm=\"berth\"") << r;
  // Nothing happened.
  EXPECT_EQ(api().get(regPath(reg_)).status, 200);
}

TEST_F(ControlAuthTest, WrongOperatorTokenIs401) {
  Response r = apiAs(bearerAuthorization(operatorToken() + "x"), "GET", "/api/v1/registries");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(r.headerOr("WWW-Authenticate"), "Basic realm=\"berth\"") << r;
  r = apiAs(bearerAuthorization(""), "GET", "/api/v1/registries");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  // The operator token is not a password of any registry's admin.
  r = apiAs(basicAuthorization("default", operatorToken()), "GET", "/api/v1/registries");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
}

TEST_F(ControlAuthTest, DataPlaneJwtIsNotAnOperatorToken) {
  // A JWT from the default registry's /oauth2/token (admin credentials) is for /v2 only.
  Response t = http().get("/oauth2/token?service=" + urlEncode(hostPort()) +
                          "&scope=" + urlEncode("repository:x/y:pull"));
  json::Value tok = expectJson(t, 200);
  std::string jwt = str(tok, "token");
  ASSERT_FALSE(jwt.empty()) << t;
  EXPECT_API_ERROR(apiAs(bearerAuthorization(jwt), "GET", "/api/v1/registries"), 401,
                   "UNAUTHORIZED");
  EXPECT_API_ERROR(apiAs(bearerAuthorization(jwt), "GET", regPath("default")), 401, "UNAUTHORIZED");
}

TEST_F(ControlAuthTest, OperatorTokenFileIsCreatedPrivate) {
  // Default location <data>/operator-token, created with a fresh random token, mode 0600.
  std::filesystem::path f = operatorTokenFile();
  ASSERT_TRUE(std::filesystem::exists(f));
  auto perms = std::filesystem::status(f).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
      << "mode of " << f;
  EXPECT_GE(operatorToken().size(), 32u) << "a random token should be long";
  EXPECT_EQ(api().get("/api/v1/registries").status, 200);
}

TEST_F(ControlAuthTest, AdminMayCallItsRegistryRoutes) {
  seed();
  const std::string a = admin_.basic();
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_)).status, 200);
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_, "/usage")).status, 200);
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_, "/credentials")).status, 200);
  EXPECT_EQ(apiAs(a, "POST", regPath(reg_, "/credentials/renew"), R"({"name":"password2"})").status,
            200);
  EXPECT_EQ(apiAs(a, "POST", regPath(reg_, "/login"), "").status, 200);
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_, "/repositories")).status, 200);
  EXPECT_EQ(apiAs(a, "GET", repoPath(reg_, repo_)).status, 200);
  EXPECT_EQ(apiAs(a, "PATCH", repoPath(reg_, repo_), R"({"listEnabled":true})").status, 200);
  EXPECT_EQ(apiAs(a, "GET", repoPath(reg_, repo_, "/_tags")).status, 200);
  EXPECT_EQ(apiAs(a, "GET", tagPath()).status, 200);
  EXPECT_EQ(apiAs(a, "GET", repoPath(reg_, repo_, "/_manifests")).status, 200);
  EXPECT_EQ(apiAs(a, "GET", manifestPath()).status, 200);
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_, "/scope-maps")).status, 200);
  EXPECT_EQ(apiAs(a, "POST", regPath(reg_, "/scope-maps"),
                  R"({"name":"m1","actions":["repositories/team/app/content/read"]})")
                .status,
            201);
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_, "/scope-maps/m1")).status, 200);
  EXPECT_EQ(
      apiAs(a, "POST", regPath(reg_, "/tokens"), R"({"name":"t1","scopeMapName":"m1"})").status,
      201);
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_, "/tokens")).status, 200);
  EXPECT_EQ(apiAs(a, "DELETE", regPath(reg_, "/tokens/t1")).status, 204);
  EXPECT_EQ(apiAs(a, "DELETE", tagPath()).status, 204);
}

TEST_F(ControlAuthTest, AdminMayNotChangeOrDeleteItsRegistry) {
  seed();
  const std::string a = admin_.basic();
  EXPECT_API_ERROR(apiAs(a, "PATCH", regPath(reg_), R"({"anonymousPullEnabled":true})"), 403,
                   "DENIED");
  EXPECT_API_ERROR(apiAs(a, "DELETE", regPath(reg_)), 403, "DENIED");
  json::Value r = expectJson(api().get(regPath(reg_)), 200);
  EXPECT_EQ(boolean(r, "anonymousPullEnabled"), false) << "the refused PATCH changed nothing";
  // Routes outside /registries/{registry} are the operator's.
  EXPECT_API_ERROR(apiAs(a, "GET", "/api/v1/registries"), 403, "DENIED");
  EXPECT_API_ERROR(
      apiAs(a, "POST", "/api/v1/registries", "{\"name\":\"" + uniqueRegistryName() + "\"}"), 403,
      "DENIED");
  EXPECT_API_ERROR(apiAs(a, "POST", "/api/v1/registries/check-name",
                         "{\"name\":\"" + uniqueRegistryName() + "\"}"),
                   403, "DENIED");
}

TEST_F(ControlAuthTest, AdminOfOneRegistryIsUnknownToAnother) {
  seed();
  std::string other = uniqueRegistryName();
  Identity otherAdmin = createRegistryWithAdmin(other);
  EXPECT_API_ERROR(apiAs(admin_.basic(), "GET", regPath(other)), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(apiAs(admin_.basic(), "GET", regPath(other, "/repositories")), 401,
                   "UNAUTHORIZED");
  EXPECT_API_ERROR(apiAs(otherAdmin.basic(), "GET", repoPath(reg_, repo_)), 401, "UNAUTHORIZED");
  // The default registry's admin (the harness's credentials) is unknown to the new one.
  EXPECT_API_ERROR(
      apiAs(basicAuthorization(registryUser(), registryPassword()), "GET", regPath(reg_)), 401,
      "UNAUTHORIZED");
  // ... and known to its own.
  EXPECT_EQ(apiAs(basicAuthorization(registryUser(), registryPassword()), "GET", regPath("default"))
                .status,
            200);
}

TEST_F(ControlAuthTest, WrongOrDisabledAdminIs401) {
  seed();
  EXPECT_API_ERROR(apiAs(basicAuthorization(reg_, admin_.password + "x"), "GET", regPath(reg_)),
                   401, "UNAUTHORIZED");
  ASSERT_EQ(api()
                .patch(regPath(reg_), R"({"adminUserEnabled":false})",
                       {{"Content-Type", "application/json"}})
                .status,
            200);
  Response r = apiAs(admin_.basic(), "GET", regPath(reg_));
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_EQ(r.headerOr("WWW-Authenticate"), "Basic realm=\"berth\"") << r;
}

TEST_F(ControlAuthTest, TokenWithMetadataReadListsAndShowsOnly) {
  seed();
  Identity t = createTokenWithActions(reg_, "reader", {"repositories/*/metadata/read"});
  const std::string a = t.basic();
  EXPECT_EQ(apiAs(a, "GET", regPath(reg_, "/repositories")).status, 200);
  EXPECT_EQ(apiAs(a, "GET", repoPath(reg_, repo_)).status, 200);
  EXPECT_EQ(apiAs(a, "GET", repoPath(reg_, repo_, "/_tags")).status, 200);
  EXPECT_EQ(apiAs(a, "GET", tagPath()).status, 200);
  EXPECT_EQ(apiAs(a, "GET", repoPath(reg_, repo_, "/_manifests")).status, 200);
  EXPECT_EQ(apiAs(a, "GET", manifestPath()).status, 200);
  // Not enough: metadata/write, content/delete, registry routes.
  EXPECT_API_ERROR(apiAs(a, "PATCH", repoPath(reg_, repo_), R"({"writeEnabled":false})"), 403,
                   "DENIED");
  EXPECT_API_ERROR(apiAs(a, "PATCH", tagPath(), R"({"writeEnabled":false})"), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "PATCH", manifestPath(), R"({"writeEnabled":false})"), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "DELETE", tagPath()), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "DELETE", manifestPath()), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "DELETE", repoPath(reg_, repo_)), 403, "DENIED");
  for (const char* p : {"", "/usage", "/credentials", "/scope-maps", "/tokens"}) {
    SCOPED_TRACE(p);
    EXPECT_API_ERROR(apiAs(a, "GET", regPath(reg_, p)), 403, "DENIED");
  }
  EXPECT_API_ERROR(apiAs(a, "POST", regPath(reg_, "/login"), ""), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "POST", regPath(reg_, "/credentials/renew"), R"({"name":"password"})"),
                   403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "POST", regPath(reg_, "/tokens"),
                         R"({"name":"t9","scopeMapName":"_repositories_admin"})"),
                   403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "DELETE", regPath(reg_)), 403, "DENIED");
  // Nothing was locked, untagged or deleted.
  json::Value tag = expectJson(api().get(tagPath()), 200);
  EXPECT_EQ(boolean(*tag.find("changeableAttributes"), "writeEnabled"), true);
  EXPECT_EQ(api().get(regPath(reg_, "/tokens/t9")).status, 404);
}

TEST_F(ControlAuthTest, TokenWithMetadataWriteChangesAttributesOnly) {
  seed();
  Identity t = createTokenWithActions(reg_, "writer", {"repositories/*/metadata/write"});
  const std::string a = t.basic();
  json::Value repo =
      expectJson(apiAs(a, "PATCH", repoPath(reg_, repo_), R"({"listEnabled":false})"), 200);
  EXPECT_EQ(boolean(*repo.find("changeableAttributes"), "listEnabled"), false);
  EXPECT_EQ(apiAs(a, "PATCH", tagPath(), R"({"deleteEnabled":false})").status, 200);
  EXPECT_EQ(apiAs(a, "PATCH", manifestPath(), R"({"deleteEnabled":false})").status, 200);
  // metadata/write does not read (the API lists metadata/read for that) nor delete.
  EXPECT_API_ERROR(apiAs(a, "GET", repoPath(reg_, repo_)), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "GET", regPath(reg_, "/repositories")), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "DELETE", repoPath(reg_, repo_)), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "GET", regPath(reg_, "/tokens")), 403, "DENIED");
}

TEST_F(ControlAuthTest, TokenWithContentDeleteDeletesOnly) {
  seed();
  plane(reg_, admin_.basic())->pushImage(repo_, "v2");
  auto v3 = plane(reg_, admin_.basic())->pushImage(repo_, "v3");
  Identity t = createTokenWithActions(reg_, "deleter", {"repositories/*/content/delete"});
  const std::string a = t.basic();
  EXPECT_API_ERROR(apiAs(a, "GET", repoPath(reg_, repo_)), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(a, "PATCH", repoPath(reg_, repo_), R"({"readEnabled":false})"), 403,
                   "DENIED");
  EXPECT_EQ(apiAs(a, "DELETE", repoPath(reg_, repo_, "/_tags/v2")).status, 204);
  EXPECT_EQ(apiAs(a, "DELETE", repoPath(reg_, repo_, "/_manifests/" + v3.manifest.digest)).status,
            204);
  EXPECT_EQ(apiAs(a, "DELETE", repoPath(reg_, repo_)).status, 200);
  EXPECT_EQ(api().get(repoPath(reg_, repo_)).status, 404);
}

TEST_F(ControlAuthTest, TokenScopeMapPatternLimitsRepositories) {
  seed();
  plane(reg_, admin_.basic())->pushImage("other/app", "v1");
  Identity t = createTokenWithActions(
      reg_, "teamonly",
      {"repositories/team/*/metadata/read", "repositories/team/*/metadata/write"});
  EXPECT_EQ(apiAs(t.basic(), "GET", repoPath(reg_, repo_)).status, 200);
  EXPECT_API_ERROR(apiAs(t.basic(), "GET", repoPath(reg_, "other/app")), 403, "DENIED");
  EXPECT_API_ERROR(
      apiAs(t.basic(), "PATCH", repoPath(reg_, "other/app"), R"({"listEnabled":false})"), 403,
      "DENIED");
}

TEST_F(ControlAuthTest, TokenWithOnlyContentActionsIsDenied) {
  seed();
  Identity c = createTokenWithActions(
      reg_, "content", {"repositories/*/content/read", "repositories/*/content/write"});
  EXPECT_API_ERROR(apiAs(c.basic(), "GET", repoPath(reg_, repo_)), 403, "DENIED");
  EXPECT_API_ERROR(apiAs(c.basic(), "PATCH", tagPath(), R"({"writeEnabled":false})"), 403,
                   "DENIED");
}

TEST_F(ControlAuthTest, TokenOfOneRegistryIsUnknownToAnother) {
  seed();
  std::string other = uniqueRegistryName();
  Identity otherAdmin = createRegistryWithAdmin(other);
  plane(other, otherAdmin.basic())->pushImage(repo_, "v1");
  Identity t = createTokenWithActions(reg_, "shared", {"repositories/*/metadata/read"});
  // The same token name exists in the other registry too, with its own password.
  Identity t2 = createTokenWithActions(other, "shared", {"repositories/*/metadata/read"});
  ASSERT_NE(t.password, t2.password);
  EXPECT_API_ERROR(apiAs(t.basic(), "GET", repoPath(other, repo_)), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(apiAs(t2.basic(), "GET", repoPath(reg_, repo_)), 401, "UNAUTHORIZED");
  EXPECT_EQ(apiAs(t.basic(), "GET", repoPath(reg_, repo_)).status, 200);
  EXPECT_EQ(apiAs(t2.basic(), "GET", repoPath(other, repo_)).status, 200);
}

TEST_F(ControlAuthTest, DisabledTokenIs401) {
  seed();
  Identity t = createTokenWithActions(reg_, "reader", {"repositories/*/metadata/read"});
  ASSERT_EQ(api()
                .patch(regPath(reg_, "/tokens/reader"), R"({"status":"disabled"})",
                       {{"Content-Type", "application/json"}})
                .status,
            200);
  EXPECT_API_ERROR(apiAs(t.basic(), "GET", repoPath(reg_, repo_)), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(apiAs(basicAuthorization("reader", "wrong"), "GET", repoPath(reg_, repo_)), 401,
                   "UNAUTHORIZED");
}

TEST_F(ControlAuthTest, FailedLoginsAreThrottled) {
  seed();
  const std::string wrong = basicAuthorization(reg_, admin_.password + "-wrong");
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE("failed login " + std::to_string(i + 1));
    EXPECT_API_ERROR(apiAs(wrong, "GET", regPath(reg_)), 401, "UNAUTHORIZED");
  }
  Response r = apiAs(wrong, "GET", regPath(reg_));
  EXPECT_API_ERROR(r, 429, "TOO_MANY_REQUESTS");
  EXPECT_TRUE(r.hasHeader("Retry-After")) << r;
  // As on /v2, the limit holds for the right password too until the window has passed.
  EXPECT_API_ERROR(apiAs(admin_.basic(), "GET", regPath(reg_)), 429, "TOO_MANY_REQUESTS");
  // The operator is not that user.
  EXPECT_EQ(api().get(regPath(reg_)).status, 200);
}

}  // namespace
}  // namespace berth_test::control
