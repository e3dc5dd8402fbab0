// Many registries on one server, through the data plane: the Host header chooses the registry
// (`<name>.registry.test`, port ignored; an unknown name under the domain is 404; any other host
// is `default`), and no image, tag, blob, credential or token of one registry is visible or
// usable in another, by tag, by digest, in the catalog, through a cross-repository mount, with
// its passwords or with its JWTs.
#include <algorithm>
#include <cctype>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class IsolationTest : public ControlTest {
 protected:
  void SetUp() override {
    ControlTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    a_ = uniqueRegistryName();
    b_ = uniqueRegistryName();
    adminA_ = createRegistryWithAdmin(a_);
    adminB_ = createRegistryWithAdmin(b_);
    pa_ = plane(a_, adminA_.basic());
    pb_ = plane(b_, adminB_.basic());
  }
  static std::string port() {
    std::string hp = hostPort();
    return hp.substr(hp.rfind(':') + 1);
  }
  // A JWT from `registry`'s token endpoint for `service` (nullopt when refused).
  std::optional<std::string> jwtFrom(RegistryClient& c, const std::string& service,
                                     const std::string& scope) {
    Response r =
        c.get("/oauth2/token?service=" + urlEncode(service) + "&scope=" + urlEncode(scope));
    if (r.status != 200) return std::nullopt;
    auto doc = json::parse(r.body);
    if (!doc || str(*doc, "token").empty()) {
      ADD_FAILURE() << "token reply without a token\n" << r;
      return std::nullopt;
    }
    return str(*doc, "token");
  }

  std::string a_, b_;
  Identity adminA_, adminB_;
  std::unique_ptr<RegistryClient> pa_, pb_;
};

TEST_F(IsolationTest, HostHeaderSelectsTheRegistryWhateverThePort) {
  auto img = pa_->pushImage("team/app", "v1");
  for (const std::string& host : {registryHost(a_), a_ + "." + kDomain, a_ + "." + kDomain + ":1",
                                  a_ + "." + kDomain + ":443"}) {
    SCOPED_TRACE(host);
    auto c = planeAtHost(host, adminA_.basic());
    Response r = c->getManifest("team/app", "v1");
    EXPECT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.body, img.body);
  }
}

TEST_F(IsolationTest, HostsOutsideTheDomainAreTheDefaultRegistry) {
  const std::string def = basicAuthorization(registryUser(), registryPassword());
  auto img = planeAtHost(hostPort(), def)->pushImage("team/default", "v1");
  for (const std::string& host : {hostPort(), std::string("127.0.0.1"), "localhost:" + port(),
                                  std::string("registry.example.org:5000"),
                                  "default." + std::string(kDomain) + ":" + port()}) {
    SCOPED_TRACE(host);
    auto c = planeAtHost(host, def);
    EXPECT_EQ(c->get("/v2/").status, 200);
    Response r = c->getManifest("team/default", "v1");
    EXPECT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.body, img.body);
  }
  // A's admin is not known there (two hosts only: five failed logins would throttle the user).
  for (const std::string& host : {hostPort(), "localhost:" + port()})
    EXPECT_REGISTRY_ERROR(planeAtHost(host, adminA_.basic())->get("/v2/"), 401, "UNAUTHORIZED");
  // And the default registry's content is nowhere else.
  EXPECT_EQ(pa_->getManifest("team/default", img.manifest.digest).status, 404);
}

TEST_F(IsolationTest, UnknownRegistryUnderTheDomainIs404NamingTheHost) {
  const std::string name = "nosuch" + randomHex(6);
  const std::string host = name + "." + kDomain;
  for (const std::string& auth :
       {std::string(), basicAuthorization(registryUser(), registryPassword()), adminA_.basic()}) {
    SCOPED_TRACE(auth.empty() ? "no credentials" : auth);
    auto c = planeAtHost(host + ":" + port(), auth);
    for (const char* path : {"/v2/", "/v2/team/app/manifests/v1", "/v2/_catalog"}) {
      SCOPED_TRACE(path);
      Response r = c->get(path);
      EXPECT_EQ(r.status, 404) << r;
      EXPECT_TRUE(HasContentType(r, "application/json"));
      EXPECT_FALSE(errorCodes(r).empty()) << "no OCI error body\n" << r;
      EXPECT_NE(lower(errorMessages(r)).find(host), std::string::npos)
          << "the message does not name " << host << "\n"
          << r;
    }
  }
}

TEST_F(IsolationTest, SameRepositoryNameHoldsEachRegistrysOwnImages) {
  auto inA = pa_->pushImage("team/app", "v1");
  auto inB = pb_->pushImage("team/app", "v1");
  pa_->pushManifest("team/app", "only-a", mt::kOciManifest, inA.body);
  EXPECT_EQ(pa_->getManifest("team/app", "v1").body, inA.body);
  EXPECT_EQ(pb_->getManifest("team/app", "v1").body, inB.body);
  EXPECT_REGISTRY_ERROR(pb_->getManifest("team/app", "only-a"), 404, "MANIFEST_UNKNOWN");
  json::Value tagsA = expectJson(pa_->tags("team/app"), 200);
  json::Value tagsB = expectJson(pb_->tags("team/app"), 200);
  EXPECT_EQ(strings(tagsA.find("tags")), (std::vector<std::string>{"only-a", "v1"}));
  EXPECT_EQ(strings(tagsB.find("tags")), std::vector<std::string>{"v1"});
}

TEST_F(IsolationTest, ManifestByDigestIsInvisibleElsewhere) {
  auto inA = pa_->pushImage("team/app", "v1");
  pb_->pushImage("team/app", "v1");  // the repository exists in B too
  EXPECT_REGISTRY_ERROR(pb_->getManifest("team/app", inA.manifest.digest), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(pb_->head("/v2/team/app/manifests/" + inA.manifest.digest, manifestAccept()).status,
            404);
  EXPECT_TRUE(IsError(pb_->getManifest("team/elsewhere", inA.manifest.digest), 404,
                      std::vector<std::string>{"NAME_UNKNOWN", "MANIFEST_UNKNOWN"}));
  // The default registry neither.
  EXPECT_TRUE(IsError(http().get("/v2/team/app/manifests/" + inA.manifest.digest, manifestAccept()),
                      404, std::vector<std::string>{"NAME_UNKNOWN", "MANIFEST_UNKNOWN"}));
  // Referrers of A's manifest are not listed in B.
  json::Value refs = expectJson(pb_->get("/v2/team/app/referrers/" + inA.manifest.digest), 200);
  EXPECT_TRUE(refs.find("manifests") && refs.find("manifests")->asArray().empty());
}

TEST_F(IsolationTest, BlobByDigestIsInvisibleElsewhere) {
  auto inA = pa_->pushImage("team/app", "v1", 2048);
  pb_->pushImage("team/app", "v1");
  for (const std::string& d : {inA.layer.digest, inA.config.digest}) {
    SCOPED_TRACE(d);
    EXPECT_REGISTRY_ERROR(pb_->getBlob("team/app", d), 404, "BLOB_UNKNOWN");
    EXPECT_EQ(pb_->head("/v2/team/app/blobs/" + d).status, 404);
  }
  // Nor can B reference them in a manifest.
  EXPECT_REGISTRY_ERROR(pb_->putManifest("team/app", "borrowed", mt::kOciManifest, inA.body), 400,
                        "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(pa_->getBlob("team/app", inA.layer.digest).status, 200);
}

TEST_F(IsolationTest, CatalogAndRepositoryListsAreSeparate) {
  pa_->pushImage("only/in-a", "v1");
  pa_->pushImage("shared/name", "v1");
  pb_->pushImage("only/in-b", "v1");
  pb_->pushImage("shared/name", "v1");
  json::Value ca = expectJson(pa_->catalog(), 200);
  json::Value cb = expectJson(pb_->catalog(), 200);
  EXPECT_EQ(strings(ca.find("repositories")),
            (std::vector<std::string>{"only/in-a", "shared/name"}));
  EXPECT_EQ(strings(cb.find("repositories")),
            (std::vector<std::string>{"only/in-b", "shared/name"}));
  json::Value def = expectJson(http().get("/v2/_catalog"), 200);
  for (const auto& r : strings(def.find("repositories")))
    EXPECT_TRUE(r != "only/in-a" && r != "only/in-b") << r;
  json::Value la = expectJson(api().get(regPath(a_, "/repositories")), 200);
  EXPECT_EQ(strings(&la), (std::vector<std::string>{"only/in-a", "shared/name"}));
  EXPECT_API_ERROR(api().get(repoPath(b_, "only/in-a")), 404, "NOT_FOUND");
}

TEST_F(IsolationTest, CrossRepositoryMountDoesNotCrossRegistries) {
  auto inA = pa_->pushImage("team/app", "v1", 1024);
  pb_->pushImage("team/app", "v1");
  for (const char* from : {"team/app", "team/other"}) {
    SCOPED_TRACE(from);
    Response m =
        pb_->post("/v2/team/dest/blobs/uploads/?mount=" + inA.layer.digest + "&from=" + from);
    EXPECT_EQ(m.status, 202) << "a mount from another registry's blob\n" << m;
    EXPECT_REGISTRY_ERROR(pb_->getBlob("team/dest", inA.layer.digest), 404, "BLOB_UNKNOWN");
  }
  // Inside A the mount works (the blob exists there).
  Response ok =
      pa_->post("/v2/team/dest/blobs/uploads/?mount=" + inA.layer.digest + "&from=team/app");
  EXPECT_EQ(ok.status, 201) << ok;
}

TEST_F(IsolationTest, UploadSessionsBelongToTheirRegistry) {
  pb_->pushImage("team/app", "v1");  // the repository exists in B too
  Response start = pa_->post("/v2/team/app/blobs/uploads/");
  ASSERT_EQ(start.status, 202) << start;
  const std::string loc = start.headerOr("Location");
  std::string data = randomBytes(1000);
  EXPECT_REGISTRY_ERROR(pb_->get(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(pb_->patch(loc, data, {{"Content-Type", "application/octet-stream"}}), 404,
                        "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(pb_->put(appendQuery(loc, "digest=" + sha256Digest(data)), data,
                                 {{"Content-Type", "application/octet-stream"}}),
                        404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(pb_->del(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(pb_->getBlob("team/app", sha256Digest(data)), 404, "BLOB_UNKNOWN");
  // The session is untouched in A and completes there.
  Response status = pa_->get(loc);
  EXPECT_EQ(status.status, 204) << status;
  EXPECT_EQ(status.headerOr("Range"), "0-0") << "B's requests wrote into A's session";
  Response done = pa_->put(appendQuery(loc, "digest=" + sha256Digest(data)), data,
                           {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(done.status, 201) << done;
  EXPECT_EQ(pa_->getBlob("team/app", sha256Digest(data)).body, data);
}

TEST_F(IsolationTest, PasswordsWorkOnlyInTheirRegistry) {
  EXPECT_EQ(pa_->get("/v2/").status, 200);
  EXPECT_REGISTRY_ERROR(plane(b_, adminA_.basic())->get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(plane(a_, adminB_.basic())->get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(http().get("/v2/", {{"Authorization", adminA_.basic()}}), 401,
                        "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(
      plane(a_, basicAuthorization(registryUser(), registryPassword()))->get("/v2/"), 401,
      "UNAUTHORIZED");
  // A token of the same name in both registries: each password only in its own.
  Identity ta = createToken(a_, "ci", "_repositories_push");
  Identity tb = createToken(b_, "ci", "_repositories_push");
  EXPECT_EQ(plane(a_, ta.basic())->get("/v2/").status, 200);
  EXPECT_EQ(plane(b_, tb.basic())->get("/v2/").status, 200);
  EXPECT_REGISTRY_ERROR(plane(b_, ta.basic())->get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(plane(a_, tb.basic())->get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(plane(b_, ta.basic())->postBlob("team/app", "x"), 401, "UNAUTHORIZED");
  // The token endpoints agree.
  EXPECT_FALSE(jwtFrom(*plane(b_, adminA_.basic()), registryHost(b_), "repository:team/app:pull"));
  EXPECT_FALSE(jwtFrom(*plane(b_, ta.basic()), registryHost(b_), "repository:team/app:pull"));
}

TEST_F(IsolationTest, JwtsWorkOnlyInTheirRegistry) {
  auto img = pa_->pushImage("team/app", "v1");
  pb_->pushImage("team/app", "v1");
  const std::string scope = "repository:team/app:pull,push";
  auto jwt = jwtFrom(*pa_, registryHost(a_), scope);
  ASSERT_TRUE(jwt);
  auto bearerA = plane(a_, bearerAuthorization(*jwt));
  EXPECT_EQ(bearerA->getManifest("team/app", "v1").body, img.body);
  auto onB = plane(b_, bearerAuthorization(*jwt));
  EXPECT_REGISTRY_ERROR(onB->getManifest("team/app", "v1"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(onB->getManifest("team/app", img.manifest.digest), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(onB->post("/v2/team/app/blobs/uploads/"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(onB->get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_REGISTRY_ERROR(
      http().get("/v2/team/app/tags/list", {{"Authorization", bearerAuthorization(*jwt)}}), 401,
      "UNAUTHORIZED");

  // A token A's endpoint issues for B's service name (if it issues one at all) is no good in B.
  if (auto forB = jwtFrom(*pa_, registryHost(b_), scope)) {
    EXPECT_REGISTRY_ERROR(plane(b_, bearerAuthorization(*forB))->getManifest("team/app", "v1"), 401,
                          "UNAUTHORIZED");
  }
  // B's own JWT works in B and not in A.
  auto jwtB = jwtFrom(*pb_, registryHost(b_), scope);
  ASSERT_TRUE(jwtB);
  EXPECT_EQ(plane(b_, bearerAuthorization(*jwtB))->getManifest("team/app", "v1").status, 200);
  EXPECT_REGISTRY_ERROR(plane(a_, bearerAuthorization(*jwtB))->getManifest("team/app", "v1"), 401,
                        "UNAUTHORIZED");
}

TEST_F(IsolationTest, ChallengeNamesTheRegistrysHost) {
  Response r = plane(a_, "")->get("/v2/team/app/manifests/v1");
  EXPECT_REGISTRY_ERROR(r, 401, "UNAUTHORIZED");
  std::string challenge = r.headerOr("WWW-Authenticate");
  EXPECT_NE(challenge.find("realm=\"http://" + registryHost(a_) + "/oauth2/token\""),
            std::string::npos)
      << challenge;
  EXPECT_NE(challenge.find("service=\"" + registryHost(a_) + "\""), std::string::npos) << challenge;
}

TEST_F(IsolationTest, DeletingOneRegistryLeavesTheOtherIntact) {
  auto inA = pa_->pushImage("team/app", "v1", 4096);
  // The same bytes in B.
  ASSERT_EQ(pa_->getBlob("team/app", inA.config.digest).status, 200);
  std::string config = pa_->getBlob("team/app", inA.config.digest).body;
  std::string layer = pa_->getBlob("team/app", inA.layer.digest).body;
  pb_->pushBlob("team/app", config);
  pb_->pushBlob("team/app", layer);
  pb_->pushManifest("team/app", "v1", mt::kOciManifest, inA.body);

  ASSERT_EQ(api().del(regPath(a_)).status, 204);
  EXPECT_EQ(pa_->get("/v2/").status, 404);
  Response m = pb_->getManifest("team/app", "v1");
  EXPECT_EQ(m.status, 200) << m;
  EXPECT_EQ(m.body, inA.body);
  Response l = pb_->getBlob("team/app", inA.layer.digest);
  EXPECT_EQ(l.status, 200) << l;
  EXPECT_EQ(sha256Digest(l.body), inA.layer.digest);
  EXPECT_EQ(pb_->getBlob("team/app", inA.config.digest).body, config);
  EXPECT_EQ(api().get(regPath(b_)).status, 200);
  EXPECT_EQ(plane(b_, adminB_.basic())->get("/v2/").status, 200);
}

}  // namespace
}  // namespace berth_test::control
