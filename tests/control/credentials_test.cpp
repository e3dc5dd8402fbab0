// Admin credentials and login (docs/control-api.md): show, renew (the new value works on /v2
// with Basic, the old one stops), and the refresh token of POST .../login, which is the
// password of user 00000000-0000-0000-0000-000000000000 on /v2 and /oauth2/token of that
// registry only.
#include <map>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

class CredentialsTest : public ControlTest {
 protected:
  // name → value (null values as "<null>") of a Credentials reply.
  static std::map<std::string, std::string> passwords(const json::Value& creds) {
    std::map<std::string, std::string> out;
    const json::Value* pw = creds.find("passwords");
    if (pw == nullptr || !pw->isArray()) return out;
    for (const auto& p : pw->asArray()) {
      const json::Value* v = p.find("value");
      out[str(p, "name")] = (v == nullptr) ? "<absent>" : v->isNull() ? "<null>" : v->asString();
    }
    return out;
  }
  long v2Status(const std::string& registry, const std::string& user, const std::string& pw) {
    return plane(registry, basicAuthorization(user, pw))->get("/v2/").status;
  }
};

TEST_F(CredentialsTest, ShowNamesBothPasswordsWithoutValues) {
  std::string name = uniqueRegistryName();
  createRegistryWithAdmin(name);
  json::Value c = expectJson(api().get(regPath(name, "/credentials")), 200);
  EXPECT_EQ(str(c, "username"), name);
  auto pw = passwords(c);
  EXPECT_EQ(pw,
            (std::map<std::string, std::string>{{"password", "<null>"}, {"password2", "<null>"}}))
      << api().get(regPath(name, "/credentials"));
}

TEST_F(CredentialsTest, RenewFillsInOnlyTheRenewedValue) {
  std::string name = uniqueRegistryName();
  createRegistry(name);
  json::Value c = expectJson(
      api().post(regPath(name, "/credentials/renew"), R"({"name":"password2"})", kJson), 200);
  EXPECT_EQ(str(c, "username"), name);
  auto pw = passwords(c);
  ASSERT_EQ(pw.size(), 2u);
  EXPECT_EQ(pw["password"], "<null>");
  EXPECT_NE(pw["password2"], "<null>");
  EXPECT_GE(pw["password2"].size(), 16u) << "a generated password should be long";
  // Shown once.
  auto again = passwords(expectJson(api().get(regPath(name, "/credentials")), 200));
  EXPECT_EQ(again["password2"], "<null>");
}

TEST_F(CredentialsTest, RenewedPasswordWorksAndTheOldOneStops) {
  std::string name = uniqueRegistryName();
  Identity admin = createRegistryWithAdmin(name);
  EXPECT_EQ(v2Status(name, name, admin.password), 200);
  std::string p2 = renewPassword(name, "password");
  ASSERT_NE(p2, admin.password);
  EXPECT_EQ(v2Status(name, name, admin.password), 401) << "the old password still works";
  EXPECT_EQ(v2Status(name, name, p2), 200);
  // password2 is independent of password.
  std::string q1 = renewPassword(name, "password2");
  EXPECT_EQ(v2Status(name, name, q1), 200);
  EXPECT_EQ(v2Status(name, name, p2), 200);
  std::string q2 = renewPassword(name, "password2");
  EXPECT_EQ(v2Status(name, name, q1), 401);
  EXPECT_EQ(v2Status(name, name, q2), 200);
  EXPECT_EQ(v2Status(name, name, p2), 200);
  // They push and pull as the admin.
  auto p = plane(name, basicAuthorization(name, q2));
  auto img = p->pushImage("team/app", "v1");
  EXPECT_EQ(plane(name, basicAuthorization(name, p2))->getManifest("team/app", "v1").body,
            img.body);
}

TEST_F(CredentialsTest, RenewWhileTheAdminIsDisabled) {
  std::string name = uniqueRegistryName();
  createRegistry(name);
  std::string pw = renewPassword(name, "password");
  EXPECT_EQ(v2Status(name, name, pw), 401) << "the admin account is disabled";
  ASSERT_EQ(api().patch(regPath(name), R"({"adminUserEnabled":true})", kJson).status, 200);
  EXPECT_EQ(v2Status(name, name, pw), 200);
}

TEST_F(CredentialsTest, RenewBadBodyIs400) {
  std::string name = uniqueRegistryName();
  Identity admin = createRegistryWithAdmin(name);
  for (const char* b : {R"({"name":"password3"})", R"({"name":"password1"})", R"({"name":7})",
                        R"({})", R"([])", R"({"name":"password")"}) {
    SCOPED_TRACE(b);
    EXPECT_API_ERROR(api().post(regPath(name, "/credentials/renew"), b, kJson), 400,
                     "INVALID_ARGUMENT");
  }
  EXPECT_EQ(v2Status(name, name, admin.password), 200) << "a refused renew changed the password";
}

TEST_F(CredentialsTest, LoginRefreshTokenIsAPasswordOnThatRegistryOnly) {
  std::string name = uniqueRegistryName(), other = uniqueRegistryName();
  json::Value reg = createRegistry(name);  // admin account stays disabled
  createRegistryWithAdmin(other);
  json::Value login = expectJson(api().post(regPath(name, "/login"), "", kJson), 200);
  EXPECT_EQ(str(login, "username"), kRefreshUser);
  EXPECT_EQ(str(login, "loginServer"), str(reg, "loginServer"));
  std::string refresh = str(login, "refreshToken");
  ASSERT_FALSE(refresh.empty()) << api().post(regPath(name, "/login"), "", kJson);
  ASSERT_TRUE(integer(login, "expiresIn").has_value());
  EXPECT_GT(*integer(login, "expiresIn"), 0);

  // Full access to this registry: push, pull, delete, catalog.
  auto p = plane(name, basicAuthorization(kRefreshUser, refresh));
  EXPECT_EQ(p->get("/v2/").status, 200);
  auto img = p->pushImage("team/app", "v1");
  Response got = p->getManifest("team/app", "v1");
  EXPECT_EQ(got.status, 200) << got;
  EXPECT_EQ(got.body, img.body);
  json::Value cat = expectJson(p->catalog(), 200);
  EXPECT_EQ(strings(cat.find("repositories")), std::vector<std::string>{"team/app"});
  EXPECT_EQ(p->del("/v2/team/app/manifests/" + img.manifest.digest).status, 202);

  // Nowhere else.
  EXPECT_REGISTRY_ERROR(plane(other, basicAuthorization(kRefreshUser, refresh))->get("/v2/"), 401,
                        "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(plane("default", basicAuthorization(kRefreshUser, refresh))->get("/v2/"),
                        401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(
      http().get("/v2/", {{"Authorization", basicAuthorization(kRefreshUser, refresh)}}), 401,
      "UNAUTHORIZED");
  // It is no password of another user.
  EXPECT_REGISTRY_ERROR(plane(name, basicAuthorization(name, refresh))->get("/v2/"), 401,
                        "UNAUTHORIZED");
}

TEST_F(CredentialsTest, LoginRefreshTokenWorksOnTheTokenEndpoint) {
  std::string name = uniqueRegistryName(), other = uniqueRegistryName();
  createRegistry(name);
  createRegistryWithAdmin(other);
  json::Value login = expectJson(api().post(regPath(name, "/login"), "", kJson), 200);
  std::string refresh = str(login, "refreshToken");
  ASSERT_FALSE(refresh.empty());
  const std::string host = registryHost(name);

  // GET with Basic, as a docker client after `az acr login`.
  auto p = plane(name, basicAuthorization(kRefreshUser, refresh));
  Response t = p->get("/oauth2/token?service=" + urlEncode(host) +
                      "&scope=" + urlEncode("repository:team/app:pull,push"));
  json::Value tok = expectJson(t, 200);
  std::string jwt = str(tok, "token");
  ASSERT_FALSE(jwt.empty()) << t;
  auto bearer = plane(name, bearerAuthorization(jwt));
  auto img = bearer->pushImage("team/app", "v1");
  EXPECT_EQ(bearer->getManifest("team/app", "v1").body, img.body);

  // POST with the password grant: the refresh token is the user's password.
  Response r = plane(name, "")->post(
      "/oauth2/token",
      "grant_type=password&username=" + urlEncode(kRefreshUser) +
          "&password=" + urlEncode(refresh) + "&service=" + urlEncode(host) +
          "&scope=" + urlEncode("repository:team/app:pull") + "&client_id=berth-tests",
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  json::Value viaPost = expectJson(r, 200);
  ASSERT_FALSE(str(viaPost, "access_token").empty()) << r;
  Response pulled =
      plane(name, bearerAuthorization(str(viaPost, "access_token")))->getManifest("team/app", "v1");
  EXPECT_EQ(pulled.status, 200) << pulled;

  // The other registry's token endpoint does not know it.
  Response foreign = plane(other, basicAuthorization(kRefreshUser, refresh))
                         ->get("/oauth2/token?service=" + urlEncode(registryHost(other)) +
                               "&scope=" + urlEncode("repository:team/app:pull"));
  EXPECT_EQ(foreign.status, 401) << foreign;
}

TEST_F(CredentialsTest, AdminMayLogIn) {
  std::string name = uniqueRegistryName();
  Identity admin = createRegistryWithAdmin(name);
  Response r = apiAs(admin.basic(), "POST", regPath(name, "/login"), "");
  json::Value login = expectJson(r, 200);
  EXPECT_EQ(str(login, "username"), kRefreshUser);
  std::string refresh = str(login, "refreshToken");
  EXPECT_EQ(v2Status(name, kRefreshUser, refresh), 200);
}

}  // namespace
}  // namespace berth_test::control
