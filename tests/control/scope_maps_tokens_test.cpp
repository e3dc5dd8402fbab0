// Scope maps and tokens (docs/control-api.md): CRUD, built-in maps read-only, 409 for taken
// names and for a map still in use, token passwords (generated once, regenerated one at a time
// or both, with an expiry), and their effect on /v2.
#include <algorithm>
#include <map>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};
const std::vector<std::string> kBuiltIns = {
    "_repositories_pull", "_repositories_push", "_repositories_admin",
    "_repositories_pull_metadata_read", "_repositories_push_metadata_write"};

class ScopeMapsTokensTest : public AdminRegistryTest {
 protected:
  std::vector<std::string> sortedActions(const json::Value& map) {
    auto a = strings(map.find("actions"));
    std::sort(a.begin(), a.end());
    return a;
  }
  // name → value ("<null>" for null) of a Token reply's passwords.
  static std::map<std::string, std::string> values(const json::Value& token) {
    std::map<std::string, std::string> out;
    const json::Value* pw = member(token, "credentials.passwords");
    if (pw == nullptr || !pw->isArray()) return out;
    for (const auto& p : pw->asArray()) {
      const json::Value* v = p.find("value");
      out[str(p, "name")] = (v == nullptr || v->isNull()) ? "<null>" : v->asString();
    }
    return out;
  }
  static const json::Value* password(const json::Value& token, std::string_view name) {
    const json::Value* pw = member(token, "credentials.passwords");
    if (pw == nullptr || !pw->isArray()) return nullptr;
    for (const auto& p : pw->asArray())
      if (p.getString("name") == name) return &p;
    return nullptr;
  }
  // A token bound to _repositories_pull: name → value of its two passwords.
  std::map<std::string, std::string> createPullToken(const std::string& name) {
    const std::string body =
        R"({"name":)" + json::quote(name) + R"(,"scopeMapName":"_repositories_pull"})";
    return values(expectJson(api().post(regPath(reg_, "/tokens"), body, kJson), 201));
  }
  long v2As(const std::string& user, const std::string& pw) {
    return plane(reg_, basicAuthorization(user, pw))->get("/v2/").status;
  }
};

// ---------------------------------------------------------------------------
// Scope maps
// ---------------------------------------------------------------------------
TEST_F(ScopeMapsTokensTest, BuiltInScopeMapsAreListed) {
  json::Value list = expectJson(api().get(regPath(reg_, "/scope-maps")), 200);
  ASSERT_TRUE(list.isArray());
  auto names = strings(&list, "name");
  for (const auto& b : kBuiltIns) {
    SCOPED_TRACE(b);
    ASSERT_NE(std::find(names.begin(), names.end(), b), names.end());
  }
  for (const auto& m : list.asArray()) {
    if (str(m, "name").rfind("_repositories_", 0) == 0) {
      EXPECT_EQ(str(m, "type"), "SystemDefined") << str(m, "name");
      EXPECT_FALSE(strings(m.find("actions")).empty()) << str(m, "name");
    }
  }
  json::Value pull = expectJson(api().get(regPath(reg_, "/scope-maps/_repositories_pull")), 200);
  EXPECT_EQ(str(pull, "type"), "SystemDefined");
  auto pullActions = strings(pull.find("actions"));
  EXPECT_NE(std::find(pullActions.begin(), pullActions.end(), "repositories/*/content/read"),
            pullActions.end());
  EXPECT_EQ(std::find(pullActions.begin(), pullActions.end(), "repositories/*/content/write"),
            pullActions.end());
  json::Value adm = expectJson(api().get(regPath(reg_, "/scope-maps/_repositories_admin")), 200);
  EXPECT_EQ(sortedActions(adm), (std::vector<std::string>{
                                    "repositories/*/content/delete", "repositories/*/content/read",
                                    "repositories/*/content/write", "repositories/*/metadata/read",
                                    "repositories/*/metadata/write"}));
}

TEST_F(ScopeMapsTokensTest, CreateShowListUpdateDeleteScopeMap) {
  Response c = api().post(regPath(reg_, "/scope-maps"),
                          R"({"name":"ci-push","description":"CI pushes team images",)"
                          R"("actions":["repositories/team/*/content/read",)"
                          R"("repositories/team/*/content/write"]})",
                          kJson);
  json::Value m = expectJson(c, 201);
  EXPECT_EQ(str(m, "name"), "ci-push");
  EXPECT_EQ(str(m, "description"), "CI pushes team images");
  EXPECT_EQ(str(m, "type"), "UserDefined");
  EXPECT_EQ(sortedActions(m), (std::vector<std::string>{"repositories/team/*/content/read",
                                                        "repositories/team/*/content/write"}));
  EXPECT_TRUE(isRfc3339Utc(str(m, "creationDate"))) << str(m, "creationDate");

  json::Value shown = expectJson(api().get(regPath(reg_, "/scope-maps/ci-push")), 200);
  EXPECT_EQ(sortedActions(shown), sortedActions(m));
  EXPECT_EQ(str(shown, "creationDate"), str(m, "creationDate"));
  json::Value list = expectJson(api().get(regPath(reg_, "/scope-maps")), 200);
  auto names = strings(&list, "name");
  EXPECT_NE(std::find(names.begin(), names.end(), "ci-push"), names.end());

  // Without a description it is "".
  json::Value bare = createScopeMap(reg_, "bare", {"repositories/a/content/read"});
  EXPECT_EQ(str(bare, "description"), "");
  ASSERT_NE(bare.find("description"), nullptr);

  json::Value u = expectJson(
      api().patch(
          regPath(reg_, "/scope-maps/ci-push"),
          R"({"description":"now deletes too","addActions":["repositories/team/*/content/delete"],)"
          R"("removeActions":["repositories/team/*/content/write"]})",
          kJson),
      200);
  EXPECT_EQ(str(u, "description"), "now deletes too");
  EXPECT_EQ(sortedActions(u), (std::vector<std::string>{"repositories/team/*/content/delete",
                                                        "repositories/team/*/content/read"}));
  EXPECT_EQ(sortedActions(expectJson(api().get(regPath(reg_, "/scope-maps/ci-push")), 200)),
            sortedActions(u));
  // Only the description.
  u = expectJson(api().patch(regPath(reg_, "/scope-maps/ci-push"), R"({"description":"x"})", kJson),
                 200);
  EXPECT_EQ(str(u, "description"), "x");
  EXPECT_EQ(sortedActions(u).size(), 2u);

  Response d = api().del(regPath(reg_, "/scope-maps/ci-push"));
  EXPECT_EQ(d.status, 204) << d;
  EXPECT_API_ERROR(api().get(regPath(reg_, "/scope-maps/ci-push")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().del(regPath(reg_, "/scope-maps/ci-push")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(
      api().patch(regPath(reg_, "/scope-maps/ci-push"), R"({"description":"y"})", kJson), 404,
      "NOT_FOUND");
}

TEST_F(ScopeMapsTokensTest, ScopeMapTakenNameIs409) {
  createScopeMap(reg_, "m1", {"repositories/a/content/read"});
  EXPECT_API_ERROR(api().post(regPath(reg_, "/scope-maps"),
                              R"({"name":"m1","actions":["repositories/b/content/read"]})", kJson),
                   409, "CONFLICT");
  EXPECT_EQ(sortedActions(expectJson(api().get(regPath(reg_, "/scope-maps/m1")), 200)),
            std::vector<std::string>{"repositories/a/content/read"});
  // A built-in's name is both taken (409) and, with its leading '_', not a user map's name (400).
  Response builtin = api().post(
      regPath(reg_, "/scope-maps"),
      R"({"name":"_repositories_pull","actions":["repositories/b/content/read"]})", kJson);
  EXPECT_TRUE(IsApiError(builtin, 409, "CONFLICT") || IsApiError(builtin, 400, "INVALID_ARGUMENT"))
      << builtin;
}

TEST_F(ScopeMapsTokensTest, NamesOfScopeMapsAndTokens) {
  // 1-50 letters, digits and dashes, starting with a letter or digit.
  const std::vector<std::string> bad = {"",        "-lead",  "under_score", "sp ace",
                                        "dot.ted", "sl/ash", "caf\xc3\xa9", std::string(51, 'a')};
  for (const auto& n : bad) {
    SCOPED_TRACE("name '" + n + "'");
    EXPECT_API_ERROR(api().post(regPath(reg_, "/scope-maps"),
                                "{\"name\":" + json::quote(n) +
                                    ",\"actions\":[\"repositories/a/content/read\"]}",
                                kJson),
                     400, "INVALID_ARGUMENT");
    EXPECT_API_ERROR(
        api().post(regPath(reg_, "/tokens"),
                   "{\"name\":" + json::quote(n) + ",\"scopeMapName\":\"_repositories_pull\"}",
                   kJson),
        400, "INVALID_ARGUMENT");
  }
  json::Value maps = expectJson(api().get(regPath(reg_, "/scope-maps")), 200);
  for (const auto& m : maps.asArray())
    EXPECT_EQ(str(m, "type"), "SystemDefined") << "created: " << str(m, "name");
  json::Value tokens = expectJson(api().get(regPath(reg_, "/tokens")), 200);
  EXPECT_TRUE(strings(&tokens, "name").empty());

  for (const std::string& n :
       {std::string("a"), std::string("Ci-Push-2"), std::string(50, 'z'), std::string("9-lives")}) {
    SCOPED_TRACE("name '" + n + "'");
    createScopeMap(reg_, n, {"repositories/a/content/read"});
    createToken(reg_, n, n);
  }
  // The admin user's name and the refresh-token user are not token names.
  for (const std::string& n : {reg_, std::string(kRefreshUser)}) {
    SCOPED_TRACE("token name '" + n + "'");
    Response r = api().post(
        regPath(reg_, "/tokens"),
        "{\"name\":" + json::quote(n) + ",\"scopeMapName\":\"_repositories_pull\"}", kJson);
    EXPECT_TRUE(IsApiError(r, 400, "INVALID_ARGUMENT") || IsApiError(r, 409, "CONFLICT")) << r;
    EXPECT_EQ(api().get(regPath(reg_, "/tokens/" + n)).status, 404);
  }
  // The admin still logs in with its own password.
  EXPECT_EQ(v2As(reg_, admin_.password), 200);
}

TEST_F(ScopeMapsTokensTest, ScopeMapBadBodyIs400) {
  for (const char* b : {
           R"({"name":"m2"})",
           R"({"actions":["repositories/a/content/read"]})",
           R"({"name":"m3","actions":["repositories/a/content/fly"]})",
           R"({"name":"m4","actions":["a/content/read"]})",
           R"({"name":"m5","actions":"repositories/a/content/read"})",
           R"({"name":"m6","actions":[7]})",
           R"({"name":6,"actions":["repositories/a/content/read"]})",
           R"({"name":"m7","description":5,"actions":["repositories/a/content/read"]})",
           R"({"name":"m8","actions":["repositories/UPPER/content/read"]})",
       }) {
    SCOPED_TRACE(b);
    EXPECT_API_ERROR(api().post(regPath(reg_, "/scope-maps"), b, kJson), 400, "INVALID_ARGUMENT");
  }
  for (int i = 2; i <= 8; ++i)
    EXPECT_EQ(api().get(regPath(reg_, "/scope-maps/m" + std::to_string(i))).status, 404) << i;
  createScopeMap(reg_, "m1", {"repositories/a/content/read"});
  EXPECT_API_ERROR(api().patch(regPath(reg_, "/scope-maps/m1"),
                               R"({"addActions":["repositories/a/content/fly"]})", kJson),
                   400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(api().patch(regPath(reg_, "/scope-maps/m1"), R"({"addActions":"x"})", kJson),
                   400, "INVALID_ARGUMENT");
  EXPECT_EQ(sortedActions(expectJson(api().get(regPath(reg_, "/scope-maps/m1")), 200)),
            std::vector<std::string>{"repositories/a/content/read"});
}

TEST_F(ScopeMapsTokensTest, BuiltInScopeMapsAreReadOnly) {
  // Built-in maps cannot be changed or deleted: 403 DENIED, and nothing changes.
  json::Value before = expectJson(api().get(regPath(reg_, "/scope-maps/_repositories_pull")), 200);
  for (const auto& [method, body] : std::vector<std::pair<std::string, std::string>>{
           {"PATCH", R"({"addActions":["repositories/*/content/delete"]})"},
           {"PATCH", R"({"description":"changed"})"},
           {"DELETE", ""}}) {
    SCOPED_TRACE(method + " " + body);
    Response r = method == "DELETE"
                     ? api().del(regPath(reg_, "/scope-maps/_repositories_pull"))
                     : api().patch(regPath(reg_, "/scope-maps/_repositories_pull"), body, kJson);
    EXPECT_API_ERROR(r, 403, "DENIED");
  }
  json::Value after = expectJson(api().get(regPath(reg_, "/scope-maps/_repositories_pull")), 200);
  EXPECT_EQ(sortedActions(after), sortedActions(before));
  EXPECT_EQ(str(after, "description"), str(before, "description"));
}

TEST_F(ScopeMapsTokensTest, ScopeMapInUseCannotBeDeleted) {
  createScopeMap(reg_, "used", {"repositories/a/content/read"});
  createToken(reg_, "t1", "used");
  EXPECT_API_ERROR(api().del(regPath(reg_, "/scope-maps/used")), 409, "CONFLICT");
  EXPECT_EQ(api().get(regPath(reg_, "/scope-maps/used")).status, 200);
  ASSERT_EQ(api().del(regPath(reg_, "/tokens/t1")).status, 204);
  EXPECT_EQ(api().del(regPath(reg_, "/scope-maps/used")).status, 204);
}

TEST_F(ScopeMapsTokensTest, ScopeMapChangesTakeEffectOnTheDataPlane) {
  p_->pushImage("team/app", "v1");
  createScopeMap(reg_, "ro", {"repositories/team/app/content/read"});
  Identity t = createToken(reg_, "ci", "ro");
  auto c = plane(reg_, t.basic());
  EXPECT_EQ(c->getManifest("team/app", "v1").status, 200);
  EXPECT_REGISTRY_ERROR(c->post("/v2/team/app/blobs/uploads/"), 403, "DENIED");
  ASSERT_EQ(api()
                .patch(regPath(reg_, "/scope-maps/ro"),
                       R"({"addActions":["repositories/team/app/content/write"]})", kJson)
                .status,
            200);
  EXPECT_EQ(c->post("/v2/team/app/blobs/uploads/").status, 202);
  ASSERT_EQ(api()
                .patch(regPath(reg_, "/scope-maps/ro"),
                       R"({"removeActions":["repositories/team/app/content/read"]})", kJson)
                .status,
            200);
  EXPECT_REGISTRY_ERROR(c->getManifest("team/app", "v1"), 403, "DENIED");
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------
TEST_F(ScopeMapsTokensTest, CreateTokenShowsBothPasswordsOnce) {
  createScopeMap(reg_, "ci-push",
                 {"repositories/team/*/content/read", "repositories/team/*/content/write"});
  Response r =
      api().post(regPath(reg_, "/tokens"), R"({"name":"ci","scopeMapName":"ci-push"})", kJson);
  json::Value t = expectJson(r, 201);
  EXPECT_EQ(str(t, "name"), "ci");
  EXPECT_EQ(str(t, "scopeMapName"), "ci-push");
  EXPECT_EQ(str(t, "status"), "enabled");
  EXPECT_TRUE(isRfc3339Utc(str(t, "creationDate"))) << str(t, "creationDate");
  auto v = values(t);
  ASSERT_EQ(v.size(), 2u) << r;
  ASSERT_NE(v["password1"], "<null>");
  ASSERT_NE(v["password2"], "<null>");
  EXPECT_NE(v["password1"], v["password2"]);
  for (const char* n : {"password1", "password2"}) {
    const json::Value* p = password(t, n);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(isRfc3339Utc(str(*p, "creationTime"))) << n;
    ASSERT_NE(p->find("expiry"), nullptr) << n;
    EXPECT_TRUE(p->find("expiry")->isNull()) << n;
  }
  // Both passwords work on /v2, with the map's access.
  for (const char* n : {"password1", "password2"}) {
    auto c = plane(reg_, basicAuthorization("ci", v[n]));
    auto img = c->pushImage("team/app", n);
    EXPECT_EQ(c->getManifest("team/app", n).body, img.body);
    EXPECT_REGISTRY_ERROR(c->post("/v2/other/blobs/uploads/"), 403, "DENIED");
  }
  // Shown once.
  json::Value shown = expectJson(api().get(regPath(reg_, "/tokens/ci")), 200);
  EXPECT_EQ(values(shown),
            (std::map<std::string, std::string>{{"password1", "<null>"}, {"password2", "<null>"}}));
  EXPECT_EQ(str(shown, "scopeMapName"), "ci-push");
  json::Value list = expectJson(api().get(regPath(reg_, "/tokens")), 200);
  ASSERT_TRUE(list.isArray());
  EXPECT_EQ(strings(&list, "name"), std::vector<std::string>{"ci"});
  for (const auto& [name, value] : values(list.asArray()[0])) EXPECT_EQ(value, "<null>") << name;
}

TEST_F(ScopeMapsTokensTest, CreateTokenOptions) {
  json::Value off = expectJson(
      api().post(regPath(reg_, "/tokens"),
                 R"({"name":"off","scopeMapName":"_repositories_pull","status":"disabled"})",
                 kJson),
      201);
  EXPECT_EQ(str(off, "status"), "disabled");
  EXPECT_EQ(v2As("off", values(off)["password1"]), 401) << "a disabled token logged in";

  json::Value expired = expectJson(
      api().post(
          regPath(reg_, "/tokens"),
          R"({"name":"old","scopeMapName":"_repositories_pull","expiry":"2001-01-01T00:00:00Z"})",
          kJson),
      201);
  const json::Value* p1 = password(expired, "password1");
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(str(*p1, "expiry").substr(0, 10), "2001-01-01");
  EXPECT_EQ(v2As("old", values(expired)["password1"]), 401) << "an expired password logged in";

  json::Value later = expectJson(
      api().post(
          regPath(reg_, "/tokens"),
          R"({"name":"later","scopeMapName":"_repositories_pull","expiry":"2099-01-01T00:00:00Z"})",
          kJson),
      201);
  EXPECT_EQ(v2As("later", values(later)["password1"]), 200);

  json::Value none = expectJson(
      api().post(regPath(reg_, "/tokens"),
                 R"({"name":"nopw","scopeMapName":"_repositories_pull","noPasswords":true})",
                 kJson),
      201);
  for (const auto& [name, value] : values(none)) EXPECT_EQ(value, "<null>") << name;
}

TEST_F(ScopeMapsTokensTest, TokenErrors) {
  createToken(reg_, "t1", "_repositories_pull");
  EXPECT_API_ERROR(api().post(regPath(reg_, "/tokens"),
                              R"({"name":"t1","scopeMapName":"_repositories_push"})", kJson),
                   409, "CONFLICT");
  EXPECT_EQ(str(expectJson(api().get(regPath(reg_, "/tokens/t1")), 200), "scopeMapName"),
            "_repositories_pull");
  EXPECT_API_ERROR(
      api().post(regPath(reg_, "/tokens"), R"({"name":"t2","scopeMapName":"nosuchmap"})", kJson),
      404, "NOT_FOUND");
  for (const char* b : {
           R"({"name":"t3"})",
           R"({"scopeMapName":"_repositories_pull"})",
           R"({"name":"t4","scopeMapName":"_repositories_pull","status":"paused"})",
           R"({"name":"t5","scopeMapName":"_repositories_pull","expiry":"tomorrow"})",
           R"({"name":"t6","scopeMapName":"_repositories_pull","noPasswords":"yes"})",
           R"({"name":["t7"],"scopeMapName":"_repositories_pull"})",
       }) {
    SCOPED_TRACE(b);
    EXPECT_API_ERROR(api().post(regPath(reg_, "/tokens"), b, kJson), 400, "INVALID_ARGUMENT");
  }
  json::Value list = expectJson(api().get(regPath(reg_, "/tokens")), 200);
  EXPECT_EQ(strings(&list, "name"), std::vector<std::string>{"t1"});
  EXPECT_API_ERROR(api().get(regPath(reg_, "/tokens/none")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().del(regPath(reg_, "/tokens/none")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().patch(regPath(reg_, "/tokens/none"), R"({"status":"disabled"})", kJson),
                   404, "NOT_FOUND");
  EXPECT_API_ERROR(api().post(regPath(reg_, "/tokens/none/credentials"), R"({})", kJson), 404,
                   "NOT_FOUND");
  EXPECT_API_ERROR(api().patch(regPath(reg_, "/tokens/t1"), R"({"status":"paused"})", kJson), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(
      api().patch(regPath(reg_, "/tokens/t1"), R"({"scopeMapName":"nosuchmap"})", kJson), 404,
      "NOT_FOUND");
}

TEST_F(ScopeMapsTokensTest, UpdateTokenStatusAndScopeMap) {
  p_->pushImage("team/app", "v1");
  Identity t = createToken(reg_, "ci", "_repositories_pull");
  auto c = plane(reg_, t.basic());
  EXPECT_EQ(c->getManifest("team/app", "v1").status, 200);
  EXPECT_REGISTRY_ERROR(c->post("/v2/team/app/blobs/uploads/"), 403, "DENIED");

  json::Value u = expectJson(
      api().patch(regPath(reg_, "/tokens/ci"), R"({"scopeMapName":"_repositories_push"})", kJson),
      200);
  EXPECT_EQ(str(u, "scopeMapName"), "_repositories_push");
  EXPECT_EQ(c->post("/v2/team/app/blobs/uploads/").status, 202);

  u = expectJson(api().patch(regPath(reg_, "/tokens/ci"), R"({"status":"disabled"})", kJson), 200);
  EXPECT_EQ(str(u, "status"), "disabled");
  EXPECT_REGISTRY_ERROR(c->getManifest("team/app", "v1"), 401, "UNAUTHORIZED");
  u = expectJson(api().patch(regPath(reg_, "/tokens/ci"), R"({"status":"enabled"})", kJson), 200);
  EXPECT_EQ(str(u, "status"), "enabled");
  EXPECT_EQ(c->getManifest("team/app", "v1").status, 200);
}

TEST_F(ScopeMapsTokensTest, DeleteToken) {
  Identity t = createToken(reg_, "ci", "_repositories_pull");
  EXPECT_EQ(v2As(t.user, t.password), 200);
  Response d = api().del(regPath(reg_, "/tokens/ci"));
  EXPECT_EQ(d.status, 204) << d;
  EXPECT_EQ(v2As(t.user, t.password), 401);
  EXPECT_API_ERROR(api().get(regPath(reg_, "/tokens/ci")), 404, "NOT_FOUND");
  json::Value list = expectJson(api().get(regPath(reg_, "/tokens")), 200);
  EXPECT_TRUE(strings(&list, "name").empty());
  // The name is free again, with new passwords.
  Identity again = createToken(reg_, "ci", "_repositories_pull");
  EXPECT_NE(again.password, t.password);
  EXPECT_EQ(v2As(t.user, t.password), 401);
  EXPECT_EQ(v2As(again.user, again.password), 200);
}

TEST_F(ScopeMapsTokensTest, GenerateOnePassword) {
  auto old = createPullToken("ci");
  json::Value g = expectJson(
      api().post(regPath(reg_, "/tokens/ci/credentials"), R"({"name":"password1"})", kJson), 200);
  auto now = values(g);
  EXPECT_EQ(str(g, "name"), "ci");
  ASSERT_NE(now["password1"], "<null>");
  EXPECT_NE(now["password1"], old["password1"]);
  EXPECT_EQ(now["password2"], "<null>") << "only the generated value is shown";
  EXPECT_EQ(v2As("ci", old["password1"]), 401) << "the old password1 still works";
  EXPECT_EQ(v2As("ci", now["password1"]), 200);
  EXPECT_EQ(v2As("ci", old["password2"]), 200) << "password2 was not regenerated";

  json::Value g2 =
      expectJson(api().post(regPath(reg_, "/tokens/ci/credentials"),
                            R"({"name":"password2","expiry":"2099-06-01T00:00:00Z"})", kJson),
                 200);
  auto now2 = values(g2);
  ASSERT_NE(now2["password2"], "<null>");
  const json::Value* p2 = password(g2, "password2");
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ(str(*p2, "expiry").substr(0, 10), "2099-06-01");
  EXPECT_EQ(v2As("ci", old["password2"]), 401);
  EXPECT_EQ(v2As("ci", now2["password2"]), 200);
  EXPECT_EQ(v2As("ci", now["password1"]), 200);
}

TEST_F(ScopeMapsTokensTest, GenerateBothPasswords) {
  auto old = createPullToken("ci");
  json::Value g =
      expectJson(api().post(regPath(reg_, "/tokens/ci/credentials"), R"({})", kJson), 200);
  auto now = values(g);
  ASSERT_NE(now["password1"], "<null>");
  ASSERT_NE(now["password2"], "<null>");
  EXPECT_EQ(v2As("ci", old["password1"]), 401);
  EXPECT_EQ(v2As("ci", old["password2"]), 401);
  EXPECT_EQ(v2As("ci", now["password1"]), 200);
  EXPECT_EQ(v2As("ci", now["password2"]), 200);

  // An expiry in the past makes the generated password useless at once.
  json::Value e =
      expectJson(api().post(regPath(reg_, "/tokens/ci/credentials"),
                            R"({"name":"password1","expiry":"2001-01-01T00:00:00Z"})", kJson),
                 200);
  EXPECT_EQ(v2As("ci", values(e)["password1"]), 401);
  // Passwords for a token created without any.
  ASSERT_EQ(
      api()
          .post(regPath(reg_, "/tokens"),
                R"({"name":"later","scopeMapName":"_repositories_pull","noPasswords":true})", kJson)
          .status,
      201);
  json::Value l = expectJson(
      api().post(regPath(reg_, "/tokens/later/credentials"), R"({"name":"password2"})", kJson),
      200);
  EXPECT_EQ(v2As("later", values(l)["password2"]), 200);
}

TEST_F(ScopeMapsTokensTest, GenerateBadBodyIs400) {
  Identity t = createToken(reg_, "ci", "_repositories_pull");
  for (const char* b : {R"({"name":"password3"})", R"({"name":"password"})", R"({"name":1})",
                        R"({"expiry":"soon"})", R"({"expiry":12})", R"(x)"}) {
    SCOPED_TRACE(b);
    EXPECT_API_ERROR(api().post(regPath(reg_, "/tokens/ci/credentials"), b, kJson), 400,
                     "INVALID_ARGUMENT");
  }
  EXPECT_EQ(v2As(t.user, t.password), 200) << "a refused call changed the password";
}

TEST_F(ScopeMapsTokensTest, DeleteOnePassword) {
  auto old = createPullToken("ci");
  Response d = api().del(regPath(reg_, "/tokens/ci/credentials/password1"));
  EXPECT_EQ(d.status, 204) << d;
  EXPECT_TRUE(d.body.empty()) << d;
  EXPECT_EQ(v2As("ci", old["password1"]), 401) << "a deleted password still works";
  EXPECT_EQ(v2As("ci", old["password2"]), 200);
  json::Value shown = expectJson(api().get(regPath(reg_, "/tokens/ci")), 200);
  EXPECT_EQ(strings(member(shown, "credentials.passwords"), "name"),
            std::vector<std::string>{"password2"});
  EXPECT_EQ(str(shown, "status"), "enabled");
  EXPECT_API_ERROR(api().del(regPath(reg_, "/tokens/ci/credentials/password1")), 404, "NOT_FOUND");

  // The admin may too; then the token has no password at all, until one is generated.
  Response a = apiAs(admin_.basic(), "DELETE", regPath(reg_, "/tokens/ci/credentials/password2"));
  EXPECT_EQ(a.status, 204) << a;
  EXPECT_EQ(v2As("ci", old["password2"]), 401);
  shown = expectJson(api().get(regPath(reg_, "/tokens/ci")), 200);
  EXPECT_TRUE(strings(member(shown, "credentials.passwords"), "name").empty());
  json::Value g = expectJson(
      api().post(regPath(reg_, "/tokens/ci/credentials"), R"({"name":"password2"})", kJson), 200);
  EXPECT_EQ(v2As("ci", values(g)["password2"]), 200);
}

TEST_F(ScopeMapsTokensTest, DeletePasswordErrors) {
  Identity t = createToken(reg_, "ci", "_repositories_pull");
  for (const char* p : {"password", "password3", "PASSWORD1"}) {
    SCOPED_TRACE(p);
    EXPECT_API_ERROR(api().del(regPath(reg_, std::string("/tokens/ci/credentials/") + p)), 400,
                     "INVALID_ARGUMENT");
  }
  EXPECT_API_ERROR(api().del(regPath(reg_, "/tokens/nobody/credentials/password1")), 404,
                   "NOT_FOUND");
  EXPECT_API_ERROR(api().del(regPath(uniqueRegistryName(), "/tokens/ci/credentials/password1")),
                   404, "NOT_FOUND");
  EXPECT_API_ERROR(api().get(regPath(reg_, "/tokens/ci/credentials/password1")), 405,
                   "METHOD_NOT_ALLOWED");
  // A token may not manage tokens, its own passwords included.
  Identity admin = createTokenWithActions(
      reg_, "all", {"repositories/*/metadata/write", "repositories/*/content/delete"});
  EXPECT_API_ERROR(
      apiAs(admin.basic(), "DELETE", regPath(reg_, "/tokens/ci/credentials/password1")), 403,
      "DENIED");
  EXPECT_API_ERROR(
      apiAs(admin.basic(), "DELETE", regPath(reg_, "/tokens/all/credentials/password1")), 403,
      "DENIED");
  EXPECT_EQ(v2As(t.user, t.password), 200) << "a refused call deleted the password";
  EXPECT_EQ(v2As(admin.user, admin.password), 200) << "a refused call deleted the password";
}

TEST_F(ScopeMapsTokensTest, BasicSkuLimitsScopeMapsAndTokensTo100) {
  // The limits of the SKU table. The document names no status for going over one: any 4xx
  // error of the API's shape, and nothing is created.
  for (int i = 0; i < 100; ++i) {
    std::string n = "m" + std::to_string(i);
    Response r =
        api().post(regPath(reg_, "/scope-maps"),
                   "{\"name\":\"" + n + "\",\"actions\":[\"repositories/a/content/read\"]}", kJson);
    ASSERT_EQ(r.status, 201) << r;
    r = api().post(regPath(reg_, "/tokens"),
                   "{\"name\":\"t" + std::to_string(i) + "\",\"scopeMapName\":\"" + n +
                       "\",\"noPasswords\":true}",
                   kJson);
    ASSERT_EQ(r.status, 201) << r;
  }
  EXPECT_API_ERROR(
      api().post(regPath(reg_, "/scope-maps"),
                 R"({"name":"m100","actions":["repositories/a/content/read"]})", kJson),
      403, "DENIED");
  EXPECT_API_ERROR(api().post(regPath(reg_, "/tokens"),
                              R"({"name":"t100","scopeMapName":"m0","noPasswords":true})", kJson),
                   403, "DENIED");
  EXPECT_EQ(api().get(regPath(reg_, "/scope-maps/m100")).status, 404);
  EXPECT_EQ(api().get(regPath(reg_, "/tokens/t100")).status, 404);
  json::Value u = usage(reg_);
  EXPECT_EQ(integer(*usageEntry(u, "ScopeMaps"), "currentValue"), 100);
  EXPECT_EQ(integer(*usageEntry(u, "Tokens"), "currentValue"), 100);
  // Standard allows 500.
  ASSERT_EQ(api().patch(regPath(reg_), R"({"sku":"Standard"})", kJson).status, 200);
  EXPECT_EQ(api()
                .post(regPath(reg_, "/scope-maps"),
                      R"({"name":"m100","actions":["repositories/a/content/read"]})", kJson)
                .status,
            201);
  EXPECT_EQ(api()
                .post(regPath(reg_, "/tokens"),
                      R"({"name":"t100","scopeMapName":"m0","noPasswords":true})", kJson)
                .status,
            201);
  // Back to Basic with 101 of each: the SKU is too small.
  EXPECT_API_ERROR(api().patch(regPath(reg_), R"({"sku":"Basic"})", kJson), 409, "CONFLICT");
  json::Value r = expectJson(api().get(regPath(reg_)), 200);
  EXPECT_EQ(str(*member(r, "sku"), "name"), "Standard");
  ASSERT_EQ(api().del(regPath(reg_, "/tokens/t100")).status, 204);
  EXPECT_API_ERROR(api().patch(regPath(reg_), R"({"sku":"Basic"})", kJson), 409, "CONFLICT")
      << "still 101 scope maps";
  ASSERT_EQ(api().del(regPath(reg_, "/scope-maps/m100")).status, 204);
  EXPECT_EQ(api().patch(regPath(reg_), R"({"sku":"Basic"})", kJson).status, 200);
}

}  // namespace
}  // namespace berth_test::control
