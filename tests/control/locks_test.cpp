// Changeable attributes (docs/control-api.md, "Locks"): updating them on repositories, tags and
// manifests, and their enforcement, 403 DENIED on /api/v1 and on /v2 alike.
#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

class LocksTest : public AdminRegistryTest {
 protected:
  json::Value patchOk(const std::string& path, const std::string& body) {
    return expectJson(api().patch(path, body, kJson), 200);
  }
  static std::optional<bool> attr(const json::Value& v, std::string_view name) {
    const json::Value* a = v.find("changeableAttributes");
    return a ? boolean(*a, name) : std::nullopt;
  }
  // Everything in `repo` still as pushed: the image by tag and digest, its layer.
  void expectIntact(const std::string& repo, const std::string& tag,
                    const RegistryClient::Image& img) {
    Response byTag = p_->getManifest(repo, tag);
    EXPECT_EQ(byTag.status, 200) << byTag;
    EXPECT_EQ(byTag.headerOr("Docker-Content-Digest"), img.manifest.digest);
    EXPECT_EQ(p_->getManifest(repo, img.manifest.digest).status, 200);
    EXPECT_EQ(p_->getBlob(repo, img.layer.digest).status, 200);
  }
};

TEST_F(LocksTest, UpdateRepositoryAttributes) {
  p_->pushImage("team/app", "v1");
  const std::string path = repoPath(reg_, "team/app");
  json::Value r = patchOk(path, R"({"deleteEnabled":false,"listEnabled":false})");
  EXPECT_EQ(str(r, "imageName"), "team/app");
  EXPECT_EQ(attr(r, "deleteEnabled"), false);
  EXPECT_EQ(attr(r, "listEnabled"), false);
  EXPECT_EQ(attr(r, "writeEnabled"), true);
  EXPECT_EQ(attr(r, "readEnabled"), true);
  r = patchOk(path, R"({"writeEnabled":false,"readEnabled":false})");
  EXPECT_EQ(attr(r, "deleteEnabled"), false) << "an attribute not given changed";
  EXPECT_EQ(attr(r, "writeEnabled"), false);
  EXPECT_EQ(attr(r, "readEnabled"), false);
  json::Value shown = expectJson(api().get(path), 200);
  for (const char* a : {"deleteEnabled", "writeEnabled", "readEnabled", "listEnabled"})
    EXPECT_EQ(attr(shown, a), false) << a;
  r = patchOk(
      path, R"({"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true})");
  for (const char* a : {"deleteEnabled", "writeEnabled", "readEnabled", "listEnabled"})
    EXPECT_EQ(attr(r, a), true) << a;

  for (const char* b : {R"({"deleteEnabled":"false"})", R"({"listEnabled":0})",
                        R"({"readEnabled":null})", R"([true])", R"({"writeEnabled":)"}) {
    SCOPED_TRACE(b);
    EXPECT_API_ERROR(api().patch(path, b, kJson), 400, "INVALID_ARGUMENT");
  }
  EXPECT_API_ERROR(api().patch(repoPath(reg_, "team/none"), R"({"listEnabled":false})", kJson), 404,
                   "NOT_FOUND");
}

TEST_F(LocksTest, UpdateTagAndManifestAttributes) {
  auto img = p_->pushImage("team/app", "v1");
  const std::string tag = repoPath(reg_, "team/app", "/_tags/v1");
  const std::string man = repoPath(reg_, "team/app", "/_manifests/" + img.manifest.digest);
  json::Value t = patchOk(tag, R"({"writeEnabled":false})");
  EXPECT_EQ(str(t, "name"), "v1");
  EXPECT_EQ(str(t, "digest"), img.manifest.digest);
  EXPECT_EQ(attr(t, "writeEnabled"), false);
  EXPECT_EQ(attr(t, "deleteEnabled"), true);
  t = patchOk(tag, R"({"deleteEnabled":false})");
  EXPECT_EQ(attr(t, "writeEnabled"), false);
  EXPECT_EQ(attr(t, "deleteEnabled"), false);
  EXPECT_EQ(attr(expectJson(api().get(tag), 200), "deleteEnabled"), false);

  json::Value m = patchOk(man, R"({"deleteEnabled":false})");
  EXPECT_EQ(str(m, "digest"), img.manifest.digest);
  EXPECT_EQ(attr(m, "deleteEnabled"), false);
  EXPECT_EQ(attr(m, "writeEnabled"), true);
  EXPECT_EQ(attr(expectJson(api().get(man), 200), "deleteEnabled"), false);

  for (const std::string& path : {tag, man}) {
    SCOPED_TRACE(path);
    EXPECT_API_ERROR(api().patch(path, R"({"writeEnabled":"no"})", kJson), 400, "INVALID_ARGUMENT");
    EXPECT_API_ERROR(api().patch(path, R"(nope)", kJson), 400, "INVALID_ARGUMENT");
  }
  EXPECT_API_ERROR(
      api().patch(repoPath(reg_, "team/app", "/_tags/v9"), R"({"writeEnabled":false})", kJson), 404,
      "NOT_FOUND");
  EXPECT_API_ERROR(api().patch(repoPath(reg_, "team/app", "/_manifests/" + randomDigest()),
                               R"({"writeEnabled":false})", kJson),
                   404, "NOT_FOUND");
}

TEST_F(LocksTest, WriteLockedTagCannotBeMoved) {
  auto img = p_->pushImage("team/app", "v1");
  auto other = p_->pushImage("team/app", "");
  patchOk(repoPath(reg_, "team/app", "/_tags/v1"), R"({"writeEnabled":false})");
  EXPECT_REGISTRY_ERROR(p_->putManifest("team/app", "v1", mt::kOciManifest, other.body), 403,
                        "DENIED");
  expectIntact("team/app", "v1", img);
  // Other tags still move, the same manifest may be tagged elsewhere.
  p_->pushManifest("team/app", "v2", mt::kOciManifest, other.body);
  p_->pushManifest("team/app", "v3", mt::kOciManifest, img.body);
  patchOk(repoPath(reg_, "team/app", "/_tags/v1"), R"({"writeEnabled":true})");
  p_->pushManifest("team/app", "v1", mt::kOciManifest, other.body);
  EXPECT_EQ(p_->getManifest("team/app", "v1").headerOr("Docker-Content-Digest"),
            other.manifest.digest);
}

TEST_F(LocksTest, DeleteLockedTagCannotBeDeleted) {
  auto img = p_->pushImage("team/app", "v1");
  patchOk(repoPath(reg_, "team/app", "/_tags/v1"), R"({"deleteEnabled":false})");
  EXPECT_REGISTRY_ERROR(p_->del("/v2/team/app/manifests/v1"), 403, "DENIED");
  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app", "/_tags/v1")), 403, "DENIED");
  expectIntact("team/app", "v1", img);
  EXPECT_EQ(api().get(repoPath(reg_, "team/app", "/_tags/v1")).status, 200);
  patchOk(repoPath(reg_, "team/app", "/_tags/v1"), R"({"deleteEnabled":true})");
  EXPECT_EQ(api().del(repoPath(reg_, "team/app", "/_tags/v1")).status, 204);
}

TEST_F(LocksTest, LockedManifestCannotBeDeletedUntaggedOrLoseItsTags) {
  // deleteEnabled:false on one manifest, writeEnabled:false on another: the same refusals.
  for (const char* lock : {R"({"deleteEnabled":false})", R"({"writeEnabled":false})"}) {
    SCOPED_TRACE(lock);
    const std::string repo = "team/app" + randomHex(4);
    auto img = p_->pushImage(repo, "v1");
    auto other = p_->pushImage(repo, "");
    const std::string man = repoPath(reg_, repo, "/_manifests/" + img.manifest.digest);
    patchOk(man, lock);

    EXPECT_REGISTRY_ERROR(p_->del("/v2/" + repo + "/manifests/" + img.manifest.digest), 403,
                          "DENIED");
    EXPECT_API_ERROR(api().del(man), 403, "DENIED");
    EXPECT_API_ERROR(api().del(repoPath(reg_, repo, "/_tags/v1")), 403, "DENIED");
    EXPECT_REGISTRY_ERROR(p_->del("/v2/" + repo + "/manifests/v1"), 403, "DENIED");
    EXPECT_REGISTRY_ERROR(p_->putManifest(repo, "v1", mt::kOciManifest, other.body), 403, "DENIED");
    expectIntact(repo, "v1", img);
    EXPECT_EQ(api().get(man).status, 200);

    // Unlocked, it goes.
    std::string unlock = lock;
    unlock.replace(unlock.find("false"), 5, "true");
    patchOk(man, unlock);
    EXPECT_EQ(api().del(man).status, 204);
    EXPECT_EQ(p_->getManifest(repo, img.manifest.digest).status, 404);
  }
}

TEST_F(LocksTest, WriteDisabledRepositoryRefusesPushes) {
  auto img = p_->pushImage("team/app", "v1");
  patchOk(repoPath(reg_, "team/app"), R"({"writeEnabled":false})");
  EXPECT_REGISTRY_ERROR(p_->post("/v2/team/app/blobs/uploads/"), 403, "DENIED");
  EXPECT_REGISTRY_ERROR(p_->postBlob("team/app", "new content"), 403, "DENIED");
  // A manifest whose blobs are all in the repository already.
  std::string again = makeImageManifest(img.config, {img.layer},
                                        {.annotations = {{"org.example.n", randomHex(6)}}});
  EXPECT_REGISTRY_ERROR(p_->putManifest("team/app", "v2", mt::kOciManifest, again), 403, "DENIED");
  EXPECT_REGISTRY_ERROR(
      p_->post("/v2/team/app/blobs/uploads/?mount=" + img.layer.digest + "&from=team/app"), 403,
      "DENIED");
  EXPECT_EQ(p_->getManifest("team/app", "v2").status, 404);
  // Reading is still allowed.
  expectIntact("team/app", "v1", img);
  // Another repository is not locked.
  p_->pushImage("team/other", "v1");
  patchOk(repoPath(reg_, "team/app"), R"({"writeEnabled":true})");
  p_->pushManifest("team/app", "v2", mt::kOciManifest, again);
}

TEST_F(LocksTest, DeleteDisabledRepositoryRefusesDeletes) {
  auto img = p_->pushImage("team/app", "v1");
  patchOk(repoPath(reg_, "team/app"), R"({"deleteEnabled":false})");
  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app")), 403, "DENIED");
  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app", "/_tags/v1")), 403, "DENIED");
  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app", "/_manifests/" + img.manifest.digest)), 403,
                   "DENIED");
  EXPECT_REGISTRY_ERROR(p_->del("/v2/team/app/manifests/" + img.manifest.digest), 403, "DENIED");
  EXPECT_REGISTRY_ERROR(p_->del("/v2/team/app/manifests/v1"), 403, "DENIED");
  EXPECT_REGISTRY_ERROR(p_->del("/v2/team/app/blobs/" + img.layer.digest), 403, "DENIED");
  expectIntact("team/app", "v1", img);
  EXPECT_EQ(api().get(repoPath(reg_, "team/app")).status, 200);
  patchOk(repoPath(reg_, "team/app"), R"({"deleteEnabled":true})");
  EXPECT_EQ(api().del(repoPath(reg_, "team/app")).status, 200);
}

TEST_F(LocksTest, ReadDisabledRepositoryRefusesPulls) {
  auto img = p_->pushImage("team/app", "v1");
  patchOk(repoPath(reg_, "team/app"), R"({"readEnabled":false})");
  EXPECT_REGISTRY_ERROR(p_->getManifest("team/app", "v1"), 403, "DENIED");
  EXPECT_REGISTRY_ERROR(p_->getManifest("team/app", img.manifest.digest), 403, "DENIED");
  EXPECT_EQ(p_->head("/v2/team/app/manifests/v1", manifestAccept()).status, 403);
  EXPECT_REGISTRY_ERROR(p_->getBlob("team/app", img.layer.digest), 403, "DENIED");
  EXPECT_EQ(p_->head("/v2/team/app/blobs/" + img.layer.digest).status, 403);
  // The control API still shows it (so that it can be unlocked).
  EXPECT_EQ(api().get(repoPath(reg_, "team/app")).status, 200);
  patchOk(repoPath(reg_, "team/app"), R"({"readEnabled":true})");
  expectIntact("team/app", "v1", img);
}

TEST_F(LocksTest, ListDisabledRepositoryIsHidden) {
  auto img = p_->pushImage("team/app", "v1");
  p_->pushImage("team/shown", "v1");
  patchOk(repoPath(reg_, "team/app"), R"({"listEnabled":false})");
  json::Value cat = expectJson(p_->catalog(), 200);
  EXPECT_EQ(strings(cat.find("repositories")), std::vector<std::string>{"team/shown"});
  json::Value list = expectJson(api().get(regPath(reg_, "/repositories")), 200);
  EXPECT_EQ(strings(&list), std::vector<std::string>{"team/shown"});
  // Hidden, not locked: it pulls and shows by name.
  expectIntact("team/app", "v1", img);
  EXPECT_EQ(api().get(repoPath(reg_, "team/app")).status, 200);
  patchOk(repoPath(reg_, "team/app"), R"({"listEnabled":true})");
  cat = expectJson(p_->catalog(), 200);
  EXPECT_EQ(strings(cat.find("repositories")),
            (std::vector<std::string>{"team/app", "team/shown"}));
}

TEST_F(LocksTest, LocksAreEnforcedForTokensToo) {
  auto img = p_->pushImage("team/app", "v1");
  Identity push = createToken(reg_, "pusher", "_repositories_admin");
  auto t = plane(reg_, push.basic());
  patchOk(repoPath(reg_, "team/app"), R"({"writeEnabled":false,"deleteEnabled":false})");
  EXPECT_REGISTRY_ERROR(t->post("/v2/team/app/blobs/uploads/"), 403, "DENIED");
  EXPECT_REGISTRY_ERROR(t->del("/v2/team/app/manifests/" + img.manifest.digest), 403, "DENIED");
  EXPECT_EQ(t->getManifest("team/app", "v1").status, 200);
}

}  // namespace
}  // namespace berth_test::control
