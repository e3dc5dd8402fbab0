// Repository names: multi-level names on every endpoint, separators, route-keyword
// components, the 255-character limit and invalid names (NAME_INVALID).
#include <algorithm>

#include "harness.hpp"

namespace berth_test {
namespace {

class NamesTest : public RegistryTest {
 protected:
  // Exercises (almost) every endpoint on `name`; `peer` is another valid repository for mounting.
  void exerciseAllEndpoints(const std::string& name, const std::string& peer) {
    SCOPED_TRACE("repository " + name);
    const std::string v2 = "/v2/" + name;

    // Blob: monolithic push, GET, HEAD, Range.
    const std::string data = randomBytes(100);
    const std::string d = pushBlob(name, data);
    Response g = http().get(v2 + "/blobs/" + d);
    ASSERT_EQ(g.status, 200) << g;
    EXPECT_TRUE(g.body == data);
    EXPECT_EQ(http().head(v2 + "/blobs/" + d).status, 200);
    Response rg = http().get(v2 + "/blobs/" + d, {{"Range", "bytes=0-9"}});
    EXPECT_EQ(rg.status, 206) << rg;

    // Upload session: POST, PATCH, GET status, PUT; Location stays under the name.
    const std::string chunked = randomBytes(50);
    Response post = http().post(v2 + "/blobs/uploads/");
    ASSERT_EQ(post.status, 202) << post;
    ASSERT_TRUE(post.header("Location"));
    EXPECT_EQ(pathOnly(*post.header("Location")).rfind(v2 + "/blobs/uploads/", 0), 0u) << post;
    Response patch =
        http().patch(*post.header("Location"), chunked,
                     {{"Content-Type", "application/octet-stream"}, {"Content-Range", "0-49"}});
    ASSERT_EQ(patch.status, 202) << patch;
    EXPECT_EQ(patch.headerOr("Range"), "0-49") << patch;
    Response status = http().get(*patch.header("Location"));
    EXPECT_EQ(status.status, 204) << status;
    Response put =
        http().put(appendQuery(*patch.header("Location"), "digest=" + sha256Digest(chunked)), "",
                   {{"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(put.status, 201) << put;
    EXPECT_TRUE(HasLocationPath(put, v2 + "/blobs/" + sha256Digest(chunked)));

    // Cancelled session.
    Response post2 = http().post(v2 + "/blobs/uploads/");
    ASSERT_EQ(post2.status, 202) << post2;
    EXPECT_EQ(http().del(*post2.header("Location")).status, 204);
    EXPECT_REGISTRY_ERROR(http().get(*post2.header("Location")), 404, "BLOB_UPLOAD_UNKNOWN");

    // Manifest by tag and digest, tags list.
    Descriptor cfg = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
    Descriptor layer = describe(mt::kOciLayerGzip, data);
    const std::string manifest = makeImageManifest(cfg, {layer});
    const std::string md = sha256Digest(manifest);
    Response pm = putManifest(name, "v1", mt::kOciManifest, manifest);
    ASSERT_EQ(pm.status, 201) << pm;
    EXPECT_TRUE(HasLocationPath(pm, v2 + "/manifests/" + md));
    Response gm = getManifest(name, "v1");
    ASSERT_EQ(gm.status, 200) << gm;
    EXPECT_EQ(gm.body, manifest);
    EXPECT_EQ(getManifest(name, md).status, 200);
    EXPECT_EQ(headManifest(name, "v1").status, 200);
    Response tags = http().get(v2 + "/tags/list");
    ASSERT_EQ(tags.status, 200) << tags;
    auto tdoc = json::parse(tags.body);
    ASSERT_TRUE(tdoc) << tags;
    EXPECT_EQ(tdoc->getString("name").value_or("<missing>"), name);
    EXPECT_EQ(tdoc->getStringArray("tags").value_or(std::vector<std::string>{}),
              std::vector<std::string>{"v1"});
    Response tagsPaged = http().get(v2 + "/tags/list?n=1");
    EXPECT_EQ(tagsPaged.status, 200) << tagsPaged;

    // Referrers.
    pushBlob(name, kEmptyJson);
    const std::string art = makeImageManifest(emptyConfigDescriptor(), {emptyConfigDescriptor()},
                                              {.artifactType = "application/vnd.example.x",
                                               .subject = describe(mt::kOciManifest, manifest)});
    Response pa = putManifest(name, sha256Digest(art), mt::kOciManifest, art);
    ASSERT_EQ(pa.status, 201) << pa;
    EXPECT_EQ(pa.headerOr("OCI-Subject"), md) << pa;
    Response refs = http().get(v2 + "/referrers/" + md);
    EXPECT_EQ(refs.status, 200) << refs;
    if (refs.status == 200) {
      EXPECT_NE(refs.body.find(sha256Digest(art)), std::string::npos) << refs;
    }

    // Mount from `name` into `peer`, and back.
    Response mount = http().post("/v2/" + peer + "/blobs/uploads/?mount=" + d + "&from=" + name);
    EXPECT_EQ(mount.status, 201) << mount;
    EXPECT_TRUE(HasLocationPath(mount, "/v2/" + peer + "/blobs/" + d));
    EXPECT_EQ(http().get("/v2/" + peer + "/blobs/" + d).status, 200);

    // Catalog lists the full name.
    bool found = false;
    std::string target = "/v2/_catalog";
    for (int i = 0; i < 10000 && !found; ++i) {
      Response c = http().get(target);
      ASSERT_EQ(c.status, 200) << c;
      auto cdoc = json::parse(c.body);
      ASSERT_TRUE(cdoc) << c;
      auto repos = cdoc->getStringArray("repositories").value_or(std::vector<std::string>{});
      found = std::find(repos.begin(), repos.end(), name) != repos.end();
      auto link = c.header("Link");
      if (!link) break;
      auto l = parseLink(*link);
      ASSERT_TRUE(l);
      target = stripOrigin(l->url);
    }
    EXPECT_TRUE(found) << name << " not in catalog";

    // Deletes.
    EXPECT_EQ(http().del(v2 + "/manifests/v1").status, 202);
    EXPECT_EQ(http().del(v2 + "/manifests/" + md).status, 202);
    EXPECT_REGISTRY_ERROR(getManifest(name, md), 404, "MANIFEST_UNKNOWN");
    EXPECT_EQ(http().del(v2 + "/blobs/" + d).status, 202);
    EXPECT_REGISTRY_ERROR(http().get(v2 + "/blobs/" + d), 404, "BLOB_UNKNOWN");
    EXPECT_EQ(http().get("/v2/" + peer + "/blobs/" + d).status, 200);
  }
};

TEST_F(NamesTest, MultiLevelNameOnEveryEndpoint) {
  exerciseAllEndpoints(repo("team/app/web"), repo("team/app/web-mirror/x"));
}

TEST_F(NamesTest, NameWithAllSeparatorKinds) {
  exerciseAllEndpoints(repo("a.b_c__d-e--f/g0.9/x-y_z"), repo("sep-peer"));
}

TEST_F(NamesTest, NameComponentsThatLookLikeRouteKeywords) {
  exerciseAllEndpoints(repo("blobs/uploads"), repo("manifests/tags"));
  exerciseAllEndpoints(repo("v2/referrers/list/manifests"), repo("blobs"));
  exerciseAllEndpoints(repo("tags/list"), repo("catalog/x_catalog"));
}

TEST_F(NamesTest, NameOfExactly255CharactersIsAccepted) {
  std::string name = repo("long/");
  name += std::string(255 - name.size(), 'a');
  ASSERT_EQ(name.size(), 255u);
  const std::string data = randomBytes(20);
  const std::string d = pushBlob(name, data);
  EXPECT_EQ(http().get("/v2/" + name + "/blobs/" + d).status, 200);
  pushRandomImage(name, "t");
  EXPECT_EQ(getManifest(name, "t").status, 200);
  Response tags = http().get("/v2/" + name + "/tags/list");
  EXPECT_EQ(tags.status, 200) << tags;
}

TEST_F(NamesTest, InvalidNamesReturn400NameInvalid) {
  const std::string p = runPrefix();
  std::string tooLong = p + "/";
  tooLong += std::string(256 - tooLong.size(), 'b');
  ASSERT_EQ(tooLong.size(), 256u);
  const std::vector<std::string> names = {
      p + "/Upper",  p + "/UPPER/case", p + "//b",    p + "/x/",      tooLong,     p + "/-lead",
      p + "/trail-", p + "/a..b",       p + "/a___b", p + "/.hidden", p + "/a/_b", p + "/sp%20ace",
  };
  const std::string digest = randomDigest();
  const std::string body = makeImageManifest(emptyConfigDescriptor(), {});

  for (const auto& name : names) {
    SCOPED_TRACE("name '" + name + "'");
    const std::string v2 = "/v2/" + name;
    EXPECT_REGISTRY_ERROR(http().get(v2 + "/blobs/" + digest), 400, "NAME_INVALID");
    EXPECT_EQ(http().head(v2 + "/blobs/" + digest).status, 400);
    EXPECT_REGISTRY_ERROR(http().del(v2 + "/blobs/" + digest), 400, "NAME_INVALID");
    EXPECT_REGISTRY_ERROR(http().post(v2 + "/blobs/uploads/"), 400, "NAME_INVALID");
    EXPECT_REGISTRY_ERROR(http().post(v2 + "/blobs/uploads/?digest=" + sha256Digest("x"), "x"), 400,
                          "NAME_INVALID");
    EXPECT_REGISTRY_ERROR(putManifest(name, "latest", mt::kOciManifest, body), 400, "NAME_INVALID");
    EXPECT_REGISTRY_ERROR(getManifest(name, "latest"), 400, "NAME_INVALID");
    EXPECT_EQ(headManifest(name, "latest").status, 400);
    EXPECT_REGISTRY_ERROR(http().del(v2 + "/manifests/" + digest), 400, "NAME_INVALID");
    EXPECT_REGISTRY_ERROR(http().get(v2 + "/tags/list"), 400, "NAME_INVALID");
    EXPECT_REGISTRY_ERROR(http().get(v2 + "/referrers/" + digest), 400, "NAME_INVALID");
  }
}

TEST_F(NamesTest, InvalidNameNotCreatedInCatalog) {
  const std::string bad = runPrefix() + "/Bad-Catalog";
  http().post("/v2/" + bad + "/blobs/uploads/?digest=" + sha256Digest("x"), "x");
  // Look for the lowercase form too: a server must not silently normalise names.
  std::string target = "/v2/_catalog";
  for (int i = 0; i < 10000; ++i) {
    Response c = http().get(target);
    ASSERT_EQ(c.status, 200) << c;
    EXPECT_EQ(c.body.find(bad), std::string::npos) << c;
    EXPECT_EQ(c.body.find(runPrefix() + "/bad-catalog"), std::string::npos) << c;
    auto link = c.header("Link");
    if (!link) break;
    auto l = parseLink(*link);
    ASSERT_TRUE(l);
    target = stripOrigin(l->url);
  }
}

}  // namespace
}  // namespace berth_test
