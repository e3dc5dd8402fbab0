// GET /v2/, unknown routes, wrong methods, common response headers and error body shape.
#include <chrono>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace berth_test {
namespace {

class BaseTest : public RegistryTest {};

TEST_F(BaseTest, V2RootReturns200WithEmptyJsonObject) {
  Response r = http().get("/v2/");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(stripSpaces(r.body), "{}") << r;
  EXPECT_EQ(r.headerOr("Docker-Distribution-API-Version"), "registry/2.0") << r;
}

TEST_F(BaseTest, UnknownRouteReturns404Unsupported) {
  // The specification's table has no code for a path naming no resource: UNSUPPORTED, 404.
  // ("/" is the portal's on the management host: tests/control/portal_test.cpp.)
  for (const std::string& path :
       {"/v2/" + repo("base/x") + "/nonsense/thing", std::string("/v3/"), std::string("/index"),
        std::string("/v2/" + repo("base/x") + "/blobs")}) {
    SCOPED_TRACE(path);
    Response r = http().get(path);
    EXPECT_REGISTRY_ERROR(r, 404, "UNSUPPORTED");
  }
}

TEST_F(BaseTest, WrongMethodOnKnownRouteReturns405Unsupported) {
  const std::string name = repo("base/methods");
  const std::string d = randomDigest();
  struct Case {
    std::string method;
    std::string path;
  };
  const std::vector<Case> cases = {
      {"DELETE", "/v2/"},
      {"POST", "/v2/" + name + "/tags/list"},
      {"DELETE", "/v2/" + name + "/tags/list"},
      {"PUT", "/v2/" + name + "/blobs/" + d},
      {"POST", "/v2/" + name + "/blobs/" + d},
      {"POST", "/v2/" + name + "/manifests/latest"},
      {"PATCH", "/v2/" + name + "/manifests/latest"},
      {"PUT", "/v2/_catalog"},
      {"DELETE", "/v2/" + name + "/referrers/" + d},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    std::optional<std::string_view> body;
    if (c.method == "PUT" || c.method == "POST" || c.method == "PATCH") body = std::string_view("");
    Response r = http().request(c.method, c.path, {}, body);
    EXPECT_REGISTRY_ERROR(r, 405, "UNSUPPORTED");
  }
}

TEST_F(BaseTest, ErrorResponsesHaveJsonBodyAndApiVersionHeader) {
  // 404, 400 and HEAD errors all carry the version header (checked by the
  // client for every response) and a JSON error body with code+message.
  const std::string name = repo("base/errors");
  Response notFound = http().get("/v2/" + name + "/blobs/" + randomDigest());
  EXPECT_REGISTRY_ERROR(notFound, 404, "BLOB_UNKNOWN");
  Response badDigest = http().get("/v2/" + name + "/blobs/sha256:1234");
  EXPECT_REGISTRY_ERROR(badDigest, 400, "DIGEST_INVALID");
  Response head = http().head("/v2/" + name + "/blobs/" + randomDigest());
  EXPECT_EQ(head.status, 404) << head;
  EXPECT_TRUE(head.body.empty()) << head;
  for (const Response* r : {&notFound, &badDigest, &head}) {
    EXPECT_EQ(r->headerOr("Docker-Distribution-API-Version"), "registry/2.0") << *r;
  }
}

TEST_F(BaseTest, SuccessfulResponsesCarryApiVersionHeader) {
  const std::string name = repo("base/headers");
  std::string data = randomBytes(10);
  std::string d = pushBlob(name, data);
  for (const Response& r :
       {http().get("/v2/"), http().get("/v2/" + name + "/blobs/" + d),
        http().head("/v2/" + name + "/blobs/" + d), http().post("/v2/" + name + "/blobs/uploads/"),
        http().get("/v2/_catalog")}) {
    EXPECT_EQ(r.headerOr("Docker-Distribution-API-Version"), "registry/2.0") << r;
    EXPECT_LT(r.status, 300) << r;
  }
}

TEST_F(BaseTest, ConnectionIsReusableAcrossManyRequests) {
  // The client reuses one keep-alive connection: mixing statuses, HEAD and
  // bodies on it must not desynchronise the server.
  const std::string name = repo("base/keepalive");
  std::string data = randomBytes(1000);
  std::string d = pushBlob(name, data);
  for (int i = 0; i < 20; ++i) {
    Response a = http().head("/v2/" + name + "/blobs/" + d);
    ASSERT_EQ(a.status, 200) << a;
    Response b = http().get("/v2/" + name + "/blobs/" + randomDigest());
    ASSERT_EQ(b.status, 404) << b;
    Response c = http().get("/v2/" + name + "/blobs/" + d);
    ASSERT_EQ(c.status, 200) << c;
    ASSERT_EQ(c.body, data);
  }
}

TEST_F(BaseTest, AccessLogLineIsJsonOnStderr) {
  if (serverLogPath().empty())
    GTEST_SKIP() << "registry not spawned by the test ($REGISTRY_URL set)";
  const std::string marker = "accesslog" + randomHex(12);
  const std::string path = "/v2/" + repo("base/" + marker) + "/tags/list";
  http().get(path);
  // The line may be written just after the response: poll briefly.
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {
    std::istringstream log(serverLog());
    for (std::string line; std::getline(log, line);) {
      if (line.find(marker) == std::string::npos) continue;
      auto doc = json::parse(line);
      if (doc && doc->isObject()) found = true;
    }
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(found) << "no JSON object line mentioning " << path << " in the server stderr:\n"
                     << serverLog();
}

}  // namespace
}  // namespace berth_test
