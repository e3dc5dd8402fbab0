// GET /v2/<name>/referrers/<digest>[?artifactType=] and the OCI-Subject header on manifest PUT.
#include <algorithm>
#include <map>

#include "harness.hpp"

namespace berth_test {
namespace {

constexpr const char* kSbom = "application/vnd.example.sbom.v1";
constexpr const char* kSig = "application/vnd.example.signature.v1";

class ReferrersTest : public RegistryTest {
 protected:
  struct Pushed {
    Descriptor desc;  // mediaType/digest/size of the pushed manifest
    std::string artifactType;
    std::vector<std::pair<std::string, std::string>> annotations;
  };

  // Pushes an artifact manifest (empty config) whose subject is `subject`; checks OCI-Subject.
  Pushed pushArtifact(const std::string& name, const Descriptor& subject,
                      const std::string& artifactType,
                      std::vector<std::pair<std::string, std::string>> annotations = {}) {
    pushBlob(name, kEmptyJson);
    Descriptor layer =
        pushBlobAs(name, artifactType + "+json", "{\"payload\":\"" + randomHex(12) + "\"}");
    const std::string body = makeImageManifest(
        emptyConfigDescriptor(), {layer},
        {.artifactType = artifactType, .subject = subject, .annotations = annotations});
    Response r = putManifest(name, sha256Digest(body), mt::kOciManifest, body);
    EXPECT_EQ(r.status, 201) << r;
    EXPECT_EQ(r.headerOr("OCI-Subject"), subject.digest) << r;
    if (r.status != 201) throw HelperFailure("artifact push failed");
    return {describe(mt::kOciManifest, body), artifactType, std::move(annotations)};
  }

  struct Listing {
    Response resp;
    std::vector<json::Value> manifests;
  };

  Listing referrers(const std::string& name, const std::string& digest,
                    const std::string& query = "") {
    Listing l{http().get("/v2/" + name + "/referrers/" + digest + query), {}};
    EXPECT_EQ(l.resp.status, 200) << l.resp;
    if (l.resp.status != 200) throw HelperFailure("referrers request failed");
    EXPECT_TRUE(HasContentType(l.resp, mt::kOciIndex));
    auto doc = json::parse(l.resp.body);
    if (!doc || !doc->isObject()) {
      ADD_FAILURE() << "referrers body is not a JSON object\n" << l.resp;
      throw HelperFailure("bad referrers body");
    }
    const json::Value* sv = doc->find("schemaVersion");
    EXPECT_TRUE(sv && sv->isNumber() && sv->asNumber() == 2) << "schemaVersion must be 2\n"
                                                             << l.resp;
    if (auto m = doc->getString("mediaType")) {
      EXPECT_EQ(*m, mt::kOciIndex) << l.resp;
    }
    const json::Value* ms = doc->find("manifests");
    if (ms == nullptr || !ms->isArray()) {
      ADD_FAILURE() << "referrers index has no 'manifests' array\n" << l.resp;
      throw HelperFailure("bad referrers body");
    }
    l.manifests = ms->asArray();
    return l;
  }

  // The listing holds exactly `expected` (any order), each with full descriptor fields.
  static void expectDescriptors(const Listing& l, const std::vector<Pushed>& expected) {
    ASSERT_EQ(l.manifests.size(), expected.size()) << l.resp;
    for (const auto& e : expected) {
      SCOPED_TRACE(e.desc.digest);
      auto it = std::find_if(l.manifests.begin(), l.manifests.end(), [&](const json::Value& v) {
        return v.getString("digest") == e.desc.digest;
      });
      ASSERT_NE(it, l.manifests.end()) << "descriptor missing\n" << l.resp;
      EXPECT_EQ(it->getString("mediaType").value_or("<missing>"), e.desc.mediaType);
      const json::Value* size = it->find("size");
      EXPECT_TRUE(size && size->isNumber() && size->numberText() == std::to_string(e.desc.size))
          << "size must be " << e.desc.size << "\n"
          << l.resp;
      EXPECT_EQ(it->getString("artifactType").value_or("<missing>"), e.artifactType);
      if (!e.annotations.empty()) {
        const json::Value* ann = it->find("annotations");
        ASSERT_TRUE(ann && ann->isObject()) << "annotations missing\n" << l.resp;
        for (const auto& [k, v] : e.annotations)
          EXPECT_EQ(ann->getString(k).value_or("<missing>"), v) << k;
      }
    }
  }
};

TEST_F(ReferrersTest, PutWithSubjectReturnsOciSubjectHeader) {
  const std::string name = repo("referrers/header");
  Descriptor subject = pushRandomImage(name, "base");
  pushArtifact(name, subject, kSbom);  // asserts OCI-Subject
}

TEST_F(ReferrersTest, PutWithoutSubjectHasNoOciSubjectHeader) {
  const std::string name = repo("referrers/no-header");
  std::string cfg = R"({"os":"linux"})";
  Descriptor c = pushBlobAs(name, mt::kOciConfig, cfg);
  const std::string body = makeImageManifest(c, {});
  Response r = putManifest(name, "plain", mt::kOciManifest, body);
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_FALSE(r.hasHeader("OCI-Subject")) << r;
}

TEST_F(ReferrersTest, ListsAllReferrersWithDescriptors) {
  const std::string name = repo("referrers/list");
  Descriptor subject = pushRandomImage(name, "base");
  Descriptor unrelated = pushRandomImage(name, "other");
  Pushed a = pushArtifact(name, subject, kSbom, {{"org.example.kind", "sbom"}, {"n", "1"}});
  Pushed b = pushArtifact(name, subject, kSig,
                          {{"org.opencontainers.image.created", "2024-01-01T00:00:00Z"}});
  Pushed c = pushArtifact(name, unrelated, kSbom);

  Listing l = referrers(name, subject.digest);
  expectDescriptors(l, {a, b});
  EXPECT_FALSE(l.resp.hasHeader("OCI-Filters-Applied")) << l.resp;

  Listing lu = referrers(name, unrelated.digest);
  expectDescriptors(lu, {c});
}

TEST_F(ReferrersTest, FilterByArtifactType) {
  const std::string name = repo("referrers/filter");
  Descriptor subject = pushRandomImage(name, "base");
  Pushed sbom1 = pushArtifact(name, subject, kSbom);
  Pushed sbom2 = pushArtifact(name, subject, kSbom);
  pushArtifact(name, subject, kSig);

  Listing l = referrers(name, subject.digest, "?artifactType=" + urlEncode(kSbom));
  expectDescriptors(l, {sbom1, sbom2});
  EXPECT_EQ(l.resp.headerOr("OCI-Filters-Applied"), "artifactType") << l.resp;
}

TEST_F(ReferrersTest, FilterWithoutMatchesReturnsEmptyIndex) {
  const std::string name = repo("referrers/filter-none");
  Descriptor subject = pushRandomImage(name, "base");
  pushArtifact(name, subject, kSbom);
  Listing l =
      referrers(name, subject.digest, "?artifactType=" + urlEncode("application/vnd.example.none"));
  EXPECT_TRUE(l.manifests.empty()) << l.resp;
  EXPECT_EQ(l.resp.headerOr("OCI-Filters-Applied"), "artifactType") << l.resp;
}

TEST_F(ReferrersTest, UnknownSubjectReturnsEmptyIndex) {
  const std::string name = repo("referrers/unknown-subject");
  pushRandomImage(name, "base");
  Listing l = referrers(name, randomDigest());
  EXPECT_TRUE(l.manifests.empty()) << l.resp;
}

TEST_F(ReferrersTest, SubjectWithoutReferrersReturnsEmptyIndex) {
  const std::string name = repo("referrers/none");
  Descriptor subject = pushRandomImage(name, "base");
  Listing l = referrers(name, subject.digest);
  EXPECT_TRUE(l.manifests.empty()) << l.resp;
}

TEST_F(ReferrersTest, InvalidDigestReturns400) {
  const std::string name = repo("referrers/bad-digest");
  pushRandomImage(name, "base");
  for (const std::string& d : {std::string("sha256:abc"), std::string("latest"),
                               "sha256:" + randomHex(64) + "0", "SHA256:" + randomHex(64)}) {
    SCOPED_TRACE(d);
    EXPECT_REGISTRY_ERROR(http().get("/v2/" + name + "/referrers/" + d), 400, "DIGEST_INVALID");
  }
}

TEST_F(ReferrersTest, ReferrersAreScopedToRepository) {
  const std::string a = repo("referrers/scope-a");
  const std::string b = repo("referrers/scope-b");
  Descriptor subject = pushRandomImage(a, "base");
  Pushed inA = pushArtifact(a, subject, kSbom);
  // A referrer whose subject does not exist in b is still accepted (OCI 1.1).
  Pushed inB = pushArtifact(b, subject, kSig);

  expectDescriptors(referrers(a, subject.digest), {inA});
  expectDescriptors(referrers(b, subject.digest), {inB});
}

TEST_F(ReferrersTest, DeletedReferrerDisappears) {
  const std::string name = repo("referrers/delete");
  Descriptor subject = pushRandomImage(name, "base");
  Pushed keep = pushArtifact(name, subject, kSbom);
  Pushed drop = pushArtifact(name, subject, kSig);
  ASSERT_EQ(http().del("/v2/" + name + "/manifests/" + drop.desc.digest).status, 202);
  expectDescriptors(referrers(name, subject.digest), {keep});
}

TEST_F(ReferrersTest, IndexWithSubjectIsListed) {
  const std::string name = repo("referrers/index");
  Descriptor subject = pushRandomImage(name, "base");
  Descriptor child = pushRandomImage(name, "");
  const std::string body = makeIndex({child}, {.mediaType = mt::kOciIndex,
                                               .artifactType = kSig,
                                               .subject = subject,
                                               .annotations = {{"i", "x"}}});
  Response r = putManifest(name, "idx", mt::kOciIndex, body);
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_EQ(r.headerOr("OCI-Subject"), subject.digest) << r;

  Pushed expected{describe(mt::kOciIndex, body), kSig, {{"i", "x"}}};
  expectDescriptors(referrers(name, subject.digest), {expected});
}

TEST_F(ReferrersTest, ArtifactTypeFallsBackToConfigMediaType) {
  // OCI distribution-spec 1.1: without artifactType, the descriptor's
  // artifactType is the config's mediaType.
  const std::string name = repo("referrers/config-type");
  Descriptor subject = pushRandomImage(name, "base");
  const std::string cfgType = "application/vnd.example.config.v1+json";
  Descriptor cfg = pushBlobAs(name, cfgType, R"({"hello":"world"})");
  const std::string body = makeImageManifest(cfg, {}, {.subject = subject});
  Response r = putManifest(name, sha256Digest(body), mt::kOciManifest, body);
  ASSERT_EQ(r.status, 201) << r;
  Pushed expected{describe(mt::kOciManifest, body), cfgType, {}};
  expectDescriptors(referrers(name, subject.digest), {expected});
  // And the filter applies to that derived type.
  expectDescriptors(referrers(name, subject.digest, "?artifactType=" + urlEncode(cfgType)),
                    {expected});
}

}  // namespace
}  // namespace berth_test
