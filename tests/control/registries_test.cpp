// Registries (docs/control-api.md): list, create, check-name, show, update, usage, delete, and
// what create/update/delete mean for the data plane of `<name>.registry.test`.
#include <filesystem>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

constexpr long long kGiB = 1024LL * 1024 * 1024;
const Headers kJson = {{"Content-Type", "application/json"}};

class RegistriesTest : public ControlTest {
 protected:
  // Every member of a Registry object, with the values a new registry has by default.
  void expectRegistryShape(const json::Value& r, const std::string& name) {
    SCOPED_TRACE("registry " + name);
    EXPECT_EQ(str(r, "name"), name);
    std::string login = str(r, "loginServer");
    if (name != "default") {
      EXPECT_TRUE(login == name + "." + kDomain || login == registryHost(name))
          << "loginServer " << login;
    } else {
      EXPECT_FALSE(login.empty());
    }
    EXPECT_TRUE(r.find("sku") && r.find("sku")->isObject());
    EXPECT_FALSE(str(*member(r, "sku"), "name").empty());
    EXPECT_EQ(str(*member(r, "sku"), "tier"), str(*member(r, "sku"), "name"));
    EXPECT_TRUE(boolean(r, "adminUserEnabled").has_value());
    EXPECT_TRUE(boolean(r, "anonymousPullEnabled").has_value());
    EXPECT_FALSE(str(r, "storagePath").empty());
    ASSERT_NE(member(r, "quota.storageBytes"), nullptr);
    EXPECT_TRUE(integer(*member(r, "quota"), "storageBytes").has_value());
    EXPECT_TRUE(isRfc3339Utc(str(r, "creationDate"))) << str(r, "creationDate");
    EXPECT_EQ(str(r, "provisioningState"), "Succeeded");
  }
  static long long quotaOf(const json::Value& r) {
    const json::Value* q = r.find("quota");
    return q ? integer(*q, "storageBytes").value_or(-1) : -1;
  }
  std::vector<std::string> registryNames() {
    json::Value list = expectJson(api().get("/api/v1/registries"), 200);
    EXPECT_TRUE(list.isArray());
    return strings(&list, "name");
  }
};

TEST_F(RegistriesTest, VersionIsTheBinarysAndTheOperatorsToKnow) {
  json::Value v = expectJson(api().get("/api/v1/version"), 200);
  const CommandResult line = runCommand({berthBin(), "--version"});
  ASSERT_EQ(line.status, 0) << line.describe();
  EXPECT_EQ(line.out, "berth " + str(v, "version") + " (commit " + str(v, "commit") + ")\n");
  const Identity admin = createRegistryWithAdmin(uniqueRegistryName());
  EXPECT_API_ERROR(apiAs(admin.basic(), "GET", "/api/v1/version"), 403, "DENIED");
  EXPECT_API_ERROR(apiAs("", "GET", "/api/v1/version"), 401, "UNAUTHORIZED");
}

TEST_F(RegistriesTest, ListHoldsTheDefaultRegistry) {
  json::Value list = expectJson(api().get("/api/v1/registries"), 200);
  ASSERT_TRUE(list.isArray());
  const json::Value* def = nullptr;
  for (const auto& r : list.asArray())
    if (r.getString("name") == "default") def = &r;
  ASSERT_NE(def, nullptr) << "no registry named default in " << api().get("/api/v1/registries");
  expectRegistryShape(*def, "default");
  // The harness enabled the default registry's admin account.
  EXPECT_EQ(boolean(*def, "adminUserEnabled"), true);
}

TEST_F(RegistriesTest, CreateReturnsTheRegistryWithDefaults) {
  std::string name = uniqueRegistryName();
  json::Value r = createRegistry(name);
  expectRegistryShape(r, name);
  EXPECT_EQ(str(*member(r, "sku"), "name"), "Basic");
  EXPECT_EQ(boolean(r, "adminUserEnabled"), false);
  EXPECT_EQ(boolean(r, "anonymousPullEnabled"), false);
  EXPECT_EQ(quotaOf(r), 10 * kGiB);

  json::Value shown = expectJson(api().get(regPath(name)), 200);
  expectRegistryShape(shown, name);
  EXPECT_EQ(str(shown, "creationDate"), str(r, "creationDate"));
  EXPECT_EQ(str(shown, "loginServer"), str(r, "loginServer"));
  auto names = registryNames();
  EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "default"), names.end());
}

TEST_F(RegistriesTest, CreateWithSkuFlagsAndQuota) {
  std::string std1 = uniqueRegistryName();
  json::Value r = createRegistry(
      std1, R"("sku":"Standard","adminUserEnabled":true,"anonymousPullEnabled":true)");
  EXPECT_EQ(str(*member(r, "sku"), "name"), "Standard");
  EXPECT_EQ(str(*member(r, "sku"), "tier"), "Standard");
  EXPECT_EQ(boolean(r, "adminUserEnabled"), true);
  EXPECT_EQ(boolean(r, "anonymousPullEnabled"), true);
  EXPECT_EQ(quotaOf(r), 100 * kGiB);

  json::Value p = createRegistry(uniqueRegistryName(), R"("sku":"Premium")");
  EXPECT_EQ(str(*member(p, "sku"), "name"), "Premium");
  EXPECT_EQ(quotaOf(p), 500 * kGiB);

  json::Value q = createRegistry(uniqueRegistryName(), R"("sku":"Premium","quotaBytes":123456)");
  EXPECT_EQ(quotaOf(q), 123456);
  EXPECT_EQ(str(*member(q, "sku"), "name"), "Premium");
}

TEST_F(RegistriesTest, CreateTakenNameIs409) {
  std::string name = uniqueRegistryName();
  json::Value first = createRegistry(name, R"("sku":"Standard")");
  EXPECT_API_ERROR(api().post("/api/v1/registries", "{\"name\":\"" + name + "\"}", kJson), 409,
                   "CONFLICT");
  EXPECT_API_ERROR(api().post("/api/v1/registries", R"({"name":"default"})", kJson), 409,
                   "CONFLICT");
  json::Value still = expectJson(api().get(regPath(name)), 200);
  EXPECT_EQ(str(*member(still, "sku"), "name"), "Standard") << "the refused create changed it";
  EXPECT_EQ(str(still, "creationDate"), str(first, "creationDate"));
}

TEST_F(RegistriesTest, CreateInvalidNameIs400) {
  const std::vector<std::string> bad = {
      "",
      "abcd",                // 4 characters
      std::string(51, 'a'),  // 51
      "Upper1",              // capitals
      "with-dash",           // punctuation
      "with.dot",
      "under_score",
      "sp ace1",
      "caf\xc3\xa9s",  // non-ASCII
  };
  for (const auto& name : bad) {
    SCOPED_TRACE("name '" + name + "'");
    EXPECT_API_ERROR(
        api().post("/api/v1/registries", "{\"name\":" + json::quote(name) + "}", kJson), 400,
        "INVALID_ARGUMENT");
  }
  auto names = registryNames();
  for (const auto& name : bad)
    EXPECT_EQ(std::find(names.begin(), names.end(), name), names.end()) << name;
  // The limits themselves are valid.
  createRegistry(std::string(5, '7'));
  createRegistry(std::string(50, 'z'));
}

TEST_F(RegistriesTest, CreateBadBodyIs400) {
  const std::vector<std::string> bodies = {
      R"({})",
      R"({"name":12345})",
      R"({"name":null})",
      R"({"name":"goodname1","sku":"Gold"})",
      R"({"name":"goodname2","sku":7})",
      R"({"name":"goodname3","adminUserEnabled":"yes"})",
      R"({"name":"goodname4","anonymousPullEnabled":1})",
      R"({"name":"goodname5","quotaBytes":"big"})",
      R"({"name":"goodname6","storagePath":false})",
      R"(["goodname7"])",
      R"("goodname8")",
  };
  for (const auto& b : bodies) {
    SCOPED_TRACE(b);
    EXPECT_API_ERROR(api().post("/api/v1/registries", b, kJson), 400, "INVALID_ARGUMENT");
  }
  auto names = registryNames();
  for (int i = 1; i <= 8; ++i) {
    std::string n = "goodname" + std::to_string(i);
    EXPECT_EQ(std::find(names.begin(), names.end(), n), names.end()) << n << " was created";
  }
}

TEST_F(RegistriesTest, CheckName) {
  std::string taken = uniqueRegistryName();
  createRegistry(taken);
  auto check = [&](const std::string& name) {
    return expectJson(
        api().post("/api/v1/registries/check-name", "{\"name\":" + json::quote(name) + "}", kJson),
        200);
  };
  json::Value free = check(uniqueRegistryName());
  EXPECT_EQ(boolean(free, "nameAvailable"), true);
  ASSERT_NE(free.find("reason"), nullptr);
  EXPECT_TRUE(free.find("reason")->isNull());
  ASSERT_NE(free.find("message"), nullptr);
  EXPECT_TRUE(free.find("message")->isNull());

  for (const std::string& name : {taken, std::string("default")}) {
    SCOPED_TRACE(name);
    json::Value t = check(name);
    EXPECT_EQ(boolean(t, "nameAvailable"), false);
    EXPECT_EQ(str(t, "reason"), "AlreadyExists");
    EXPECT_FALSE(str(t, "message").empty());
  }
  for (const std::string& name :
       {std::string("abc"), std::string("Bad-Name"), std::string(51, 'x'), std::string("")}) {
    SCOPED_TRACE(name);
    json::Value t = check(name);
    EXPECT_EQ(boolean(t, "nameAvailable"), false);
    EXPECT_EQ(str(t, "reason"), "Invalid");
    EXPECT_FALSE(str(t, "message").empty());
  }
  EXPECT_API_ERROR(api().post("/api/v1/registries/check-name", R"({"name":5})", kJson), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(api().post("/api/v1/registries/check-name", R"({})", kJson), 400,
                   "INVALID_ARGUMENT");
  // Checking creates nothing.
  std::string probe = uniqueRegistryName();
  check(probe);
  EXPECT_EQ(api().get(regPath(probe)).status, 404);
}

TEST_F(RegistriesTest, UnknownRegistryIs404EverywhereUnderIt) {
  const std::string name = uniqueRegistryName();
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", ""},
      {"DELETE", ""},
      {"GET", "/usage"},
      {"GET", "/credentials"},
      {"GET", "/repositories"},
      {"GET", "/repositories/team/app"},
      {"GET", "/repositories/team/app/_tags"},
      {"GET", "/scope-maps"},
      {"GET", "/scope-maps/_repositories_pull"},
      {"GET", "/tokens"},
  };
  for (const auto& [method, suffix] : routes) {
    SCOPED_TRACE(method + " " + suffix);
    EXPECT_API_ERROR(api().request(method, regPath(name, suffix)), 404, "NOT_FOUND");
  }
  EXPECT_API_ERROR(api().patch(regPath(name), R"({"adminUserEnabled":true})", kJson), 404,
                   "NOT_FOUND");
  EXPECT_API_ERROR(api().post(regPath(name, "/credentials/renew"), R"({"name":"password"})", kJson),
                   404, "NOT_FOUND");
  EXPECT_API_ERROR(api().post(regPath(name, "/login"), "", kJson), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().post(regPath(name, "/scope-maps"),
                              R"({"name":"m1","actions":["repositories/a/content/read"]})", kJson),
                   404, "NOT_FOUND");
  EXPECT_EQ(api().get(regPath(name)).status, 404) << "a refused call created the registry";
}

TEST_F(RegistriesTest, UpdateChangesOnlyWhatIsGiven) {
  std::string name = uniqueRegistryName();
  json::Value before = createRegistry(name);
  json::Value r = expectJson(api().patch(regPath(name), R"({"sku":"Standard"})", kJson), 200);
  EXPECT_EQ(str(*member(r, "sku"), "name"), "Standard");
  EXPECT_EQ(quotaOf(r), 100 * kGiB);
  EXPECT_EQ(boolean(r, "adminUserEnabled"), false);

  r = expectJson(api().patch(regPath(name), R"({"quotaBytes":5000})", kJson), 200);
  EXPECT_EQ(quotaOf(r), 5000);
  EXPECT_EQ(str(*member(r, "sku"), "name"), "Standard");

  r = expectJson(
      api().patch(regPath(name), R"({"adminUserEnabled":true,"anonymousPullEnabled":true})", kJson),
      200);
  EXPECT_EQ(boolean(r, "adminUserEnabled"), true);
  EXPECT_EQ(boolean(r, "anonymousPullEnabled"), true);
  EXPECT_EQ(quotaOf(r), 5000);

  json::Value shown = expectJson(api().get(regPath(name)), 200);
  expectRegistryShape(shown, name);
  EXPECT_EQ(str(*member(shown, "sku"), "name"), "Standard");
  EXPECT_EQ(quotaOf(shown), 5000);
  EXPECT_EQ(boolean(shown, "adminUserEnabled"), true);
  EXPECT_EQ(boolean(shown, "anonymousPullEnabled"), true);
  EXPECT_EQ(str(shown, "creationDate"), str(before, "creationDate"));
  EXPECT_EQ(str(shown, "loginServer"), str(before, "loginServer"));

  r = expectJson(api().patch(regPath(name), R"({"adminUserEnabled":false})", kJson), 200);
  EXPECT_EQ(boolean(r, "adminUserEnabled"), false);
  EXPECT_EQ(boolean(r, "anonymousPullEnabled"), true);
}

TEST_F(RegistriesTest, UpdateBadBodyIs400AndChangesNothing) {
  std::string name = uniqueRegistryName();
  createRegistry(name);
  for (const char* b :
       {R"({"sku":"Gold"})", R"({"adminUserEnabled":"true"})", R"({"anonymousPullEnabled":null})",
        R"({"quotaBytes":"1"})", R"({"quotaBytes":1.5})", R"([])", R"({"sku":"Premium",)"}) {
    SCOPED_TRACE(b);
    EXPECT_API_ERROR(api().patch(regPath(name), b, kJson), 400, "INVALID_ARGUMENT");
  }
  json::Value shown = expectJson(api().get(regPath(name)), 200);
  EXPECT_EQ(str(*member(shown, "sku"), "name"), "Basic");
  EXPECT_EQ(boolean(shown, "adminUserEnabled"), false);
  EXPECT_EQ(boolean(shown, "anonymousPullEnabled"), false);
  EXPECT_EQ(quotaOf(shown), 10 * kGiB);
}

TEST_F(RegistriesTest, AnonymousPullIsPerRegistry) {
  std::string a = uniqueRegistryName(), b = uniqueRegistryName();
  Identity adminA = createRegistryWithAdmin(a);
  Identity adminB = createRegistryWithAdmin(b);
  auto imgA = plane(a, adminA.basic())->pushImage("pub/app", "v1");
  plane(b, adminB.basic())->pushImage("pub/app", "v1");
  ASSERT_EQ(api().patch(regPath(a), R"({"anonymousPullEnabled":true})", kJson).status, 200);
  auto anonA = plane(a, "");
  Response r = anonA->getManifest("pub/app", "v1");
  EXPECT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.body, imgA.body);
  EXPECT_EQ(anonA->getBlob("pub/app", imgA.layer.digest).status, 200);
  EXPECT_REGISTRY_ERROR(plane(b, "")->getManifest("pub/app", "v1"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(anonA->postBlob("pub/app", "x"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(plane("default", "")->getManifest("pub/app", "v1"), 401, "UNAUTHORIZED");
  ASSERT_EQ(api().patch(regPath(a), R"({"anonymousPullEnabled":false})", kJson).status, 200);
  EXPECT_REGISTRY_ERROR(anonA->getManifest("pub/app", "v1"), 401, "UNAUTHORIZED");
}

TEST_F(RegistriesTest, AdminSwitchTakesEffectOnTheDataPlane) {
  std::string name = uniqueRegistryName();
  Identity admin = createRegistryWithAdmin(name);
  auto p = plane(name, admin.basic());
  EXPECT_EQ(p->get("/v2/").status, 200);
  ASSERT_EQ(api().patch(regPath(name), R"({"adminUserEnabled":false})", kJson).status, 200);
  EXPECT_REGISTRY_ERROR(p->get("/v2/"), 401, "UNAUTHORIZED");
  ASSERT_EQ(api().patch(regPath(name), R"({"adminUserEnabled":true})", kJson).status, 200);
  EXPECT_EQ(p->get("/v2/").status, 200);
}

TEST_F(RegistriesTest, DeleteRegistry) {
  std::string name = uniqueRegistryName();
  Identity admin = createRegistryWithAdmin(name);
  Response d = api().del(regPath(name));
  EXPECT_EQ(d.status, 204) << d;
  EXPECT_API_ERROR(api().get(regPath(name)), 404, "NOT_FOUND");
  auto names = registryNames();
  EXPECT_EQ(std::find(names.begin(), names.end(), name), names.end());
  EXPECT_API_ERROR(api().del(regPath(name)), 404, "NOT_FOUND");
  // Its host is now an unknown registry.
  Response v2 = plane(name, admin.basic())->get("/v2/");
  EXPECT_EQ(v2.status, 404) << v2;
  json::Value check = expectJson(
      api().post("/api/v1/registries/check-name", "{\"name\":\"" + name + "\"}", kJson), 200);
  EXPECT_EQ(boolean(check, "nameAvailable"), true);
}

TEST_F(RegistriesTest, StoragePathHoldsTheRegistrysBlobs) {
  std::string name = uniqueRegistryName();
  std::string dir = dataDir() + "/elsewhere/" + name;
  json::Value r = createRegistry(name, "\"storagePath\":" + json::quote(dir));
  EXPECT_EQ(str(r, "storagePath"), dir);
  Identity admin = enableAdmin(name);
  std::string blob = randomBytes(3000);
  plane(name, admin.basic())->pushBlob("team/app", blob);
  const std::string hex = sha256Hex(blob);
  auto holds = [&](const std::string& root) {
    std::error_code ec;
    if (!std::filesystem::exists(root, ec)) return false;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root, ec))
      if (e.is_regular_file() && e.path().filename() == hex) return true;
    return false;
  };
  EXPECT_TRUE(holds(dir)) << "blob " << hex << " not stored under " << dir;
  EXPECT_FALSE(holds(dataDir() + "/registries/default")) << "stored in the default registry";
  ASSERT_EQ(api().del(regPath(name)).status, 204);
  EXPECT_FALSE(holds(dir)) << "the blob survived the registry's deletion";
}

TEST_F(RegistriesTest, StoragePathInsideAnotherRegistrysIs409) {
  std::string a = uniqueRegistryName();
  std::string pathA = str(createRegistry(a), "storagePath");
  ASSERT_FALSE(pathA.empty());
  json::Value def = expectJson(api().get(regPath("default")), 200);
  for (const std::string& inside : {pathA, pathA + "/inner", str(def, "storagePath") + "/x"}) {
    SCOPED_TRACE(inside);
    std::string b = uniqueRegistryName();
    EXPECT_API_ERROR(
        api().post("/api/v1/registries",
                   "{\"name\":\"" + b + "\",\"storagePath\":" + json::quote(inside) + "}", kJson),
        409, "CONFLICT");
    EXPECT_EQ(api().get(regPath(b)).status, 404);
  }
}

TEST_F(RegistriesTest, DefaultRegistryCannotBeDeleted) {
  EXPECT_API_ERROR(api().del(regPath("default")), 409, "CONFLICT");
  EXPECT_EQ(api().get(regPath("default")).status, 200);
  EXPECT_EQ(http().get("/v2/").status, 200) << "the default registry still serves";
}

TEST_F(RegistriesTest, DeleteRemovesContentAndCredentials) {
  std::string name = uniqueRegistryName();
  json::Value created = createRegistry(name);
  Identity admin = enableAdmin(name);
  auto p = plane(name, admin.basic());
  auto img = p->pushImage("team/app", "v1", 4096);
  Identity token = createTokenWithActions(
      name, "ci", {"repositories/*/content/read", "repositories/*/metadata/read"});
  EXPECT_EQ(plane(name, token.basic())->getManifest("team/app", "v1").status, 200);
  json::Value login = expectJson(api().post(regPath(name, "/login"), "", kJson), 200);
  std::string refresh = str(login, "refreshToken");
  std::string storage = str(created, "storagePath");
  Response t = p->get("/oauth2/token?service=" + urlEncode(registryHost(name)) +
                      "&scope=" + urlEncode("repository:team/app:pull"));
  std::string jwt = str(expectJson(t, 200), "token");
  ASSERT_EQ(plane(name, bearerAuthorization(jwt))->getManifest("team/app", "v1").status, 200);

  ASSERT_EQ(api().del(regPath(name)).status, 204);
  if (!storage.empty() && std::filesystem::exists(storage)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(storage))
      EXPECT_FALSE(e.is_regular_file()) << "left behind after delete: " << e.path();
  }

  // The same name again starts empty.
  createRegistry(name);
  json::Value repos = expectJson(api().get(regPath(name, "/repositories")), 200);
  ASSERT_TRUE(repos.isArray());
  EXPECT_TRUE(repos.asArray().empty()) << api().get(regPath(name, "/repositories"));
  json::Value tokens = expectJson(api().get(regPath(name, "/tokens")), 200);
  EXPECT_TRUE(strings(&tokens, "name").empty()) << "tokens survived the delete";
  json::Value maps = expectJson(api().get(regPath(name, "/scope-maps")), 200);
  for (const auto& m : maps.asArray())
    EXPECT_EQ(str(m, "type"), "SystemDefined") << "scope map survived: " << str(m, "name");
  json::Value u = usage(name);
  EXPECT_EQ(integer(*usageEntry(u, "Size"), "currentValue"), 0);
  EXPECT_EQ(integer(*usageEntry(u, "Repositories"), "currentValue"), 0);
  EXPECT_EQ(integer(*usageEntry(u, "Tokens"), "currentValue"), 0);

  // Old credentials are gone: the admin (enabled again, new password), the token, the refresh
  // token.
  EXPECT_REGISTRY_ERROR(plane(name, token.basic())->get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(plane(name, basicAuthorization(kRefreshUser, refresh))->get("/v2/"), 401,
                        "UNAUTHORIZED")
      << "the refresh token of the deleted registry works in the new one";
  EXPECT_REGISTRY_ERROR(plane(name, bearerAuthorization(jwt))->get("/v2/"), 401, "UNAUTHORIZED")
      << "a JWT issued by the deleted registry works in the new one";
  ASSERT_EQ(api().patch(regPath(name), R"({"adminUserEnabled":true})", kJson).status, 200);
  EXPECT_REGISTRY_ERROR(plane(name, admin.basic())->get("/v2/"), 401, "UNAUTHORIZED");
  Identity fresh{name, renewPassword(name, "password")};
  auto q = plane(name, fresh.basic());
  EXPECT_EQ(q->get("/v2/").status, 200);
  EXPECT_TRUE(IsError(q->getManifest("team/app", img.manifest.digest), 404,
                      std::vector<std::string>{"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}));
  EXPECT_TRUE(IsError(q->getBlob("team/app", img.layer.digest), 404,
                      std::vector<std::string>{"BLOB_UNKNOWN", "NAME_UNKNOWN"}));
  json::Value cat = expectJson(q->catalog(), 200);
  EXPECT_TRUE(strings(cat.find("repositories")).empty()) << q->catalog();
  // Nor can the old content be mounted back in.
  Response m = q->post("/v2/team/app/blobs/uploads/?mount=" + img.layer.digest + "&from=team/app");
  EXPECT_EQ(m.status, 202) << m;
}

TEST_F(RegistriesTest, UsageCountsRepositoriesScopeMapsTokensAndBytes) {
  std::string name = uniqueRegistryName();
  Identity admin = createRegistryWithAdmin(name);
  json::Value u0 = usage(name);
  ASSERT_NE(u0.find("value"), nullptr) << api().get(regPath(name, "/usage"));
  const json::Value* size = usageEntry(u0, "Size");
  const json::Value* repos = usageEntry(u0, "Repositories");
  const json::Value* maps = usageEntry(u0, "ScopeMaps");
  const json::Value* tokens = usageEntry(u0, "Tokens");
  ASSERT_TRUE(size && repos && maps && tokens) << api().get(regPath(name, "/usage"));
  EXPECT_EQ(integer(*size, "limit"), 10 * kGiB);
  EXPECT_EQ(integer(*size, "currentValue"), 0);
  EXPECT_EQ(str(*size, "unit"), "Bytes");
  ASSERT_NE(repos->find("limit"), nullptr);
  EXPECT_TRUE(repos->find("limit")->isNull());
  EXPECT_EQ(integer(*repos, "currentValue"), 0);
  EXPECT_EQ(str(*repos, "unit"), "Count");
  EXPECT_EQ(integer(*maps, "limit"), 100);
  EXPECT_EQ(str(*maps, "unit"), "Count");
  EXPECT_EQ(integer(*tokens, "limit"), 100);
  EXPECT_EQ(integer(*tokens, "currentValue"), 0);
  EXPECT_EQ(str(*tokens, "unit"), "Count");
  long long maps0 = integer(*maps, "currentValue").value_or(-1);

  auto p = plane(name, admin.basic());
  auto a = p->pushImage("team/a", "v1", 3000);
  auto b = p->pushImage("team/b", "v1", 5000);
  createTokenWithActions(name, "t1", {"repositories/team/*/content/read"});

  json::Value u1 = usage(name);
  EXPECT_EQ(integer(*usageEntry(u1, "Repositories"), "currentValue"), 2);
  EXPECT_EQ(integer(*usageEntry(u1, "ScopeMaps"), "currentValue"), maps0 + 1);
  EXPECT_EQ(integer(*usageEntry(u1, "Tokens"), "currentValue"), 1);
  long long blobs =
      static_cast<long long>(a.config.size + a.layer.size + b.config.size + b.layer.size);
  long long manifests = static_cast<long long>(a.manifest.size + b.manifest.size);
  long long bytes = integer(*usageEntry(u1, "Size"), "currentValue").value_or(-1);
  EXPECT_GE(bytes, blobs) << "Size counts every stored blob";
  EXPECT_LE(bytes, blobs + manifests) << "Size counts nothing but blobs and manifests";

  // A blob already stored in the registry is stored once.
  p->pushBlob("team/c", "{\"architecture\":\"amd64\",\"n\":\"" + randomHex(8) + "\"}");
  json::Value u2 = usage(name);
  long long after = integer(*usageEntry(u2, "Size"), "currentValue").value_or(-1);
  EXPECT_GT(after, bytes);
  Response mount = p->post("/v2/team/d/blobs/uploads/?mount=" + b.layer.digest + "&from=team/b");
  EXPECT_EQ(mount.status, 201) << mount;
  json::Value u3 = usage(name);
  EXPECT_EQ(integer(*usageEntry(u3, "Size"), "currentValue"), after)
      << "mounting a stored blob stores nothing";

  ASSERT_EQ(api().patch(regPath(name), R"({"sku":"Standard"})", kJson).status, 200);
  json::Value u4 = usage(name);
  EXPECT_EQ(integer(*usageEntry(u4, "Size"), "limit"), 100 * kGiB);
  EXPECT_EQ(integer(*usageEntry(u4, "ScopeMaps"), "limit"), 500);
  EXPECT_EQ(integer(*usageEntry(u4, "Tokens"), "limit"), 500);
}

}  // namespace
}  // namespace berth_test::control
