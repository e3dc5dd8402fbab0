// People, service principals and role assignments on the control API (docs/control-api.md,
// "Principals and roles"), and what their roles let them do on /v2: a service principal made
// with a role at a repository pattern pushes there and nowhere else, a user with a password
// signs in wherever its roles reach, and every change takes effect at once.
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

TEST_F(PrincipalsApiTest, OnlyTheOperatorManagesPrincipals) {
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

}  // namespace
}  // namespace berth_test::control
