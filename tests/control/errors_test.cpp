// The control API's generic behaviour (docs/control-api.md): 400 for malformed JSON, 413 for a
// body over 64 KiB, 404 for an unknown route, 405 for a known path with another method, the
// OpenAPI document and /healthz without credentials, the API on every host, and
// --operator-token-file.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

class ApiErrorsTest : public AdminRegistryTest {
 protected:
  void SetUp() override {
    AdminRegistryTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    img_ = p_->pushImage("team/app", "v1");
    createScopeMap(reg_, "m1", {"repositories/team/app/content/read"});
    createToken(reg_, "t1", "m1");
  }
  // Every route that takes a JSON body, with its method.
  std::vector<std::pair<std::string, std::string>> bodyRoutes() const {
    return {
        {"POST", "/api/v1/registries"},
        {"POST", "/api/v1/registries/check-name"},
        {"PATCH", regPath(reg_)},
        {"POST", regPath(reg_, "/credentials/renew")},
        {"PATCH", repoPath(reg_, "team/app")},
        {"PATCH", repoPath(reg_, "team/app", "/_tags/v1")},
        {"PATCH", repoPath(reg_, "team/app", "/_manifests/" + img_.manifest.digest)},
        {"POST", regPath(reg_, "/scope-maps")},
        {"PATCH", regPath(reg_, "/scope-maps/m1")},
        {"POST", regPath(reg_, "/tokens")},
        {"PATCH", regPath(reg_, "/tokens/t1")},
        {"POST", regPath(reg_, "/tokens/t1/credentials")},
    };
  }

  RegistryClient::Image img_;
};

TEST_F(ApiErrorsTest, MalformedJsonIs400OnEveryBodyRoute) {
  for (const auto& [method, path] : bodyRoutes()) {
    for (const char* body : {"{", "not json", "{\"name\":}", "{\"a\":1} trailing", "\x01"}) {
      SCOPED_TRACE(method + " " + path + " body " + body);
      EXPECT_API_ERROR(api().request(method, path, kJson, body), 400, "INVALID_ARGUMENT");
    }
  }
  // Nothing changed.
  EXPECT_EQ(plane(reg_, admin_.basic())->get("/v2/").status, 200);
  json::Value tag = expectJson(api().get(repoPath(reg_, "team/app", "/_tags/v1")), 200);
  EXPECT_EQ(boolean(*tag.find("changeableAttributes"), "writeEnabled"), true);
}

TEST_F(ApiErrorsTest, WrongTypesAre400) {
  // A JSON value of the wrong type where the route wants an object.
  for (const auto& [method, path] : bodyRoutes()) {
    for (const char* body : {"[]", "\"text\"", "42", "null"}) {
      SCOPED_TRACE(method + " " + path + " body " + body);
      EXPECT_API_ERROR(api().request(method, path, kJson, body), 400, "INVALID_ARGUMENT");
    }
  }
}

TEST_F(ApiErrorsTest, UnknownFieldIs400OnEveryBodyRoute) {
  const std::string fresh = uniqueRegistryName();
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"/api/v1/registries", "{\"name\":\"" + fresh + "\",\"bogus\":1}"},
      {"/api/v1/registries", "{\"name\":\"" + fresh + "\",\"adminUserEnable\":true}"},
      {"/api/v1/registries/check-name", R"({"name":"abcdef1","bogus":1})"},
      {regPath(reg_), R"({"adminUserEnable":true})"},
      {regPath(reg_, "/credentials/renew"), R"({"name":"password","bogus":1})"},
      {repoPath(reg_, "team/app"), R"({"writeEnabled":true,"bogus":1})"},
      {repoPath(reg_, "team/app", "/_tags/v1"), R"({"writeEnabled":true,"bogus":1})"},
      {repoPath(reg_, "team/app", "/_manifests/" + img_.manifest.digest),
       R"({"writeEnabled":true,"bogus":1})"},
      {regPath(reg_, "/scope-maps"),
       R"({"name":"m9","actions":["repositories/a/content/read"],"bogus":1})"},
      {regPath(reg_, "/scope-maps/m1"), R"({"description":"x","bogus":1})"},
      {regPath(reg_, "/tokens"), R"({"name":"t9","scopeMapName":"m1","bogus":1})"},
      {regPath(reg_, "/tokens/t1"), R"({"status":"enabled","bogus":1})"},
      {regPath(reg_, "/tokens/t1/credentials"), R"({"name":"password1","bogus":1})"},
  };
  const auto routes = bodyRoutes();
  for (const auto& [path, body] : bodies) {
    std::string method = "POST";
    for (const auto& [m, p] : routes)
      if (p == path) method = m;
    SCOPED_TRACE(method + " " + path + " " + body);
    EXPECT_API_ERROR(api().request(method, path, kJson, body), 400, "INVALID_ARGUMENT");
  }
  EXPECT_EQ(api().get(regPath(fresh)).status, 404);
  EXPECT_EQ(api().get(regPath(reg_, "/scope-maps/m9")).status, 404);
  EXPECT_EQ(api().get(regPath(reg_, "/tokens/t9")).status, 404);
  EXPECT_EQ(plane(reg_, admin_.basic())->get("/v2/").status, 200) << "the password changed";
}

TEST_F(ApiErrorsTest, BodyOver64KiBIs413) {
  // A valid document padded with spaces: just under the limit it is accepted, just over it is
  // refused as too large.
  auto padded = [](const std::string& head, std::size_t total) {
    std::string tail = "]}";
    return head + std::string(total - head.size() - tail.size(), ' ') + tail;
  };
  std::string under =
      padded(R"({"name":"big1","actions":["repositories/a/content/read")", 64 * 1024 - 100);
  EXPECT_EQ(api().post(regPath(reg_, "/scope-maps"), under, kJson).status, 201);
  std::string over =
      padded(R"({"name":"big2","actions":["repositories/a/content/read")", 64 * 1024 + 1);
  Response r = api().post(regPath(reg_, "/scope-maps"), over, kJson);
  EXPECT_API_ERROR(r, 413, "TOO_LARGE");
  EXPECT_EQ(api().get(regPath(reg_, "/scope-maps/big2")).status, 404);
  std::string huge =
      R"({"name":")" + uniqueRegistryName() + R"(","x":")" + std::string(1024 * 1024, 'a') + "\"}";
  EXPECT_API_ERROR(api().post("/api/v1/registries", huge, kJson), 413, "TOO_LARGE");
}

TEST_F(ApiErrorsTest, UnknownRouteIs404) {
  for (const std::string& path : {
           std::string("/api/v1"),
           std::string("/api/v1/"),
           std::string("/api/v1/nothing"),
           std::string("/api/v1/registries/") + reg_ + "/nothing",
           std::string("/api/v1/registries/") + reg_ + "/credentials/nothing",
           std::string("/api/v1/registries/") + reg_ + "/tokens/t1/nothing",
           std::string("/api/v1/registries/") + reg_ + "/scope-maps/m1/nothing",
       }) {
    SCOPED_TRACE(path);
    EXPECT_API_ERROR(api().get(path), 404, "NOT_FOUND");
  }
  EXPECT_API_ERROR(api().post("/api/v1/nothing", "{}", kJson), 404, "NOT_FOUND");
}

TEST_F(ApiErrorsTest, WrongMethodIs405) {
  const std::string r = regPath(reg_);
  const std::string repo = repoPath(reg_, "team/app");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PUT", "/api/v1/registries"},
      {"DELETE", "/api/v1/registries"},
      {"POST", r},
      {"PUT", r},
      {"POST", r + "/usage"},
      {"DELETE", r + "/credentials"},
      {"GET", r + "/credentials/renew"},
      {"GET", r + "/login"},
      {"DELETE", r + "/repositories"},
      {"POST", repo},
      {"PUT", repo},
      {"POST", repo + "/_tags"},
      {"PUT", repo + "/_tags/v1"},
      {"DELETE", repo + "/_manifests"},
      {"POST", repo + "/_manifests/" + img_.manifest.digest},
      {"DELETE", r + "/scope-maps"},
      {"POST", r + "/scope-maps/m1"},
      {"PUT", r + "/tokens"},
      {"POST", r + "/tokens/t1"},
      {"GET", r + "/tokens/t1/credentials"},
      {"DELETE", r + "/tokens/t1/credentials"},
      {"PUT", r + "/tokens/t1/credentials/password1"},
      {"POST", r + "/tokens/t1/credentials/password1"},
      {"POST", "/api/v1/openapi.json"},
  };
  for (const auto& [method, path] : cases) {
    SCOPED_TRACE(method + " " + path);
    bool withBody = method == "POST" || method == "PUT";
    Response resp = withBody ? api().request(method, path, kJson, std::string_view("{}"))
                             : api().request(method, path);
    EXPECT_API_ERROR(resp, 405, "METHOD_NOT_ALLOWED");
  }
  // Nothing changed.
  EXPECT_EQ(api().get(r).status, 200);
  EXPECT_EQ(api().get(repo + "/_tags/v1").status, 200);
  EXPECT_EQ(api().get(r + "/tokens/t1").status, 200);
}

TEST_F(ApiErrorsTest, OpenApiDocumentNeedsNoCredentials) {
  for (const std::string& host : {hostPort(), registryHost(reg_), std::string("x.example:1")}) {
    SCOPED_TRACE(host);
    Response r = api().get("/api/v1/openapi.json", {noAuth(), {"Host", host}});
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_TRUE(HasContentType(r, "application/json"));
    auto doc = json::parse(r.body);
    ASSERT_TRUE(doc && doc->isObject()) << r;
    EXPECT_EQ(str(*doc, "openapi").substr(0, 2), "3.") << r;
    const json::Value* paths = doc->find("paths");
    ASSERT_TRUE(paths && paths->isObject() && !paths->asObject().empty()) << r;
    bool tokens = false;
    for (const auto& [p, v] : paths->asObject())
      if (p.find("/tokens") != std::string::npos) tokens = true;
    EXPECT_TRUE(tokens) << "no tokens path in the OpenAPI document";
  }
}

TEST_F(ApiErrorsTest, HealthzOnEveryHost) {
  for (const std::string& host : {hostPort(), registryHost(reg_), registryHost("nosuchreg1"),
                                  std::string("localhost"), std::string("x.example:1")}) {
    SCOPED_TRACE(host);
    Response r = api().get("/healthz", {noAuth(), {"Host", host}});
    EXPECT_EQ(r.status, 200) << r;
    auto doc = json::parse(r.body);
    ASSERT_TRUE(doc) << r;
    EXPECT_EQ(str(*doc, "status"), "ok");
  }
}

TEST_F(ApiErrorsTest, ControlApiOnEveryHost) {
  json::Value direct = expectJson(api().get("/api/v1/registries"), 200);
  for (const std::string& host : {registryHost(reg_), registryHost("nosuchreg1"),
                                  std::string("default.") + kDomain, std::string("x.example:1")}) {
    SCOPED_TRACE(host);
    json::Value via = expectJson(api().get("/api/v1/registries", {{"Host", host}}), 200);
    EXPECT_EQ(strings(&via, "name"), strings(&direct, "name"));
    // The registry in the path counts, not the one of the Host.
    json::Value def = expectJson(api().get(regPath("default"), {{"Host", host}}), 200);
    EXPECT_EQ(str(def, "name"), "default");
  }
  // A registry's admin on another registry's host still addresses its own registry by path.
  Response r = api().get(regPath(reg_), {{"Authorization", admin_.basic()},
                                         {"Host", std::string("default.") + kDomain}});
  EXPECT_EQ(r.status, 200) << r;
}

// --operator-token-file names the file: an existing one is read, a missing one is created with
// a fresh token (mode 0600).
class OperatorTokenFileTest : public ControlTest {
 protected:
  OperatorTokenFileTest() {
    char tmpl[] = "/tmp/berth-control-op-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~OperatorTokenFileTest() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string operatorTokenFile() const override { return dir_ + "/secrets/operator"; }
  std::vector<std::string> serveArgs() const override {
    return {"--domain", kDomain, "--operator-token-file", operatorTokenFile()};
  }
  std::string dir_;
};

class ExistingOperatorTokenFileTest : public OperatorTokenFileTest {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ + "/secrets");
    std::ofstream(operatorTokenFile()) << given_ << "\n";
    std::filesystem::permissions(operatorTokenFile(), std::filesystem::perms::owner_read |
                                                          std::filesystem::perms::owner_write);
    ControlTest::SetUp();
  }
  const std::string given_ = "op-" + randomHex(40);
};

TEST_F(ExistingOperatorTokenFileTest, TheGivenTokenIsTheOperator) {
  EXPECT_EQ(operatorToken(), given_) << "berth rewrote an existing operator token file";
  EXPECT_EQ(api().get("/api/v1/registries").status, 200);
  EXPECT_API_ERROR(apiAs(bearerAuthorization(given_ + "0"), "GET", "/api/v1/registries"), 401,
                   "UNAUTHORIZED");
  std::ifstream def(dataDir() + "/operator-token");
  if (def) {
    std::string other((std::istreambuf_iterator<char>(def)), std::istreambuf_iterator<char>());
    while (!other.empty() && std::isspace(static_cast<unsigned char>(other.back())))
      other.pop_back();
    EXPECT_API_ERROR(apiAs(bearerAuthorization(other), "GET", "/api/v1/registries"), 401,
                     "UNAUTHORIZED")
        << "the default file's token works although another file was named";
  }
}

class NewOperatorTokenFileTest : public OperatorTokenFileTest {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ + "/secrets");
    ControlTest::SetUp();
  }
};

TEST_F(NewOperatorTokenFileTest, AMissingFileIsCreatedPrivate) {
  ASSERT_TRUE(std::filesystem::exists(operatorTokenFile()));
  EXPECT_EQ(
      std::filesystem::status(operatorTokenFile()).permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_GE(operatorToken().size(), 32u);
  EXPECT_EQ(api().get("/api/v1/registries").status, 200);
}

}  // namespace
}  // namespace berth_test::control
