// Credential sets and imports on the real server (docs/control-api.md): passwords never shown,
// requests checked before anything is queued, an import from a scripted upstream followed to
// its end through the API and read back on /v2, upstreams on loopback refused unless the
// server allows them. The clients' end-to-end run against real registries is
// tests/e2e/import.sh.
#include <atomic>
#include <chrono>
#include <thread>

#include "../support/scripted_server.hpp"
#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

class UpstreamsApiTest : public ConfiguredRegistryTest {
 protected:
  UpstreamsApiTest()
      : ConfiguredRegistryTest(
            R"({"upstream_allow_loopback": true, "upstream_insecure_registries": "127.0.0.1"})") {}

  Response post(std::string_view suffix, const std::string& body) {
    return api().post(regPath(reg_, suffix), body, kJson);
  }
  // Polls the import until it ends (10 s at most).
  json::Value finished(const std::string& id) {
    json::Value job;
    for (int i = 0; i < 200; ++i) {
      job = expectJson(api().get(regPath(reg_, "/imports/" + id)), 200);
      if (str(job, "status") == "succeeded" || str(job, "status") == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return job;
  }
};

TEST_F(UpstreamsApiTest, CredentialSetsNeverShowTheirPassword) {
  const std::string body =
      R"({"name":"hub","loginServer":"Docker.io","username":"me","password":"s3cret-token"})";
  auto created = post("/credential-sets", body);
  auto set = expectJson(created, 201);
  EXPECT_EQ(created.body.find("s3cret"), std::string::npos) << created.body;
  EXPECT_EQ(str(set, "loginServer"), "docker.io");
  EXPECT_EQ(str(set, "username"), "me");
  EXPECT_TRUE(isRfc3339Utc(str(set, "creationDate")));
  EXPECT_API_ERROR(post("/credential-sets", body), 409, "CONFLICT");

  auto patched = api().patch(regPath(reg_, "/credential-sets/hub"),
                             R"({"password":"n3w-token","loginServer":"ghcr.io"})", kJson);
  EXPECT_EQ(str(expectJson(patched, 200), "loginServer"), "ghcr.io");
  EXPECT_EQ(patched.body.find("n3w-token"), std::string::npos);
  auto listed = api().get(regPath(reg_, "/credential-sets"));
  const auto sets = expectJson(listed, 200);
  EXPECT_EQ(strings(&sets, "name"), std::vector<std::string>{"hub"});
  EXPECT_EQ(listed.body.find("token"), std::string::npos) << listed.body;

  for (const char* bad : {
           R"({"name":"-x","loginServer":"docker.io","username":"u","password":"p"})",
           R"({"name":"x","loginServer":"a/b","username":"u","password":"p"})",
           R"({"name":"x","loginServer":"docker.io","username":"u","password":""})",
           R"({"name":"x","loginServer":"docker.io","username":"u"})",
           R"({"name":"x","loginServer":"docker.io","username":"u","password":"p","extra":1})",
           R"({"name":"x","loginServer":"docker.io","username":"u","password":"a\nb"})",
       }) {
    EXPECT_API_ERROR(post("/credential-sets", bad), 400, "INVALID_ARGUMENT") << bad;
  }
  EXPECT_EQ(api().del(regPath(reg_, "/credential-sets/hub")).status, 204);
  EXPECT_API_ERROR(api().get(regPath(reg_, "/credential-sets/hub")), 404, "NOT_FOUND");
}

TEST_F(UpstreamsApiTest, ImportsAreCheckedBeforeTheyQueue) {
  ASSERT_EQ(post("/credential-sets",
                 R"({"name":"hub","loginServer":"docker.io","username":"u","password":"p"})")
                .status,
            201);
  for (
      const char* bad : {
          R"({})",
          R"({"source":"Not A Reference"})",
          R"({"source":"docker.io/library/alpine:3","targetTags":["x:bad tag"]})",
          R"({"source":"docker.io/library/alpine:3","targetTags":["Upper/x:1"]})",
          R"({"source":"docker.io/library/alpine:3","platform":"linux"})",
          R"({"source":"docker.io/library/alpine:3","username":"u"})",
          R"({"source":"docker.io/library/alpine:3","credentialSet":"hub","username":"u","password":"p"})",
          R"({"source":"ghcr.io/org/app:1","credentialSet":"hub"})",
          R"({"source":"docker.io/library/alpine:3","force":"yes"})",
      }) {
    EXPECT_API_ERROR(post("/imports", bad), 400, "INVALID_ARGUMENT") << bad;
  }
  std::string many = R"({"source":"docker.io/library/alpine:3","targetTags":[)";
  for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + "\"t" + std::to_string(i) + "\"";
  EXPECT_API_ERROR(post("/imports", many + "]}"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(
      post("/imports", R"({"source":"docker.io/library/alpine:3","credentialSet":"no"})"), 404,
      "NOT_FOUND");
  EXPECT_API_ERROR(api().get(regPath(reg_, "/imports/00000000-0000-0000-0000-000000000000")), 404,
                   "NOT_FOUND");
  const auto none = expectJson(api().get(regPath(reg_, "/imports")), 200);
  EXPECT_EQ(strings(&none, "id").size(), 0u);
  EXPECT_API_ERROR(api().get(regPath(reg_, "/imports?n=0")), 400, "INVALID_ARGUMENT");
}

TEST_F(UpstreamsApiTest, AnImportFromAnUpstreamIsFollowedToItsEnd) {
  const std::string config =
      R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  const std::string layer(300000, 'L');
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      sha256Digest(config) + R"(","size":)" + std::to_string(config.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
      sha256Digest(layer) + R"(","size":)" + std::to_string(layer.size()) + "}]}";
  ScriptedServer upstream([&](const SeenRequest& r) -> ScriptedReply {
    if (r.target == "/v2/team/app/manifests/v1" || r.target.ends_with(sha256Digest(manifest))) {
      return {200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, manifest};
    }
    if (r.target.ends_with(sha256Digest(config))) return {200, {}, config};
    if (r.target.ends_with(sha256Digest(layer))) return {200, {}, layer};
    return {404, {}, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"};
  });
  auto queued = post("/imports", R"({"source":")" + upstream.hostPort() +
                                     R"(/team/app:v1","targetTags":["mirror/app:v1"]})");
  auto job = expectJson(queued, 202);
  EXPECT_EQ(queued.header("Location"), regPath(reg_, "/imports/" + str(job, "id")));
  EXPECT_EQ(str(job, "source"), upstream.hostPort() + "/team/app:v1");
  job = finished(str(job, "id"));
  ASSERT_EQ(str(job, "status"), "succeeded") << str(job, "error");
  EXPECT_EQ(str(job, "digest"), sha256Digest(manifest));
  EXPECT_EQ(integer(*member(job, "progress"), "blobsCopied"), 2);
  EXPECT_EQ(integer(*member(job, "progress"), "bytesCopied"),
            static_cast<long long>(config.size() + layer.size()));
  EXPECT_EQ(str(job, "identity"), "operator");
  EXPECT_TRUE(isRfc3339Utc(str(job, "finishDate")));
  auto pulled = p_->getManifest("mirror/app", "v1");
  ASSERT_EQ(pulled.status, 200);
  EXPECT_EQ(pulled.body, manifest);
  EXPECT_EQ(p_->getBlob("mirror/app", sha256Digest(layer)).body, layer);

  // A tag the upstream does not have: the import fails, naming it.
  auto missing = expectJson(
      post("/imports", R"({"source":")" + upstream.hostPort() + R"(/team/app:v2"})"), 202);
  missing = finished(str(missing, "id"));
  EXPECT_EQ(str(missing, "status"), "failed");
  EXPECT_EQ(str(missing, "error"),
            "upstream " + upstream.hostPort() + " has no manifest team/app:v2");
  auto list = expectJson(api().get(regPath(reg_, "/imports?n=1")), 200);
  EXPECT_EQ(strings(&list, "id"), std::vector<std::string>{str(missing, "id")});
}

// The server stops while the cache is storing an image: the fill ends with the server, which
// exits cleanly (status 0 on SIGTERM, as restartServer checks).
TEST_F(UpstreamsApiTest, AServerStoppedWhileTheCacheFillsExitsCleanly) {
  const std::string config = R"({"architecture":"amd64","os":"linux"})";
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      sha256Digest(config) + R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[]})";
  ScriptedServer upstream([&](const SeenRequest& r) -> ScriptedReply {
    if (r.target.find("/manifests/") != std::string::npos) {
      return {200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, manifest};
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // a slow blob: still coming at stop
    return {200, {}, config};
  });
  ASSERT_EQ(post("/cache-rules", R"({"name":"slow","sourceRepository":")" + upstream.hostPort() +
                                     R"(/team/*","targetRepository":"slow/*"})")
                .status,
            201);
  auto pulled = p_->getManifest("slow/app", "v1");
  ASSERT_EQ(pulled.status, 200) << pulled.body;
  EXPECT_EQ(pulled.header("X-Berth-Cache"), "miss");
  EXPECT_EQ(pulled.body, manifest);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the fill is fetching the blob
  ASSERT_TRUE(restartServer()) << serverError();
}

// Another registry of the same berth as the source: read from its store (the network is not
// asked: the source's login server resolves nowhere here), and only for a caller who may pull
// there.
TEST_F(UpstreamsApiTest, AnImportFromAnotherRegistryOfThisBerthNeedsNoNetwork) {
  const std::string source = uniqueRegistryName();
  const Identity sourceAdmin = createRegistryWithAdmin(source);
  auto sourcePlane = plane(source, sourceAdmin.basic());
  const auto image = sourcePlane->pushImage("team/app", "v1", 4096);
  const std::string server = source + "." + kDomain;

  // The target registry's admin account may not read another registry without its credentials.
  auto refused = apiAs(admin_.basic(), "POST", regPath(reg_, "/imports"),
                       R"({"source":")" + server + R"(/team/app:v1"})");
  EXPECT_API_ERROR(refused, 403, "DENIED");
  EXPECT_NE(refused.body.find("needs the right to pull it there"), std::string::npos)
      << refused.body;
  auto wrong = apiAs(admin_.basic(), "POST", regPath(reg_, "/imports"),
                     R"({"source":")" + server + R"(/team/app:v1","username":")" +
                         sourceAdmin.user + R"(","password":"not-it"})");
  EXPECT_API_ERROR(wrong, 403, "DENIED");

  // With the source registry's credentials, and as the operator.
  auto queued = apiAs(admin_.basic(), "POST", regPath(reg_, "/imports"),
                      R"({"source":")" + server +
                          R"(/team/app:v1","targetTags":["copied/app:v1"],)" + R"("username":")" +
                          sourceAdmin.user + R"(","password":")" + sourceAdmin.password + R"("})");
  auto job = finished(str(expectJson(queued, 202), "id"));
  ASSERT_EQ(str(job, "status"), "succeeded") << str(job, "error");
  EXPECT_EQ(str(job, "digest"), image.manifest.digest);
  const auto* progress = member(job, "progress");
  ASSERT_NE(progress, nullptr);
  EXPECT_EQ(integer(*progress, "blobsCopied").value_or(-1), 2);  // config and layer
  auto copied = p_->getManifest("copied/app", "v1");
  ASSERT_EQ(copied.status, 200);
  EXPECT_EQ(copied.body, image.body);
  auto layer = p_->getBlob("copied/app", image.layer.digest);
  ASSERT_EQ(layer.status, 200);
  EXPECT_EQ(layer.body.size(), image.layer.size);

  // A person with Contributor on the target: with AcrPull on the source's team/* too, allowed.
  const std::string user = "importer-" + uniqueRegistryName().substr(0, 8);
  const std::string password = "a-long-enough-password";
  ASSERT_EQ(api()
                .post("/api/v1/users",
                      R"({"name":")" + user + R"(","password":")" + password + R"("})", kJson)
                .status,
            201);
  const auto assign = [&](const std::string& role, const std::string& scope) {
    ASSERT_EQ(api()
                  .post("/api/v1/role-assignments",
                        R"({"assignee":")" + user + R"(","role":")" + role + R"(","scope":")" +
                            scope + R"("})",
                        kJson)
                  .status,
              201);
  };
  assign("Contributor", "/registries/" + reg_);
  const std::string asUser = basicAuthorization(user, password);
  const std::string body =
      R"({"source":")" + server + R"(/team/app:v1","targetTags":["p/app:v1"]})";
  EXPECT_API_ERROR(apiAs(asUser, "POST", regPath(reg_, "/imports"), body), 403, "DENIED");
  assign("AcrPull", "/registries/" + source + "/repositories/team/*");
  auto byUser = apiAs(asUser, "POST", regPath(reg_, "/imports"), body);
  EXPECT_EQ(str(finished(str(expectJson(byUser, 202), "id")), "status"), "succeeded");

  auto missing = post("/imports", R"({"source":")" + server + R"(/team/app:nope"})");
  auto failed = finished(str(expectJson(missing, 202), "id"));
  EXPECT_EQ(str(failed, "status"), "failed");
  EXPECT_NE(str(failed, "error").find("registry " + source + " has no manifest team/app:nope"),
            std::string::npos)
      << str(failed, "error");
}

// A server stopping while it copies a change lets the change go (not held for the lease of a
// node that died): the next start copies it at once.
TEST_F(UpstreamsApiTest, AServerStoppedWhileReplicatingCopiesTheChangeWhenItStartsAgain) {
  std::atomic<bool> hang{true};
  std::atomic<int> manifests{0};
  ScriptedServer target([&](const SeenRequest& r) -> ScriptedReply {
    if (hang) {
      std::this_thread::sleep_for(std::chrono::seconds(3));
      return {503, {}, ""};
    }
    if (r.method == "HEAD" && r.target.find("/manifests/") != std::string::npos) {
      return {404, {}, ""};
    }
    if (r.method == "HEAD") return {200, {}, ""};  // it has every blob
    if (r.method == "PUT" && r.target.find("/manifests/") != std::string::npos) {
      ++manifests;
      return {201, {}, ""};
    }
    return {400, {}, ""};
  });
  const std::string body = R"({"name":"dr","target":"http://)" + target.hostPort() + R"("})";
  ASSERT_EQ(post("/replications", body).status, 201);
  p_->pushImage("team/app", "v1");
  for (int i = 0; i < 100 && target.requests() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(target.requests(), 0) << "the copy began";
  ASSERT_TRUE(restartServer()) << serverError();
  hang = false;
  json::Value shown;
  auto count = [&](std::string_view key) {
    const auto* status = member(shown, "status");
    return status ? integer(*status, key).value_or(-1) : -1;
  };
  for (int i = 0; i < 200; ++i) {
    shown = expectJson(api().get(regPath(reg_, "/replications/dr")), 200);
    if (count("replicated") == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(count("replicated"), 1) << "the change waits for a lease";
  EXPECT_EQ(count("queued"), 0);
  EXPECT_EQ(manifests, 1);
}

TEST_F(UpstreamsApiTest, TokensMayNeitherImportNorSeeCredentialSets) {
  const Identity token = createTokenWithActions(
      reg_, "ci", {"repositories/*/content/write", "repositories/*/content/read"});
  for (const auto& [method, suffix] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/credential-sets"},
                                                        {"POST", "/credential-sets"},
                                                        {"POST", "/imports"},
                                                        {"GET", "/imports"}}) {
    auto r = apiAs(token.basic(), method, regPath(reg_, suffix),
                   method == "POST" ? std::optional<std::string_view>("{}") : std::nullopt);
    EXPECT_API_ERROR(r, 403, "DENIED") << method << " " << suffix;
  }
  // The admin account may.
  auto r = apiAs(admin_.basic(), "POST", regPath(reg_, "/credential-sets"),
                 R"({"name":"hub","loginServer":"docker.io","username":"u","password":"p"})");
  EXPECT_EQ(r.status, 201) << r.body;
}

// Without upstream_allow_loopback, the machine itself is no upstream.
TEST_F(AdminRegistryTest, UpstreamsOnLoopbackAreRefusedUnlessAllowed) {
  for (const char* source : {"127.0.0.1:5000/x/y:1", "localhost:5000/x:1", "[::1]:5000/x:1"}) {
    auto r = api().post(regPath(reg_, "/imports"), std::string(R"({"source":")") + source + "\"}",
                        kJson);
    EXPECT_API_ERROR(r, 400, "INVALID_ARGUMENT") << source;
  }
  auto r = api().post(
      regPath(reg_, "/credential-sets"),
      R"({"name":"x","loginServer":"169.254.169.254","username":"u","password":"p"})", kJson);
  EXPECT_API_ERROR(r, 400, "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace berth_test::control
