// People, service principals and role assignments on the control API (docs/control-api.md,
// "Principals and roles"), and what their roles let them do on /v2: a service principal made
// with a role at a repository pattern pushes there and nowhere else, a user with a password
// signs in wherever its roles reach, and every change takes effect at once.
#include <chrono>
#include <thread>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

class PrincipalsApiTest : public AdminRegistryTest {
 protected:
  long v2As(const std::string& registry, const std::string& user, const std::string& pw) {
    return plane(registry, basicAuthorization(user, pw))->get("/v2/").status;
  }
  json::Value createSp(const std::string& body) {
    return expectJson(api().post("/api/v1/service-principals", body, kJson), 201);
  }
};

TEST_F(PrincipalsApiTest, AServicePrincipalPushesWhereItsRoleReachesAndNowhereElse) {
  json::Value sp = createSp(R"({"name":"ci","role":"AcrPush","scopes":["/registries/)" + reg_ +
                            R"(/repositories/team/*"]})");
  const std::string appId = str(sp, "appId");
  const std::string secret = str(sp, "password");
  ASSERT_EQ(appId.size(), 36u) << "a UUID";
  ASSERT_EQ(secret.size(), 43u);
  EXPECT_TRUE(isRfc3339Utc(str(sp, "endTime")));
  const json::Value* assigned = member(sp, "roleAssignments");
  ASSERT_TRUE(assigned && assigned->isArray() && assigned->asArray().size() == 1u);
  EXPECT_EQ(str(assigned->asArray()[0], "scope"), "/registries/" + reg_ + "/repositories/team/*");

  auto pusher = plane(reg_, basicAuthorization(appId, secret));
  pusher->pushImage("team/app", "v1");
  EXPECT_REGISTRY_ERROR(pusher->post("/v2/other/blobs/uploads/"), 403, "DENIED");
  EXPECT_EQ(v2As(reg_, appId, "wrong"), 401);
  // The secret is shown once.
  json::Value shown = expectJson(api().get("/api/v1/service-principals/" + appId), 200);
  EXPECT_EQ(shown.find("password"), nullptr);
  EXPECT_EQ(str(shown, "displayName"), "ci");

  // Its assignment removed: its next push is refused.
  json::Value list = expectJson(api().get("/api/v1/role-assignments?assignee=" + appId), 200);
  ASSERT_TRUE(list.isArray() && list.asArray().size() == 1u);
  ASSERT_EQ(api().del("/api/v1/role-assignments/" + str(list.asArray()[0], "id")).status, 204);
  EXPECT_REGISTRY_ERROR(pusher->post("/v2/team/app/blobs/uploads/"), 403, "DENIED");
}

TEST_F(PrincipalsApiTest, ANewClientSecretReplacesTheOldUnlessAppended) {
  json::Value sp = createSp(R"({"name":"rotating","role":"AcrPull","scopes":["/"]})");
  const std::string appId = str(sp, "appId");
  const std::string first = str(sp, "password");
  EXPECT_EQ(v2As(reg_, appId, first), 200);
  json::Value appended =
      expectJson(api().post("/api/v1/service-principals/" + appId + "/credentials",
                            R"({"append":true,"years":2})", kJson),
                 200);
  const std::string second = str(appended, "password");
  EXPECT_EQ(v2As(reg_, appId, first), 200);
  EXPECT_EQ(v2As(reg_, appId, second), 200);
  json::Value reset = expectJson(
      api().post("/api/v1/service-principals/" + appId + "/credentials", "{}", kJson), 200);
  const std::string third = str(reset, "password");
  EXPECT_EQ(v2As(reg_, appId, first), 401);
  EXPECT_EQ(v2As(reg_, appId, second), 401);
  EXPECT_EQ(v2As(reg_, appId, third), 200);
  ASSERT_EQ(api()
                .del("/api/v1/service-principals/" + appId + "/credentials/" + str(reset, "keyId"))
                .status,
            204);
  EXPECT_EQ(v2As(reg_, appId, third), 401);
  EXPECT_API_ERROR(
      api().post("/api/v1/service-principals/" + appId + "/credentials", R"({"years":11})", kJson),
      400, "INVALID_ARGUMENT");
  ASSERT_EQ(api().del("/api/v1/service-principals/" + appId).status, 204);
  EXPECT_API_ERROR(api().get("/api/v1/service-principals/" + appId), 404, "NOT_FOUND");
}

TEST_F(PrincipalsApiTest, AUserSignsInWhereverItsRolesReach) {
  json::Value user = expectJson(
      api().post("/api/v1/users", R"({"name":"alice","password":"correct horse battery"})", kJson),
      201);
  EXPECT_EQ(boolean(user, "passwordSet"), true);
  const std::string other = uniqueRegistryName();
  createRegistry(other);
  ASSERT_EQ(api()
                .post("/api/v1/role-assignments",
                      R"({"assignee":"alice","role":"Reader","scope":"/"})", kJson)
                .status,
            201);
  p_->pushImage("team/app", "v1");
  auto reader = plane(reg_, basicAuthorization("alice", "correct horse battery"));
  EXPECT_EQ(reader->getManifest("team/app", "v1").status, 200);
  EXPECT_REGISTRY_ERROR(reader->post("/v2/team/app/blobs/uploads/"), 403, "DENIED");
  EXPECT_EQ(v2As(other, "alice", "correct horse battery"), 200);
  // A new password takes effect at once; the user deleted signs in nowhere.
  ASSERT_EQ(api()
                .post("/api/v1/users/alice/password", R"({"password":"another long one"})", kJson)
                .status,
            204);
  EXPECT_EQ(v2As(reg_, "alice", "correct horse battery"), 401);
  EXPECT_EQ(v2As(reg_, "alice", "another long one"), 200);
  ASSERT_EQ(api().del("/api/v1/users/alice").status, 204);
  EXPECT_EQ(v2As(reg_, "alice", "another long one"), 401);
  EXPECT_TRUE(
      expectJson(api().get("/api/v1/role-assignments?assignee=alice"), 200).asArray().empty());
}

TEST_F(PrincipalsApiTest, BadRequestsAreRefusedAndNothingIsStored) {
  EXPECT_API_ERROR(api().post("/api/v1/users", R"({"name":"Bad Name"})", kJson), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(api().post("/api/v1/users", R"({"name":"bob","password":"short"})", kJson), 400,
                   "INVALID_ARGUMENT");
  ASSERT_EQ(api().post("/api/v1/users", R"({"name":"bob"})", kJson).status, 201);
  EXPECT_API_ERROR(api().post("/api/v1/users", R"({"name":"bob"})", kJson), 409, "CONFLICT");
  EXPECT_API_ERROR(
      api().post("/api/v1/users/nobody/password", R"({"password":"long enough password"})", kJson),
      404, "NOT_FOUND");
  auto assignment = [&](const std::string& body) {
    return api().post("/api/v1/role-assignments", body, kJson);
  };
  EXPECT_API_ERROR(assignment(R"({"assignee":"bob","role":"Boss","scope":"/"})"), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(assignment(R"({"assignee":"bob","role":"Reader","scope":"/elsewhere"})"), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(
      assignment(R"({"assignee":"bob","role":"Reader","scope":"/registries/nosuchregistry"})"), 404,
      "NOT_FOUND");
  EXPECT_API_ERROR(assignment(R"({"assignee":"nobody","role":"Reader","scope":"/"})"), 404,
                   "NOT_FOUND");
  ASSERT_EQ(assignment(R"({"assignee":"bob","role":"Reader","scope":"/registries/)" + reg_ + "\"}")
                .status,
            201);
  EXPECT_API_ERROR(
      assignment(R"({"assignee":"bob","role":"Reader","scope":"/registries/)" + reg_ + "\"}"), 409,
      "CONFLICT");
  EXPECT_API_ERROR(api().post("/api/v1/service-principals",
                              R"({"name":"x","role":"Reader","scopes":["/nowhere"]})", kJson),
                   400, "INVALID_ARGUMENT");
  EXPECT_TRUE(expectJson(api().get("/api/v1/service-principals"), 200).asArray().empty())
      << "a refused create left a service principal";
  EXPECT_API_ERROR(api().del("/api/v1/role-assignments/nothing"), 404, "NOT_FOUND");
  // Scoped to a registry, an assignment goes with it.
  json::Value byScope =
      expectJson(api().get("/api/v1/role-assignments?scope=/registries/" + reg_), 200);
  ASSERT_EQ(byScope.asArray().size(), 1u);
  ASSERT_EQ(api().del(regPath(reg_)).status, 204);
  EXPECT_TRUE(
      expectJson(api().get("/api/v1/role-assignments?assignee=bob"), 200).asArray().empty());
}

TEST_F(PrincipalsApiTest, ARegistrysAdminAccountManagesNoPrincipals) {
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/v1/users"},
                                                        {"POST", "/api/v1/users"},
                                                        {"GET", "/api/v1/service-principals"},
                                                        {"GET", "/api/v1/role-assignments"},
                                                        {"POST", "/api/v1/role-assignments"}}) {
    auto r = apiAs(admin_.basic(), method, path,
                   method == "POST" ? std::optional<std::string_view>("{}") : std::nullopt);
    EXPECT_API_ERROR(r, 403, "DENIED") << method << " " << path;
  }
  EXPECT_API_ERROR(apiAs("", "GET", "/api/v1/users"), 401, "UNAUTHORIZED");
}

TEST_F(PrincipalsApiTest, AUserSignsInToTheDeploymentAndActsByItsRoles) {
  const std::string other = uniqueRegistryName();
  createRegistry(other);
  const std::string pw = "alice-password-1";
  expectJson(api().post("/api/v1/users", R"({"name":"alice","password":")" + pw + "\"}", kJson),
             201);
  expectJson(
      api().post("/api/v1/role-assignments",
                 R"({"assignee":"alice","role":"AcrPush","scope":"/registries/)" + reg_ + "\"}",
                 kJson),
      201);
  // Signed in without a registry: the deployment's session, its roles in the reply.
  auto r = signInSession(api(), R"({"username":"alice","password":")" + pw + "\"}");
  ASSERT_EQ(r.status, 201) << r;
  const std::string cookie = sessionCookieOf(r);
  json::Value session = expectJson(r, 201);
  EXPECT_EQ(str(session, "kind"), "principal");
  EXPECT_EQ(str(session, "identity"), "principal:alice");
  EXPECT_TRUE(member(session, "registry")->isNull());
  const json::Value* roles = member(session, "roles");
  ASSERT_TRUE(roles && roles->isArray() && roles->asArray().size() == 1u);
  EXPECT_EQ(str(roles->asArray()[0], "role"), "AcrPush");
  EXPECT_EQ(str(roles->asArray()[0], "scope"), "/registries/" + reg_);

  // An AcrPush on one registry sees that registry only, and changes nothing of it.
  auto listed = expectJson(asSession(api(), cookie, "GET", "/api/v1/registries"), 200);
  EXPECT_EQ(strings(&listed, "name"), std::vector<std::string>{reg_});
  EXPECT_EQ(asSession(api(), cookie, "GET", regPath(reg_)).status, 200);
  EXPECT_API_ERROR(asSession(api(), cookie, "GET", regPath(other)), 403, "DENIED");
  EXPECT_API_ERROR(
      asSession(api(), cookie, "PATCH", regPath(reg_), R"({"anonymousPullEnabled":true})"), 403,
      "DENIED");
  EXPECT_API_ERROR(asSession(api(), cookie, "GET", "/api/v1/users"), 403, "DENIED");
  // Basic credentials above the registries act alike.
  auto basic = expectJson(apiAs(basicAuthorization("alice", pw), "GET", "/api/v1/registries"), 200);
  EXPECT_EQ(strings(&basic, "name"), std::vector<std::string>{reg_});
  // Its refresh token from .../login pushes as alice would.
  json::Value login = expectJson(asSession(api(), cookie, "POST", regPath(reg_, "/login")), 200);
  const std::string refresh = str(login, "refreshToken");
  auto pusher = plane(reg_, basicAuthorization(kRefreshUser, refresh));
  pusher->pushImage("team/app", "v1");
  EXPECT_REGISTRY_ERROR(pusher->del("/v2/team/app/manifests/v1"), 403, "DENIED");
  // A refresh token never renews itself: a token request signed in by it hands it back, and
  // it is no credential of the control API (whose .../login would make a new one).
  auto renewed = pusher->get("/oauth2/token?service=" + registryHost(reg_) +
                             "&scope=repository:team/app:pull&offline_token=true");
  EXPECT_EQ(str(expectJson(renewed, 200), "refresh_token"), refresh);
  EXPECT_API_ERROR(
      apiAs(basicAuthorization(kRefreshUser, refresh), "POST", regPath(reg_, "/login")), 401,
      "UNAUTHORIZED");

  // Naming a registry at sign-in still makes the deployment's session.
  auto named = signInSession(
      api(), R"({"registry":")" + reg_ + R"(","username":"alice","password":")" + pw + "\"}");
  ASSERT_EQ(named.status, 201) << named;
  EXPECT_EQ(str(expectJson(named, 201), "kind"), "principal");

  // A new password ends the sessions of the old one; deleting the user ends them all.
  ASSERT_EQ(api()
                .post("/api/v1/users/alice/password", R"({"password":"alice-password-2"})", kJson)
                .status,
            204);
  EXPECT_API_ERROR(asSession(api(), cookie, "GET", "/api/v1/registries"), 401, "UNAUTHORIZED");
  const std::string again = sessionCookieOf(
      signInSession(api(), R"({"username":"alice","password":"alice-password-2"})"));
  EXPECT_EQ(asSession(api(), again, "GET", "/api/v1/session").status, 200);
  ASSERT_EQ(api().del("/api/v1/users/alice").status, 204);
  EXPECT_API_ERROR(asSession(api(), again, "GET", "/api/v1/session"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(signInSession(api(), R"({"username":"alice","password":"alice-password-2"})"),
                   401, "UNAUTHORIZED");
  EXPECT_EQ(pusher->get("/v2/").status, 401) << "the deleted user's refresh token";
  // A new user of the same name is another principal: the old one's tokens stay dead.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  expectJson(
      api().post("/api/v1/users", R"({"name":"alice","password":"alice-password-3"})", kJson), 201);
  expectJson(api().post("/api/v1/role-assignments",
                        R"({"assignee":"alice","role":"Owner","scope":"/"})", kJson),
             201);
  EXPECT_EQ(pusher->get("/v2/").status, 401) << "a refresh token of the earlier alice";
}

TEST_F(PrincipalsApiTest, AClientSecretPastItsEndIsRefusedEverywhere) {
  json::Value sp = createSp(R"({"name":"old","role":"Owner","scopes":["/"],)"
                            R"("endDate":"2020-01-01T00:00:00Z"})");
  const std::string appId = str(sp, "appId");
  const std::string expired = str(sp, "password");
  EXPECT_EQ(str(sp, "endTime"), "2020-01-01T00:00:00Z");
  EXPECT_EQ(v2As(reg_, appId, expired), 401);
  EXPECT_API_ERROR(apiAs(basicAuthorization(appId, expired), "GET", "/api/v1/registries"), 401,
                   "UNAUTHORIZED");
  EXPECT_API_ERROR(
      signInSession(api(), R"({"username":")" + appId + R"(","password":")" + expired + "\"}"), 401,
      "UNAUTHORIZED");
  // A secret that has not ended works, beside the ended one.
  json::Value fresh =
      expectJson(api().post("/api/v1/service-principals/" + appId + "/credentials",
                            R"({"append":true,"endDate":"2030-01-01T00:00:00Z"})", kJson),
                 200);
  EXPECT_EQ(v2As(reg_, appId, str(fresh, "password")), 200);
  EXPECT_EQ(v2As(reg_, appId, expired), 401);
  for (const char* body : {R"({"endDate":"2099-01-01T00:00:00Z"})", R"({"endDate":"soon"})",
                           R"({"years":2,"endDate":"2030-01-01T00:00:00Z"})"}) {
    EXPECT_API_ERROR(
        api().post("/api/v1/service-principals/" + appId + "/credentials", body, kJson), 400,
        "INVALID_ARGUMENT")
        << body;
  }
}

TEST_F(PrincipalsApiTest, ARegistryOwnerAssignsRolesThereAndSeesOnlyThose) {
  const std::string other = uniqueRegistryName();
  createRegistry(other);
  for (const char* name : {"owner", "member", "stranger"}) {
    expectJson(
        api().post("/api/v1/users",
                   R"({"name":")" + std::string(name) + R"(","password":"long-enough-pw"})", kJson),
        201);
  }
  auto assign = [&](const std::string& who, const std::string& role, const std::string& scope) {
    return api().post(
        "/api/v1/role-assignments",
        R"({"assignee":")" + who + R"(","role":")" + role + R"(","scope":")" + scope + "\"}",
        kJson);
  };
  ASSERT_EQ(assign("owner", "Owner", "/registries/" + reg_).status, 201);
  ASSERT_EQ(assign("stranger", "AcrPull", "/registries/" + other).status, 201);
  const std::string owner = basicAuthorization("owner", "long-enough-pw");
  auto made = apiAs(owner, "POST", "/api/v1/role-assignments",
                    R"({"assignee":"member","role":"AcrPush","scope":"/registries/)" + reg_ +
                        R"(/repositories/team/*"})");
  const std::string madeId = str(expectJson(made, 201), "id");
  EXPECT_API_ERROR(
      apiAs(owner, "POST", "/api/v1/role-assignments",
            R"({"assignee":"member","role":"AcrPush","scope":"/registries/)" + other + "\"}"),
      403, "DENIED");
  EXPECT_API_ERROR(apiAs(owner, "POST", "/api/v1/role-assignments",
                         R"({"assignee":"owner","role":"Owner","scope":"/"})"),
                   403, "DENIED");
  // Nor does it learn which registries exist: an unknown one is refused as another's is.
  EXPECT_API_ERROR(apiAs(owner, "POST", "/api/v1/role-assignments",
                         R"({"assignee":"member","role":"AcrPull","scope":"/registries/nosuch1"})"),
                   403, "DENIED");
  // It sees its own assignment and those of its registry, not the other registry's.
  json::Value seen = expectJson(apiAs(owner, "GET", "/api/v1/role-assignments"), 200);
  std::vector<std::string> assignees = strings(&seen, "assignee");
  std::sort(assignees.begin(), assignees.end());
  EXPECT_EQ(assignees, (std::vector<std::string>{"member", "owner"}));
  // And removes only what it may assign.
  json::Value all = expectJson(api().get("/api/v1/role-assignments?assignee=stranger"), 200);
  EXPECT_API_ERROR(
      apiAs(owner, "DELETE", "/api/v1/role-assignments/" + str(all.asArray()[0], "id")), 403,
      "DENIED");
  EXPECT_EQ(apiAs(owner, "DELETE", "/api/v1/role-assignments/" + madeId).status, 204);
  // A webhook's URI (whose path often holds a chat service's secret) shows whole only to who
  // may change the registry: a Reader sees its scheme and host.
  ASSERT_EQ(api()
                .post(regPath(reg_, "/webhooks"),
                      R"({"name":"chat","serviceUri":"https://hooks.example/T0/B0/secret",)"
                      R"("actions":["push"]})",
                      kJson)
                .status,
            201);
  ASSERT_EQ(assign("member", "Reader", "/registries/" + reg_).status, 201);
  json::Value hooks = expectJson(
      apiAs(basicAuthorization("member", "long-enough-pw"), "GET", regPath(reg_, "/webhooks")),
      200);
  EXPECT_EQ(str(hooks.asArray()[0], "serviceUri"), "https://hooks.example");
  json::Value full = expectJson(apiAs(owner, "GET", regPath(reg_, "/webhooks/chat")), 200);
  EXPECT_EQ(str(full, "serviceUri"), "https://hooks.example/T0/B0/secret");
}

TEST_F(PrincipalsApiTest, FederatedCredentialsAreCheckedAndBounded) {
  const std::string appId = str(createSp(R"({"name":"gha"})"), "appId");
  const std::string base = "/api/v1/service-principals/" + appId + "/federated-credentials";
  json::Value made = expectJson(
      api().post(base,
                 R"({"name":"main","issuer":"https://token.actions.githubusercontent.com",)"
                 R"("subject":"repo:org/app:ref:refs/heads/*"})",
                 kJson),
      201);
  EXPECT_EQ(str(made, "subject"), "repo:org/app:ref:refs/heads/*");
  EXPECT_EQ(strings(member(made, "audiences")),
            std::vector<std::string>{"api://BerthTokenExchange"});
  EXPECT_TRUE(isRfc3339Utc(str(made, "createdTime")));
  EXPECT_API_ERROR(
      api().post(base, R"({"name":"main","issuer":"https://other.example","subject":"x"})", kJson),
      409, "CONFLICT");
  for (const char* bad : {
           R"({"name":"a","issuer":"ftp://x.example","subject":"s"})",
           // Plain http only with oidc_allow_http, which this server does not set.
           R"({"name":"a","issuer":"http://x.example","subject":"s"})",
           R"({"name":"a","issuer":"https://x.example","subject":"*"})",
           // Patterns that would trust others' workloads (repo:orgevil/... for repo:org*).
           R"({"name":"a","issuer":"https://x.example","subject":"repo:*"})",
           R"({"name":"a","issuer":"https://x.example","subject":"repo:org*"})",
           R"({"name":"a","issuer":"https://x.example/?q=1","subject":"s"})",
           R"({"name":"a","issuer":"https://x.example","subject":"repo:*:main"})",
           R"({"name":"a","issuer":"https://x.example","subject":""})",
           R"({"name":"-a","issuer":"https://x.example","subject":"s"})",
           R"({"name":"a","issuer":"https://x.example"})",
       }) {
    EXPECT_API_ERROR(api().post(base, bad, kJson), 400, "INVALID_ARGUMENT") << bad;
  }
  for (int i = 1; i < 20; ++i) {
    ASSERT_EQ(api()
                  .post(base,
                        R"({"name":"c)" + std::to_string(i) +
                            R"(","issuer":"https://x.example","subject":"s","audience":"a"})",
                        kJson)
                  .status,
              201);
  }
  EXPECT_API_ERROR(
      api().post(base, R"({"name":"c20","issuer":"https://x.example","subject":"s"})", kJson), 403,
      "DENIED");
  EXPECT_EQ(expectJson(api().get(base), 200).asArray().size(), 20u);
  EXPECT_EQ(api().del(base + "/main").status, 204);
  EXPECT_API_ERROR(api().del(base + "/main"), 404, "NOT_FOUND");
  // Users have none; nor does a service principal that is gone.
  expectJson(api().post("/api/v1/users", R"({"name":"carol"})", kJson), 201);
  EXPECT_API_ERROR(api().get("/api/v1/service-principals/carol/federated-credentials"), 404,
                   "NOT_FOUND");
  ASSERT_EQ(api().del("/api/v1/service-principals/" + appId).status, 204);
  EXPECT_API_ERROR(api().get(base), 404, "NOT_FOUND");
}

}  // namespace
}  // namespace berth_test::control
