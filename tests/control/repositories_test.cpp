// Repositories, tags and manifests of a registry (docs/control-api.md): list with paging, show,
// tags by time and name with digest and size, manifests with tags, platforms and referrers,
// delete a repository, untag, delete a manifest, and what the data plane sees afterwards.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

class RepositoriesTest : public ControlTest {
 protected:
  void SetUp() override {
    ControlTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    reg_ = uniqueRegistryName();
    json::Value r = createRegistry(reg_);
    loginServer_ = str(r, "loginServer");
    admin_ = enableAdmin(reg_);
    p_ = plane(reg_, admin_.basic());
  }
  // Times carry whole seconds: wait until the next one so that "later" is visible.
  static void nextSecond() { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); }

  std::vector<std::string> listAll(const std::string& query = "") {
    json::Value l = expectJson(api().get(regPath(reg_, "/repositories") + query), 200);
    EXPECT_TRUE(l.isArray());
    return strings(&l);
  }
  json::Value tagsOf(const std::string& repo, const std::string& query = "") {
    return expectJson(api().get(repoPath(reg_, repo, "/_tags") + query), 200);
  }
  json::Value manifestsOf(const std::string& repo, const std::string& query = "") {
    return expectJson(api().get(repoPath(reg_, repo, "/_manifests") + query), 200);
  }
  static const json::Value* byDigest(const json::Value& list, std::string_view key,
                                     const std::string& digest) {
    const json::Value* a = list.find(key);
    if (a == nullptr || !a->isArray()) return nullptr;
    for (const auto& e : a->asArray())
      if (e.getString("digest") == digest) return &e;
    return nullptr;
  }
  static std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  }

  std::string reg_, loginServer_;
  Identity admin_;
  std::unique_ptr<RegistryClient> p_;
};

TEST_F(RepositoriesTest, ListIsEmptyForANewRegistry) { EXPECT_TRUE(listAll().empty()); }

TEST_F(RepositoriesTest, ListIsSortedAndPaged) {
  for (const char* r : {"team/app/web", "b/app", "c", "a/app", "a"}) p_->pushImage(r, "v1");
  const std::vector<std::string> all = {"a", "a/app", "b/app", "c", "team/app/web"};
  EXPECT_EQ(listAll(), all);

  // Follow the Link headers with n=2.
  std::vector<std::string> seen;
  std::string next = regPath(reg_, "/repositories") + "?n=2";
  for (int page = 0; page < 5 && !next.empty(); ++page) {
    Response r = api().get(next);
    json::Value l = expectJson(r, 200);
    auto names = strings(&l);
    EXPECT_LE(names.size(), 2u) << r;
    seen.insert(seen.end(), names.begin(), names.end());
    next.clear();
    if (auto link = r.header("Link")) {
      auto parsed = parseLink(*link);
      ASSERT_TRUE(parsed) << r;
      EXPECT_EQ(parsed->rel, "next");
      EXPECT_EQ(pathOnly(parsed->url), regPath(reg_, "/repositories")) << *link;
      next = stripOrigin(parsed->url);
    }
    if (seen.size() < all.size()) {
      EXPECT_FALSE(next.empty()) << "no Link before the end\n" << r;
    }
  }
  EXPECT_EQ(seen, all);

  EXPECT_EQ(listAll("?last=b/app"), (std::vector<std::string>{"c", "team/app/web"}));
  EXPECT_EQ(listAll("?n=1&last=a"), (std::vector<std::string>{"a/app"}));
  Response last = api().get(regPath(reg_, "/repositories") + "?n=2&last=b/app");
  json::Value lastPage = expectJson(last, 200);
  EXPECT_EQ(strings(&lastPage), (std::vector<std::string>{"c", "team/app/web"}));
  EXPECT_FALSE(last.hasHeader("Link")) << "Link on the last page\n" << last;
  Response whole = api().get(regPath(reg_, "/repositories"));
  EXPECT_FALSE(whole.hasHeader("Link")) << whole;
}

TEST_F(RepositoriesTest, ListBadPagingIs400) {
  p_->pushImage("a", "v1");
  for (const char* q : {"?n=abc", "?n=-1", "?n=1.5"}) {
    SCOPED_TRACE(q);
    EXPECT_API_ERROR(api().get(regPath(reg_, "/repositories") + q), 400, "INVALID_ARGUMENT");
  }
}

TEST_F(RepositoriesTest, ListByTimeIsTheFirstNWithoutPaging) {
  p_->pushImage("b/one", "v1");
  nextSecond();
  p_->pushImage("c/two", "v1");
  nextSecond();
  p_->pushImage("a/three", "v1");
  EXPECT_EQ(listAll("?orderby=time_desc"), (std::vector<std::string>{"a/three", "c/two", "b/one"}));
  EXPECT_EQ(listAll("?orderby=time_asc"), (std::vector<std::string>{"b/one", "c/two", "a/three"}));
  Response first = api().get(regPath(reg_, "/repositories") + "?orderby=time_desc&n=2");
  json::Value firstTwo = expectJson(first, 200);
  EXPECT_EQ(strings(&firstTwo), (std::vector<std::string>{"a/three", "c/two"}));
  EXPECT_FALSE(first.hasHeader("Link")) << "a Link with orderby\n" << first;

  // A token sees only the repositories it may read; n counts those.
  Identity t = createTokenWithActions(
      reg_, "reader", {"repositories/b/*/metadata/read", "repositories/c/*/metadata/read"});
  json::Value seen = expectJson(
      apiAs(t.basic(), "GET", regPath(reg_, "/repositories") + "?orderby=time_asc&n=1"), 200);
  EXPECT_EQ(strings(&seen), std::vector<std::string>{"b/one"});
  seen = expectJson(apiAs(t.basic(), "GET", regPath(reg_, "/repositories?orderby=time_desc")), 200);
  EXPECT_EQ(strings(&seen), (std::vector<std::string>{"c/two", "b/one"}));

  // List-disabled repositories are left out.
  ASSERT_EQ(api()
                .patch(repoPath(reg_, "c/two"), R"({"listEnabled":false})",
                       {{"Content-Type", "application/json"}})
                .status,
            200);
  EXPECT_EQ(listAll("?orderby=time_desc"), (std::vector<std::string>{"a/three", "b/one"}));

  for (const char* q :
       {"?orderby=name", "?orderby=", "?orderby=time_asc&last=a", "?orderby=time_desc&n=0"}) {
    SCOPED_TRACE(q);
    EXPECT_API_ERROR(api().get(regPath(reg_, "/repositories") + q), 400, "INVALID_ARGUMENT");
  }
}

TEST_F(RepositoriesTest, ListByTimeBreaksTiesByName) {
  // Two repositories updated within the same second (as lastUpdateTime shows it), the later
  // one first by name: both orders list them by name.
  std::string first, second;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::string suffix = randomHex(4);
    first = "tie" + suffix + "/b";
    second = "tie" + suffix + "/a";
    p_->pushImage(first, "v1");
    p_->pushImage(second, "v1");
    if (str(expectJson(api().get(repoPath(reg_, first)), 200), "lastUpdateTime") ==
        str(expectJson(api().get(repoPath(reg_, second)), 200), "lastUpdateTime"))
      break;
    first.clear();
  }
  ASSERT_FALSE(first.empty()) << "five pairs of pushes never shared a second";
  for (const char* order : {"time_desc", "time_asc"}) {
    SCOPED_TRACE(order);
    std::vector<std::string> tied;
    for (const auto& r : listAll(std::string("?orderby=") + order))
      if (r == first || r == second) tied.push_back(r);
    EXPECT_EQ(tied, (std::vector<std::string>{second, first}));
  }
}

TEST_F(RepositoriesTest, ShowRepository) {
  auto one = p_->pushImage("team/app/web", "v1");
  p_->pushManifest("team/app/web", "latest", mt::kOciManifest, one.body);
  p_->pushImage("team/app/web", "v2");
  json::Value r = expectJson(api().get(repoPath(reg_, "team/app/web")), 200);
  EXPECT_EQ(str(r, "registry"), loginServer_);
  EXPECT_EQ(str(r, "imageName"), "team/app/web");
  EXPECT_TRUE(isRfc3339Utc(str(r, "createdTime"))) << str(r, "createdTime");
  EXPECT_TRUE(isRfc3339Utc(str(r, "lastUpdateTime"))) << str(r, "lastUpdateTime");
  EXPECT_GE(str(r, "lastUpdateTime"), str(r, "createdTime"));
  EXPECT_EQ(integer(r, "manifestCount"), 2);
  EXPECT_EQ(integer(r, "tagCount"), 3);
  const json::Value* attrs = r.find("changeableAttributes");
  ASSERT_NE(attrs, nullptr);
  for (const char* a : {"deleteEnabled", "writeEnabled", "readEnabled", "listEnabled"})
    EXPECT_EQ(boolean(*attrs, a), true) << a;

  // Names with several levels are matched up to /_tags and /_manifests.
  json::Value tags =
      expectJson(api().get(repoPath(reg_, "team/app/web", "/_tags?orderby=name")), 200);
  EXPECT_EQ(str(tags, "imageName"), "team/app/web");
  EXPECT_EQ(strings(tags.find("tags"), "name"), (std::vector<std::string>{"latest", "v1", "v2"}));
  json::Value mans = expectJson(api().get(repoPath(reg_, "team/app/web", "/_manifests")), 200);
  EXPECT_EQ(mans.find("manifests") ? mans.find("manifests")->asArray().size() : 0u, 2u);
  EXPECT_EQ(expectJson(api().get(repoPath(reg_, "team/app/web", "/_tags/latest")), 200)
                .getString("digest"),
            one.manifest.digest);

  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/app")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().get(repoPath(reg_, "nothere")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/app/web/x")), 404, "NOT_FOUND");
}

TEST_F(RepositoriesTest, TagsByTimeAndName) {
  const std::string repo = "team/app";
  std::map<std::string, RegistryClient::Image> images;
  images["zeta"] = p_->pushImage(repo, "zeta", 100);
  nextSecond();
  images["alpha"] = p_->pushImage(repo, "alpha", 200);
  nextSecond();
  images["mid"] = p_->pushImage(repo, "mid", 300);

  json::Value byDefault = tagsOf(repo);
  EXPECT_EQ(str(byDefault, "registry"), loginServer_);
  EXPECT_EQ(str(byDefault, "imageName"), repo);
  EXPECT_EQ(strings(byDefault.find("tags"), "name"),
            (std::vector<std::string>{"mid", "alpha", "zeta"}));
  EXPECT_EQ(strings(tagsOf(repo, "?orderby=time_desc").find("tags"), "name"),
            (std::vector<std::string>{"mid", "alpha", "zeta"}));
  EXPECT_EQ(strings(tagsOf(repo, "?orderby=time_asc").find("tags"), "name"),
            (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(strings(tagsOf(repo, "?orderby=name").find("tags"), "name"),
            (std::vector<std::string>{"alpha", "mid", "zeta"}));

  for (const auto& t : byDefault.find("tags")->asArray()) {
    const auto& img = images[str(t, "name")];
    SCOPED_TRACE(str(t, "name"));
    EXPECT_EQ(str(t, "digest"), img.manifest.digest);
    EXPECT_EQ(integer(t, "size"), static_cast<long long>(img.totalSize()));
    EXPECT_TRUE(isRfc3339Utc(str(t, "createdTime"))) << str(t, "createdTime");
    EXPECT_TRUE(isRfc3339Utc(str(t, "lastUpdateTime"))) << str(t, "lastUpdateTime");
    ASSERT_NE(t.find("changeableAttributes"), nullptr);
    EXPECT_EQ(boolean(*t.find("changeableAttributes"), "deleteEnabled"), true);
    EXPECT_EQ(boolean(*t.find("changeableAttributes"), "writeEnabled"), true);
  }
  EXPECT_API_ERROR(api().get(repoPath(reg_, repo, "/_tags?orderby=size")), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(api().get(repoPath(reg_, "nothere", "/_tags")), 404, "NOT_FOUND");
}

TEST_F(RepositoriesTest, TagsArePagedAndSearched) {
  const std::string repo = "team/app";
  const auto image = p_->pushImage(repo, "v1");
  for (const char* tag : {"v2", "v3", "release-1", "Release-2", "beta", "v10"}) {
    p_->pushManifest(repo, tag, mt::kOciManifest, image.body);
  }
  auto names = [&](const std::string& query) {
    return strings(tagsOf(repo, query).find("tags"), "name");
  };
  EXPECT_EQ(integer(tagsOf(repo), "totalCount"), 7);
  EXPECT_EQ(names("?orderby=name&n=3"),
            (std::vector<std::string>{"Release-2", "beta", "release-1"}));
  EXPECT_EQ(names("?orderby=name&n=3&offset=3"), (std::vector<std::string>{"v1", "v10", "v2"}));
  EXPECT_EQ(names("?orderby=name&n=3&offset=6"), (std::vector<std::string>{"v3"}));
  EXPECT_TRUE(names("?orderby=name&n=3&offset=9").empty());
  EXPECT_EQ(names("?orderby=name&offset=5"), (std::vector<std::string>{"v2", "v3"}));
  EXPECT_EQ(integer(tagsOf(repo, "?n=3&offset=9"), "totalCount"), 7);
  // ?q= matches a part of the name, in any case; totalCount counts the matches.
  json::Value found = tagsOf(repo, "?orderby=name&q=RELEASE");
  EXPECT_EQ(strings(found.find("tags"), "name"),
            (std::vector<std::string>{"Release-2", "release-1"}));
  EXPECT_EQ(integer(found, "totalCount"), 2);
  EXPECT_EQ(names("?orderby=name&q=v1&n=1&offset=1"), std::vector<std::string>{"v10"});
  EXPECT_TRUE(names("?q=nothing").empty());
  for (const char* bad : {"?n=0", "?n=1001", "?n=x", "?offset=-1", "?offset=1e3"}) {
    EXPECT_API_ERROR(api().get(repoPath(reg_, repo, "/_tags") + bad), 400, "INVALID_ARGUMENT")
        << bad;
  }
}

TEST_F(RepositoriesTest, RepositoriesAreSearched) {
  for (const char* repo : {"team/web", "team/api", "tools/webhook", "other"}) {
    p_->pushImage(repo, "v1");
  }
  EXPECT_EQ(listAll("?q=web"), (std::vector<std::string>{"team/web", "tools/webhook"}));
  EXPECT_EQ(listAll("?q=TEAM/"), (std::vector<std::string>{"team/api", "team/web"}));
  // Paged through the matches: the next page's link carries the search.
  Response first = api().get(regPath(reg_, "/repositories?q=e&n=2"));
  ASSERT_EQ(first.status, 200) << first;
  const json::Value firstPage = expectJson(first, 200);
  EXPECT_EQ(strings(&firstPage), (std::vector<std::string>{"other", "team/api"}));
  const std::string link = first.headerOr("Link");
  EXPECT_NE(link.find("q=e"), std::string::npos) << link;
  Response second = api().get(regPath(reg_, "/repositories?q=e&n=2&last=team/api"));
  const json::Value secondPage = expectJson(second, 200);
  EXPECT_EQ(strings(&secondPage), (std::vector<std::string>{"team/web", "tools/webhook"}));
  EXPECT_EQ(listAll("?q=web&orderby=time_asc"),
            (std::vector<std::string>{"team/web", "tools/webhook"}));
}

TEST_F(RepositoriesTest, AManifestShowsItsImageConfigAndAnIndexItsPlatforms) {
  const std::string repo = "team/app";
  const std::string configJson =
      R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/app"],)"
      R"("Env":["PATH=/usr/bin","MODE=prod"],"Labels":{"team":"core"}},)"
      R"("rootfs":{"type":"layers","diff_ids":[]}})";
  Descriptor config = p_->pushBlobAs(repo, "application/vnd.oci.image.config.v1+json", configJson);
  Descriptor layer = p_->pushBlobAs(repo, "application/vnd.oci.image.layer.v1.tar", "layer bytes");
  const std::string image = makeImageManifest(config, {layer});
  const std::string imageDigest = p_->pushManifest(repo, "v1", mt::kOciManifest, image);
  json::Value shown =
      expectJson(api().get(repoPath(reg_, repo, "/_manifests/" + imageDigest)), 200);
  const json::Value* got = shown.find("config");
  ASSERT_TRUE(got != nullptr && got->isObject()) << "the image's config";
  EXPECT_TRUE(jsonEqual(*got, *json::parse(configJson)));
  EXPECT_EQ(strings(member(shown, "config.config.Env")),
            (std::vector<std::string>{"PATH=/usr/bin", "MODE=prod"}));

  Descriptor windows{mt::kOciManifest, imageDigest, image.size(), "", {}, {}, ""};
  windows.platformJson =
      R"({"architecture":"amd64","os":"windows","os.version":"10.0.20348.2113"})";
  const std::string indexDigest =
      p_->pushManifest(repo, "multi", mt::kOciIndex, makeIndex({windows}));
  json::Value index =
      expectJson(api().get(repoPath(reg_, repo, "/_manifests/" + indexDigest)), 200);
  const json::Value* platforms = index.find("platforms");
  ASSERT_TRUE(platforms && platforms->isArray() && platforms->asArray().size() == 1u);
  const json::Value& p = platforms->asArray()[0];
  EXPECT_EQ(str(p, "os"), "windows");
  EXPECT_EQ(str(p, "osVersion"), "10.0.20348.2113");
  EXPECT_EQ(str(p, "digest"), imageDigest);
  ASSERT_NE(index.find("config"), nullptr);
  EXPECT_TRUE(index.find("config")->isNull()) << "an index has no config";

  // A config that is not an image's (an artifact's) is not read.
  Descriptor other = p_->pushBlobAs(repo, "application/vnd.example.config", "{}");
  const std::string artifact = makeImageManifest(other, {layer});
  const std::string artifactDigest = p_->pushManifest(repo, "art", mt::kOciManifest, artifact);
  json::Value shownArtifact =
      expectJson(api().get(repoPath(reg_, repo, "/_manifests/" + artifactDigest)), 200);
  EXPECT_TRUE(shownArtifact.find("config") && shownArtifact.find("config")->isNull());
}

TEST_F(RepositoriesTest, MovingATagMakesItTheNewest) {
  const std::string repo = "team/app";
  p_->pushImage(repo, "a");
  nextSecond();
  p_->pushImage(repo, "b");
  nextSecond();
  auto c = p_->pushImage(repo, "", 64);
  p_->pushManifest(repo, "a", mt::kOciManifest, c.body);  // a moves to c
  json::Value t = tagsOf(repo);
  EXPECT_EQ(strings(t.find("tags"), "name"), (std::vector<std::string>{"a", "b"}));
  json::Value tag = expectJson(api().get(repoPath(reg_, repo, "/_tags/a")), 200);
  EXPECT_EQ(str(tag, "digest"), c.manifest.digest);
  EXPECT_GT(str(tag, "lastUpdateTime"), str(tag, "createdTime"));
}

TEST_F(RepositoriesTest, ShowTag) {
  auto img = p_->pushImage("team/app", "v1", 1000);
  json::Value t = expectJson(api().get(repoPath(reg_, "team/app", "/_tags/v1")), 200);
  EXPECT_EQ(str(t, "name"), "v1");
  EXPECT_EQ(str(t, "digest"), img.manifest.digest);
  EXPECT_EQ(integer(t, "size"), static_cast<long long>(img.totalSize()));
  EXPECT_TRUE(isRfc3339Utc(str(t, "createdTime")));
  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/app", "/_tags/v2")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/other", "/_tags/v1")), 404, "NOT_FOUND");
}

TEST_F(RepositoriesTest, ManifestsWithTagsPlatformsAndReferrers) {
  const std::string repo = "team/app";
  auto amd = p_->pushImage(repo, "v1");
  p_->pushManifest(repo, "latest", mt::kOciManifest, amd.body);
  auto arm = p_->pushImage(repo, "");
  Descriptor amdDesc = amd.manifest;
  amdDesc.platformJson = R"({"architecture":"amd64","os":"linux"})";
  Descriptor armDesc = arm.manifest;
  armDesc.platformJson = R"({"architecture":"arm64","os":"linux","variant":"v8"})";
  std::string index = makeIndex({amdDesc, armDesc});
  std::string indexDigest = p_->pushManifest(repo, "multi", mt::kOciIndex, index);
  // A signature-like artifact whose subject is the amd64 image.
  p_->pushBlob(repo, kEmptyJson);
  Descriptor sigLayer = p_->pushBlobAs(repo, "application/octet-stream", "signature bytes");
  std::string sig =
      makeImageManifest(emptyConfigDescriptor(), {sigLayer},
                        {.artifactType = "application/vnd.example.sig", .subject = amd.manifest});
  std::string sigDigest = sha256Digest(sig);
  p_->pushManifest(repo, sigDigest, mt::kOciManifest, sig);

  json::Value list = manifestsOf(repo);
  EXPECT_EQ(str(list, "registry"), loginServer_);
  EXPECT_EQ(str(list, "imageName"), repo);
  ASSERT_TRUE(list.find("manifests") && list.find("manifests")->isArray()) << list.isObject();
  EXPECT_EQ(list.find("manifests")->asArray().size(), 4u);

  const json::Value* m = byDigest(list, "manifests", amd.manifest.digest);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(str(*m, "mediaType"), mt::kOciManifest);
  // An image declares no artifactType: null, as in the document's example.
  ASSERT_NE(m->find("artifactType"), nullptr);
  EXPECT_TRUE(m->find("artifactType")->isNull()) << str(*m, "artifactType");
  EXPECT_EQ(integer(*m, "size"), static_cast<long long>(amd.totalSize()));
  EXPECT_TRUE(isRfc3339Utc(str(*m, "createdTime")));
  EXPECT_EQ(sorted(strings(m->find("tags"))), (std::vector<std::string>{"latest", "v1"}));
  ASSERT_NE(m->find("platforms"), nullptr);
  EXPECT_TRUE(m->find("platforms")->isArray() && m->find("platforms")->asArray().empty());
  const json::Value* refs = m->find("referrers");
  ASSERT_TRUE(refs && refs->isArray());
  ASSERT_EQ(refs->asArray().size(), 1u);
  EXPECT_EQ(str(refs->asArray()[0], "digest"), sigDigest);
  EXPECT_EQ(str(refs->asArray()[0], "artifactType"), "application/vnd.example.sig");
  ASSERT_NE(m->find("changeableAttributes"), nullptr);
  EXPECT_EQ(boolean(*m->find("changeableAttributes"), "deleteEnabled"), true);
  EXPECT_EQ(boolean(*m->find("changeableAttributes"), "writeEnabled"), true);

  const json::Value* idx = byDigest(list, "manifests", indexDigest);
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(str(*idx, "mediaType"), mt::kOciIndex);
  ASSERT_NE(idx->find("artifactType"), nullptr);
  EXPECT_TRUE(idx->find("artifactType")->isNull()) << str(*idx, "artifactType");
  EXPECT_EQ(strings(idx->find("tags")), std::vector<std::string>{"multi"});
  const json::Value* plats = idx->find("platforms");
  ASSERT_TRUE(plats && plats->isArray() && plats->asArray().size() == 2u) << "platforms";
  std::set<std::string> got;
  for (const auto& p : plats->asArray()) {
    const json::Value* v = p.find("variant");
    got.insert(str(p, "os") + "/" + str(p, "architecture") + "/" +
               (v == nullptr  ? "<absent>"
                : v->isNull() ? "null"
                              : v->asString()));
  }
  EXPECT_EQ(got, (std::set<std::string>{"linux/amd64/null", "linux/arm64/v8"}));
  EXPECT_TRUE(idx->find("referrers") && idx->find("referrers")->asArray().empty());

  const json::Value* s = byDigest(list, "manifests", sigDigest);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(str(*s, "artifactType"), "application/vnd.example.sig");
  EXPECT_TRUE(s->find("tags") && s->find("tags")->asArray().empty());
  EXPECT_GE(integer(*s, "size").value_or(0), static_cast<long long>(sig.size()));

  const json::Value* untagged = byDigest(list, "manifests", arm.manifest.digest);
  ASSERT_NE(untagged, nullptr);
  EXPECT_TRUE(untagged->find("tags") && untagged->find("tags")->asArray().empty());

  // One manifest by digest.
  json::Value one =
      expectJson(api().get(repoPath(reg_, repo, "/_manifests/" + amd.manifest.digest)), 200);
  EXPECT_EQ(str(one, "digest"), amd.manifest.digest);
  EXPECT_EQ(sorted(strings(one.find("tags"))), (std::vector<std::string>{"latest", "v1"}));
  EXPECT_EQ(strings(one.find("referrers"), "digest"), std::vector<std::string>{sigDigest});
  // Shown alone, a manifest carries itself; in lists and PATCH replies it does not.
  const json::Value* doc = one.find("manifest");
  ASSERT_TRUE(doc != nullptr && doc->isObject());
  EXPECT_EQ(integer(*doc, "schemaVersion"), 2);
  EXPECT_EQ(str(*member(*doc, "config"), "digest"), amd.config.digest);
  EXPECT_EQ(strings(member(*doc, "layers"), "digest"), std::vector<std::string>{amd.layer.digest});
  EXPECT_EQ(m->find("manifest"), nullptr);
  json::Value patched =
      expectJson(api().patch(repoPath(reg_, repo, "/_manifests/" + amd.manifest.digest),
                             R"({"writeEnabled":true})", {{"Content-Type", "application/json"}}),
                 200);
  EXPECT_EQ(patched.find("manifest"), nullptr);
  // ... exactly the document /v2 serves.
  auto served = json::parse(p_->getManifest(repo, amd.manifest.digest).body);
  ASSERT_TRUE(served);
  EXPECT_TRUE(jsonEqual(*doc, *served))
      << "\"manifest\" differs from GET /v2/.../manifests/<digest>";
  json::Value shownIndex =
      expectJson(api().get(repoPath(reg_, repo, "/_manifests/" + indexDigest)), 200);
  auto servedIndex = json::parse(p_->getManifest(repo, indexDigest).body);
  ASSERT_TRUE(servedIndex && shownIndex.find("manifest"));
  EXPECT_TRUE(jsonEqual(*shownIndex.find("manifest"), *servedIndex));
  EXPECT_EQ(strings(member(shownIndex, "manifest.manifests"), "digest"),
            (std::vector<std::string>{amd.manifest.digest, arm.manifest.digest}));
  EXPECT_API_ERROR(api().get(repoPath(reg_, repo, "/_manifests/" + randomDigest())), 404,
                   "NOT_FOUND");
  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/none", "/_manifests")), 404, "NOT_FOUND");
}

TEST_F(RepositoriesTest, ManifestsByTime) {
  const std::string repo = "team/app";
  auto first = p_->pushImage(repo, "one");
  nextSecond();
  auto second = p_->pushImage(repo, "two");
  nextSecond();
  auto third = p_->pushImage(repo, "");
  const std::vector<std::string> asc = {first.manifest.digest, second.manifest.digest,
                                        third.manifest.digest};
  const std::vector<std::string> desc(asc.rbegin(), asc.rend());
  EXPECT_EQ(strings(manifestsOf(repo).find("manifests"), "digest"), desc);
  EXPECT_EQ(strings(manifestsOf(repo, "?orderby=time_desc").find("manifests"), "digest"), desc);
  EXPECT_EQ(strings(manifestsOf(repo, "?orderby=time_asc").find("manifests"), "digest"), asc);
  EXPECT_API_ERROR(api().get(repoPath(reg_, repo, "/_manifests?orderby=nope")), 400,
                   "INVALID_ARGUMENT");
}

TEST_F(RepositoriesTest, DeleteRepository) {
  auto one = p_->pushImage("team/app", "v1");
  p_->pushManifest("team/app", "latest", mt::kOciManifest, one.body);
  auto two = p_->pushImage("team/app", "v2");
  auto untagged = p_->pushImage("team/app", "");
  // Another repository shares the first image's layer.
  Response mount =
      p_->post("/v2/team/keep/blobs/uploads/?mount=" + one.layer.digest + "&from=team/app");
  ASSERT_EQ(mount.status, 201) << mount;
  auto keep = p_->pushImage("team/keep", "v1");

  json::Value d = expectJson(api().del(repoPath(reg_, "team/app")), 200);
  EXPECT_EQ(sorted(strings(d.find("manifestsDeleted"))),
            sorted({one.manifest.digest, two.manifest.digest, untagged.manifest.digest}));
  EXPECT_EQ(sorted(strings(d.find("tagsDeleted"))),
            (std::vector<std::string>{"latest", "v1", "v2"}));

  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/app")), 404, "NOT_FOUND");
  EXPECT_EQ(listAll(), std::vector<std::string>{"team/keep"});
  EXPECT_REGISTRY_ERROR(p_->tags("team/app"), 404, "NAME_UNKNOWN");
  EXPECT_EQ(p_->getManifest("team/app", one.manifest.digest).status, 404);
  json::Value cat = expectJson(p_->catalog(), 200);
  EXPECT_EQ(strings(cat.find("repositories")), std::vector<std::string>{"team/keep"});
  // The other repository keeps its content, the shared layer included.
  EXPECT_EQ(p_->getManifest("team/keep", "v1").body, keep.body);
  Response shared = p_->getBlob("team/keep", one.layer.digest);
  EXPECT_EQ(shared.status, 200) << shared;
  EXPECT_EQ(sha256Digest(shared.body), one.layer.digest);

  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app")), 404, "NOT_FOUND");
}

TEST_F(RepositoriesTest, UntagKeepsTheManifest) {
  auto img = p_->pushImage("team/app", "v1");
  p_->pushManifest("team/app", "latest", mt::kOciManifest, img.body);
  Response r = api().del(repoPath(reg_, "team/app", "/_tags/v1"));
  EXPECT_EQ(r.status, 204) << r;
  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/app", "/_tags/v1")), 404, "NOT_FOUND");
  EXPECT_REGISTRY_ERROR(p_->getManifest("team/app", "v1"), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(p_->getManifest("team/app", "latest").status, 200);
  EXPECT_EQ(p_->getManifest("team/app", img.manifest.digest).status, 200);
  json::Value tags = expectJson(p_->tags("team/app"), 200);
  EXPECT_EQ(strings(tags.find("tags")), std::vector<std::string>{"latest"});
  json::Value repo = expectJson(api().get(repoPath(reg_, "team/app")), 200);
  EXPECT_EQ(integer(repo, "tagCount"), 1);
  EXPECT_EQ(integer(repo, "manifestCount"), 1);
  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app", "/_tags/v1")), 404, "NOT_FOUND");
}

TEST_F(RepositoriesTest, DeleteManifestTakesItsTags) {
  auto a = p_->pushImage("team/app", "v1");
  p_->pushManifest("team/app", "latest", mt::kOciManifest, a.body);
  auto b = p_->pushImage("team/app", "v2");
  Response r = api().del(repoPath(reg_, "team/app", "/_manifests/" + a.manifest.digest));
  EXPECT_EQ(r.status, 204) << r;
  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/app", "/_manifests/" + a.manifest.digest)), 404,
                   "NOT_FOUND");
  EXPECT_EQ(p_->getManifest("team/app", a.manifest.digest).status, 404);
  EXPECT_EQ(p_->getManifest("team/app", "v1").status, 404);
  EXPECT_EQ(p_->getManifest("team/app", "latest").status, 404);
  EXPECT_EQ(p_->getManifest("team/app", "v2").body, b.body);
  json::Value repo = expectJson(api().get(repoPath(reg_, "team/app")), 200);
  EXPECT_EQ(integer(repo, "tagCount"), 1);
  EXPECT_EQ(integer(repo, "manifestCount"), 1);
  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app", "/_manifests/" + a.manifest.digest)), 404,
                   "NOT_FOUND");
  EXPECT_API_ERROR(api().del(repoPath(reg_, "team/app", "/_manifests/" + randomDigest())), 404,
                   "NOT_FOUND");
}

}  // namespace
}  // namespace berth_test::control
