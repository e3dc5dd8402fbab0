// PUT / GET / HEAD / DELETE /v2/<name>/manifests/<reference>.
#include "harness.hpp"

namespace berth_test {
namespace {

class ManifestsTest : public RegistryTest {
 protected:
  std::string manifestPath(const std::string& name, std::string_view ref) {
    return "/v2/" + name + "/manifests/" + std::string(ref);
  }

  // PUT returned 201 with Location /v2/<name>/manifests/<digest> and Docker-Content-Digest.
  static ::testing::AssertionResult IsManifestCreated(const Response& r, const std::string& name,
                                                      const std::string& body) {
    const std::string d = sha256Digest(body);
    if (r.status != 201) return ::testing::AssertionFailure() << "expected 201\n" << r;
    auto loc = HasLocationPath(r, "/v2/" + name + "/manifests/" + d);
    if (!loc) return loc;
    if (r.headerOr("Docker-Content-Digest") != d)
      return ::testing::AssertionFailure() << "Docker-Content-Digest != " << d << "\n" << r;
    return ::testing::AssertionSuccess();
  }

  // GET and HEAD by `ref` return exactly what was pushed.
  void expectManifest(const std::string& name, std::string_view ref, std::string_view mediaType,
                      const std::string& body) {
    SCOPED_TRACE(name + ":" + std::string(ref));
    const std::string d = sha256Digest(body);
    Response g = getManifest(name, ref);
    ASSERT_EQ(g.status, 200) << g;
    EXPECT_TRUE(HasContentType(g, mediaType));
    EXPECT_EQ(g.headerOr("Content-Type"), mediaType)
        << "Content-Type should be exactly the pushed media type";
    EXPECT_EQ(g.headerOr("Docker-Content-Digest"), d) << g;
    EXPECT_EQ(g.headerOr("Content-Length"), std::to_string(body.size())) << g;
    EXPECT_EQ(g.body, body) << "manifest body is not byte-identical";

    Response h = headManifest(name, ref);
    ASSERT_EQ(h.status, 200) << h;
    EXPECT_TRUE(h.body.empty());
    EXPECT_EQ(h.headerOr("Content-Type"), mediaType) << h;
    EXPECT_EQ(h.headerOr("Docker-Content-Digest"), d) << h;
    EXPECT_EQ(h.headerOr("Content-Length"), std::to_string(body.size())) << h;
  }

  // Pushes config + one layer blob and returns an OCI (or docker) image manifest body.
  std::string imageManifestWithBlobs(const std::string& name, bool docker = false) {
    std::string cfg =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":\"" + randomHex(8) + "\"}";
    Descriptor c = pushBlobAs(name, docker ? mt::kDockerConfig : mt::kOciConfig, cfg);
    Descriptor l =
        pushBlobAs(name, docker ? mt::kDockerLayer : mt::kOciLayerGzip, randomBytes(200));
    return makeImageManifest(c, {l},
                             {.mediaType = docker ? mt::kDockerManifest : mt::kOciManifest});
  }

  // Pads an OCI manifest (via an annotation) to exactly `size` bytes.
  std::string manifestOfSize(const Descriptor& config, std::size_t size) {
    std::string base = makeImageManifest(config, {}, {.annotations = {{"pad", ""}}});
    EXPECT_LT(base.size(), size);
    return makeImageManifest(config, {},
                             {.annotations = {{"pad", std::string(size - base.size(), 'p')}}});
  }
};

// ---------------------------------------------------------------- the four media types + artifacts

TEST_F(ManifestsTest, OciImageManifestByTagAndDigest) {
  const std::string name = repo("manifests/oci");
  const std::string body = imageManifestWithBlobs(name);
  Response r = putManifest(name, "v1", mt::kOciManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, "v1", mt::kOciManifest, body);
  expectManifest(name, sha256Digest(body), mt::kOciManifest, body);
}

TEST_F(ManifestsTest, DockerV2ManifestByTagAndDigest) {
  const std::string name = repo("manifests/docker");
  const std::string body = imageManifestWithBlobs(name, /*docker=*/true);
  Response r = putManifest(name, "latest", mt::kDockerManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, "latest", mt::kDockerManifest, body);
  expectManifest(name, sha256Digest(body), mt::kDockerManifest, body);
}

TEST_F(ManifestsTest, OciIndexByTagAndDigest) {
  const std::string name = repo("manifests/oci-index");
  const std::string m1 = imageManifestWithBlobs(name);
  const std::string m2 = imageManifestWithBlobs(name);
  pushManifest(name, sha256Digest(m1), mt::kOciManifest, m1);
  pushManifest(name, sha256Digest(m2), mt::kOciManifest, m2);
  Descriptor d1 = describe(mt::kOciManifest, m1);
  d1.platformJson = R"({"architecture":"amd64","os":"linux"})";
  Descriptor d2 = describe(mt::kOciManifest, m2);
  d2.platformJson = R"({"architecture":"arm64","os":"linux","variant":"v8"})";
  const std::string index = makeIndex({d1, d2});

  Response r = putManifest(name, "multi", mt::kOciIndex, index);
  ASSERT_TRUE(IsManifestCreated(r, name, index));
  expectManifest(name, "multi", mt::kOciIndex, index);
  expectManifest(name, sha256Digest(index), mt::kOciIndex, index);
  // Children are still individually available.
  expectManifest(name, sha256Digest(m1), mt::kOciManifest, m1);
}

TEST_F(ManifestsTest, DockerManifestListByTagAndDigest) {
  const std::string name = repo("manifests/docker-list");
  const std::string m1 = imageManifestWithBlobs(name, true);
  const std::string m2 = imageManifestWithBlobs(name, true);
  pushManifest(name, sha256Digest(m1), mt::kDockerManifest, m1);
  pushManifest(name, sha256Digest(m2), mt::kDockerManifest, m2);
  Descriptor d1 = describe(mt::kDockerManifest, m1);
  d1.platformJson = R"({"architecture":"amd64","os":"linux"})";
  Descriptor d2 = describe(mt::kDockerManifest, m2);
  d2.platformJson = R"({"architecture":"arm","os":"linux","variant":"v7"})";
  const std::string list = makeIndex({d1, d2}, {.mediaType = mt::kDockerManifestList});

  Response r = putManifest(name, "multi", mt::kDockerManifestList, list);
  ASSERT_TRUE(IsManifestCreated(r, name, list));
  expectManifest(name, "multi", mt::kDockerManifestList, list);
  expectManifest(name, sha256Digest(list), mt::kDockerManifestList, list);
}

TEST_F(ManifestsTest, ArtifactWithArtifactTypeAndEmptyConfig) {
  const std::string name = repo("manifests/artifact");
  pushBlob(name, kEmptyJson);
  Descriptor layer = pushBlobAs(name, "application/vnd.example.sbom.v1+json", R"({"sbom":true})");
  const std::string body = makeImageManifest(
      emptyConfigDescriptor(), {layer},
      {.artifactType = "application/vnd.example.sbom.v1", .annotations = {{"k", "v"}}});
  Response r = putManifest(name, "sbom", mt::kOciManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, "sbom", mt::kOciManifest, body);
  expectManifest(name, sha256Digest(body), mt::kOciManifest, body);
}

TEST_F(ManifestsTest, ArtifactWithOnlyEmptyDescriptors) {
  // Artifact guidance: config and the single layer are both the empty descriptor.
  const std::string name = repo("manifests/artifact-empty");
  pushBlob(name, kEmptyJson);
  const std::string body =
      makeImageManifest(emptyConfigDescriptor(), {emptyConfigDescriptor()},
                        {.artifactType = "application/vnd.example.signature.v1"});
  Response r = putManifest(name, sha256Digest(body), mt::kOciManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, sha256Digest(body), mt::kOciManifest, body);
}

TEST_F(ManifestsTest, BodyIsStoredByteForByte) {
  // Unusual formatting, key order and a trailing newline: digest is over the raw bytes.
  const std::string name = repo("manifests/raw-bytes");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  Descriptor l = pushBlobAs(name, mt::kOciLayerGzip, randomBytes(10));
  const std::string body =
      "{\n   \"layers\" : [ " + l.json() + " ],\n\t\"config\":" + c.json() +
      ",\n \"mediaType\": \"" + mt::kOciManifest +
      "\",\n  \"schemaVersion\" :2 , \"annotations\":{\"x\":\"\\u00e9\\n\"}\n}\n";
  Response r = putManifest(name, "raw", mt::kOciManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, "raw", mt::kOciManifest, body);
}

TEST_F(ManifestsTest, GetWithoutAcceptHeaderReturnsStoredType) {
  const std::string name = repo("manifests/no-accept");
  const std::string body = imageManifestWithBlobs(name);
  pushManifest(name, "v1", mt::kOciManifest, body);
  Response g = http().get(manifestPath(name, "v1"));
  ASSERT_EQ(g.status, 200) << g;
  EXPECT_EQ(g.headerOr("Content-Type"), mt::kOciManifest);
  EXPECT_EQ(g.body, body);
}

TEST_F(ManifestsTest, PushByDigest) {
  const std::string name = repo("manifests/by-digest");
  const std::string body = imageManifestWithBlobs(name);
  Response r = putManifest(name, sha256Digest(body), mt::kOciManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, sha256Digest(body), mt::kOciManifest, body);
}

TEST_F(ManifestsTest, PushByDigestWithNonMatchingBodyReturns400DigestInvalid) {
  const std::string name = repo("manifests/by-digest-mismatch");
  const std::string body = imageManifestWithBlobs(name);
  const std::string other = randomDigest();
  Response r = putManifest(name, other, mt::kOciManifest, body);
  EXPECT_REGISTRY_ERROR(r, 400, "DIGEST_INVALID");
  EXPECT_EQ(headManifest(name, other).status, 404);
  EXPECT_EQ(headManifest(name, sha256Digest(body)).status, 404);
}

TEST_F(ManifestsTest, PushSameManifestTwiceIsIdempotent) {
  const std::string name = repo("manifests/idempotent");
  const std::string body = imageManifestWithBlobs(name);
  ASSERT_TRUE(IsManifestCreated(putManifest(name, "t", mt::kOciManifest, body), name, body));
  ASSERT_TRUE(IsManifestCreated(putManifest(name, "t", mt::kOciManifest, body), name, body));
  expectManifest(name, "t", mt::kOciManifest, body);
}

// ---------------------------------------------------------------- MANIFEST_INVALID

TEST_F(ManifestsTest, MediaTypeMismatchReturnsManifestInvalid) {
  const std::string name = repo("manifests/mismatch");
  const std::string oci = imageManifestWithBlobs(name);
  const std::string docker = imageManifestWithBlobs(name, true);
  pushManifest(name, sha256Digest(oci), mt::kOciManifest, oci);
  const std::string index = makeIndex({describe(mt::kOciManifest, oci)});

  EXPECT_REGISTRY_ERROR(putManifest(name, "a", mt::kDockerManifest, oci), 400, "MANIFEST_INVALID");
  EXPECT_REGISTRY_ERROR(putManifest(name, "b", mt::kOciManifest, docker), 400, "MANIFEST_INVALID");
  EXPECT_REGISTRY_ERROR(putManifest(name, "c", mt::kOciManifest, index), 400, "MANIFEST_INVALID");
  EXPECT_REGISTRY_ERROR(putManifest(name, "d", mt::kOciIndex, oci), 400, "MANIFEST_INVALID");
  EXPECT_REGISTRY_ERROR(putManifest(name, "e", mt::kDockerManifestList, index), 400,
                        "MANIFEST_INVALID");
  for (const char* tag : {"a", "b", "c", "d", "e"})
    EXPECT_EQ(headManifest(name, tag).status, 404) << tag;
}

TEST_F(ManifestsTest, InvalidJsonReturnsManifestInvalid) {
  const std::string name = repo("manifests/bad-json");
  pushBlob(name, "x");
  for (const std::string& body :
       {std::string("{not json"), std::string(""), std::string("[]"),
        std::string("{\"schemaVersion\":2,\"mediaType\":\"") + mt::kOciManifest + "\"",
        std::string("null"), std::string("\"string\"")}) {
    SCOPED_TRACE(body);
    EXPECT_REGISTRY_ERROR(putManifest(name, "bad", mt::kOciManifest, body), 400,
                          "MANIFEST_INVALID");
  }
  EXPECT_EQ(headManifest(name, "bad").status, 404);
}

TEST_F(ManifestsTest, MissingRequiredFieldsReturnManifestInvalid) {
  const std::string name = repo("manifests/missing-fields");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  Descriptor l = pushBlobAs(name, mt::kOciLayerGzip, randomBytes(10));
  const std::string om = mt::kOciManifest;
  const std::string cases[] = {
      // no config
      "{\"schemaVersion\":2,\"mediaType\":\"" + om + "\",\"layers\":[" + l.json() + "]}",
      // no layers
      "{\"schemaVersion\":2,\"mediaType\":\"" + om + "\",\"config\":" + c.json() + "}",
      // no schemaVersion
      "{\"mediaType\":\"" + om + "\",\"config\":" + c.json() + ",\"layers\":[" + l.json() + "]}",
      // config descriptor without digest
      "{\"schemaVersion\":2,\"mediaType\":\"" + om + "\",\"config\":{\"mediaType\":\"" +
          mt::kOciConfig + "\",\"size\":" + std::to_string(c.size) + "},\"layers\":[" + l.json() +
          "]}",
  };
  for (const auto& body : cases) {
    SCOPED_TRACE(body);
    EXPECT_REGISTRY_ERROR(putManifest(name, "bad", mt::kOciManifest, body), 400,
                          "MANIFEST_INVALID");
  }
  // Index without "manifests".
  EXPECT_REGISTRY_ERROR(
      putManifest(name, "bad", mt::kOciIndex,
                  std::string("{\"schemaVersion\":2,\"mediaType\":\"") + mt::kOciIndex + "\"}"),
      400, "MANIFEST_INVALID");
  EXPECT_EQ(headManifest(name, "bad").status, 404);
}

TEST_F(ManifestsTest, ManifestOver4MiBReturns413) {
  const std::string name = repo("manifests/too-big");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  const std::string body = manifestOfSize(c, (4u << 20) + 1);
  ASSERT_EQ(body.size(), (4u << 20) + 1);
  Response r = putManifest(name, "big", mt::kOciManifest, body);
  EXPECT_REGISTRY_ERROR(r, 413, "MANIFEST_INVALID");
  EXPECT_EQ(headManifest(name, "big").status, 404);
}

TEST_F(ManifestsTest, ManifestOfExactly4MiBIsAccepted) {
  const std::string name = repo("manifests/limit");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  const std::string body = manifestOfSize(c, 4u << 20);
  ASSERT_EQ(body.size(), 4u << 20);
  Response r = putManifest(name, "limit", mt::kOciManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, "limit", mt::kOciManifest, body);
}

// ---------------------------------------------------------------- MANIFEST_BLOB_UNKNOWN

TEST_F(ManifestsTest, MissingLayerReturnsManifestBlobUnknown) {
  const std::string name = repo("manifests/missing-layer");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  Descriptor l = describe(mt::kOciLayerGzip, randomBytes(100));  // never pushed
  const std::string body = makeImageManifest(c, {l});
  EXPECT_REGISTRY_ERROR(putManifest(name, "t", mt::kOciManifest, body), 400,
                        "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(headManifest(name, "t").status, 404);
}

TEST_F(ManifestsTest, MissingConfigReturnsManifestBlobUnknown) {
  const std::string name = repo("manifests/missing-config");
  Descriptor c = describe(mt::kOciConfig, "{\"never\":\"" + randomHex(8) + "\"}");  // never pushed
  Descriptor l = pushBlobAs(name, mt::kOciLayerGzip, randomBytes(100));
  const std::string body = makeImageManifest(c, {l});
  EXPECT_REGISTRY_ERROR(putManifest(name, "t", mt::kOciManifest, body), 400,
                        "MANIFEST_BLOB_UNKNOWN");
}

TEST_F(ManifestsTest, DockerManifestMissingLayerReturnsManifestBlobUnknown) {
  const std::string name = repo("manifests/docker-missing-layer");
  Descriptor c = pushBlobAs(name, mt::kDockerConfig, R"({"os":"linux"})");
  Descriptor l = describe(mt::kDockerLayer, randomBytes(100));
  const std::string body = makeImageManifest(c, {l}, {.mediaType = mt::kDockerManifest});
  EXPECT_REGISTRY_ERROR(putManifest(name, "t", mt::kDockerManifest, body), 400,
                        "MANIFEST_BLOB_UNKNOWN");
}

TEST_F(ManifestsTest, LayerOnlyInAnotherRepositoryReturnsManifestBlobUnknown) {
  const std::string name = repo("manifests/foreign-repo-layer");
  const std::string other = repo("manifests/has-the-layer");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  Descriptor l = pushBlobAs(other, mt::kOciLayerGzip, randomBytes(100));
  const std::string body = makeImageManifest(c, {l});
  EXPECT_REGISTRY_ERROR(putManifest(name, "t", mt::kOciManifest, body), 400,
                        "MANIFEST_BLOB_UNKNOWN");
}

TEST_F(ManifestsTest, DockerForeignLayerAcceptedWithoutBlob) {
  const std::string name = repo("manifests/foreign-docker");
  Descriptor c = pushBlobAs(name, mt::kDockerConfig, R"({"os":"windows"})");
  Descriptor l = pushBlobAs(name, mt::kDockerLayer, randomBytes(50));
  Descriptor foreign = describe(mt::kDockerForeignLayer, randomBytes(1000));  // never pushed
  foreign.urls = {"https://example.com/layers/base.tar.gz"};
  const std::string body = makeImageManifest(c, {foreign, l}, {.mediaType = mt::kDockerManifest});
  Response r = putManifest(name, "win", mt::kDockerManifest, body);
  ASSERT_TRUE(IsManifestCreated(r, name, body));
  expectManifest(name, "win", mt::kDockerManifest, body);
}

TEST_F(ManifestsTest, OciNonDistributableLayersAcceptedWithoutBlob) {
  const std::string name = repo("manifests/foreign-oci");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"windows"})");
  int i = 0;
  for (const char* type : {"application/vnd.oci.image.layer.nondistributable.v1.tar",
                           "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                           "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"}) {
    SCOPED_TRACE(type);
    Descriptor nd = describe(type, randomBytes(1000));  // never pushed
    nd.urls = {"https://example.com/layers/" + std::to_string(i++)};
    const std::string body = makeImageManifest(c, {nd});
    Response r = putManifest(name, "nd" + std::to_string(i), mt::kOciManifest, body);
    ASSERT_TRUE(IsManifestCreated(r, name, body));
    expectManifest(name, "nd" + std::to_string(i), mt::kOciManifest, body);
  }
}

// CVE-2021-41190: a document read as an image by one client and as an index by another.
TEST_F(ManifestsTest, ImageAndIndexFieldsTogetherAreManifestInvalid) {
  const std::string name = repo("manifests/ambiguous");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  Descriptor l = pushBlobAs(name, mt::kOciLayerGzip, randomBytes(10));
  const std::string child = imageManifestWithBlobs(name);
  pushManifest(name, sha256Digest(child), mt::kOciManifest, child);
  const std::string m = describe(mt::kOciManifest, child).json();
  const std::string both =
      "\"config\":" + c.json() + ",\"layers\":[" + l.json() + "],\"manifests\":[" + m + "]}";
  for (const std::string& type : {std::string(mt::kOciManifest), std::string(mt::kOciIndex)}) {
    SCOPED_TRACE(type);
    const std::string body = "{\"schemaVersion\":2,\"mediaType\":\"" + type + "\"," + both;
    EXPECT_REGISTRY_ERROR(putManifest(name, "both", type, body), 400, "MANIFEST_INVALID");
  }
  // An index with a config but no layers is just as ambiguous.
  const std::string indexWithConfig = std::string("{\"schemaVersion\":2,\"mediaType\":\"") +
                                      mt::kOciIndex + "\",\"config\":" + c.json() +
                                      ",\"manifests\":[" + m + "]}";
  EXPECT_REGISTRY_ERROR(putManifest(name, "both", mt::kOciIndex, indexWithConfig), 400,
                        "MANIFEST_INVALID");
  EXPECT_EQ(headManifest(name, "both").status, 404);
}

// A client trusts a descriptor's size when it reads: it must be the stored blob's.
TEST_F(ManifestsTest, DescriptorSizeDifferentFromTheStoredOneIsManifestInvalid) {
  const std::string name = repo("manifests/sizes");
  Descriptor c = pushBlobAs(name, mt::kOciConfig, R"({"os":"linux"})");
  Descriptor l = pushBlobAs(name, mt::kOciLayerGzip, randomBytes(100));
  for (std::size_t wrong : {std::size_t{99}, std::size_t{101}, std::size_t{0}}) {
    SCOPED_TRACE(wrong);
    Descriptor badLayer = l;
    badLayer.size = wrong;
    EXPECT_REGISTRY_ERROR(
        putManifest(name, "bad", mt::kOciManifest, makeImageManifest(c, {badLayer})), 400,
        "MANIFEST_INVALID");
    Descriptor badConfig = c;
    badConfig.size = wrong;
    EXPECT_REGISTRY_ERROR(
        putManifest(name, "bad", mt::kOciManifest, makeImageManifest(badConfig, {l})), 400,
        "MANIFEST_INVALID");
  }
  const std::string child = makeImageManifest(c, {l});
  pushManifest(name, "good", mt::kOciManifest, child);
  Descriptor childDesc = describe(mt::kOciManifest, child);
  childDesc.size += 1;
  EXPECT_REGISTRY_ERROR(putManifest(name, "bad", mt::kOciIndex, makeIndex({childDesc})), 400,
                        "MANIFEST_INVALID");
  EXPECT_EQ(headManifest(name, "bad").status, 404);
}

TEST_F(ManifestsTest, IndexWithUnknownChildReturnsManifestBlobUnknown) {
  const std::string name = repo("manifests/index-unknown-child");
  const std::string m1 = imageManifestWithBlobs(name);
  pushManifest(name, sha256Digest(m1), mt::kOciManifest, m1);
  Descriptor missing =
      describe(mt::kOciManifest, imageManifestWithBlobs(name));  // never pushed as manifest
  const std::string index = makeIndex({describe(mt::kOciManifest, m1), missing});
  EXPECT_REGISTRY_ERROR(putManifest(name, "idx", mt::kOciIndex, index), 400,
                        "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(headManifest(name, "idx").status, 404);
}

TEST_F(ManifestsTest, DockerListWithUnknownChildReturnsManifestBlobUnknown) {
  const std::string name = repo("manifests/list-unknown-child");
  Descriptor missing = describe(mt::kDockerManifest, imageManifestWithBlobs(name, true));
  missing.platformJson = R"({"architecture":"amd64","os":"linux"})";
  const std::string list = makeIndex({missing}, {.mediaType = mt::kDockerManifestList});
  EXPECT_REGISTRY_ERROR(putManifest(name, "list", mt::kDockerManifestList, list), 400,
                        "MANIFEST_BLOB_UNKNOWN");
}

TEST_F(ManifestsTest, IndexChildOnlyInAnotherRepositoryReturnsManifestBlobUnknown) {
  const std::string name = repo("manifests/index-child-iso");
  const std::string other = repo("manifests/index-child-holder");
  const std::string m = imageManifestWithBlobs(other);
  pushManifest(other, sha256Digest(m), mt::kOciManifest, m);
  pushBlob(name, "x");
  const std::string index = makeIndex({describe(mt::kOciManifest, m)});
  EXPECT_REGISTRY_ERROR(putManifest(name, "idx", mt::kOciIndex, index), 400,
                        "MANIFEST_BLOB_UNKNOWN");
}

// ---------------------------------------------------------------- unknown manifests / repositories

TEST_F(ManifestsTest, UnknownTagOrDigestReturns404ManifestUnknown) {
  const std::string name = repo("manifests/unknown");
  pushRandomImage(name, "exists");
  EXPECT_REGISTRY_ERROR(getManifest(name, "nope"), 404, "MANIFEST_UNKNOWN");
  EXPECT_REGISTRY_ERROR(getManifest(name, randomDigest()), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(headManifest(name, "nope").status, 404);
  EXPECT_EQ(headManifest(name, randomDigest()).status, 404);
}

TEST_F(ManifestsTest, UnknownRepositoryReturns404NameUnknown) {
  const std::string name = repo("manifests/no-such-repo");
  // CONTRACT: NAME_UNKNOWN; MANIFEST_UNKNOWN is tolerated (the OCI spec allows either).
  EXPECT_TRUE(IsError(getManifest(name, "latest"), 404,
                      std::vector<std::string>{"NAME_UNKNOWN", "MANIFEST_UNKNOWN"}));
  EXPECT_TRUE(IsError(getManifest(name, randomDigest()), 404,
                      std::vector<std::string>{"NAME_UNKNOWN", "MANIFEST_UNKNOWN"}));
  EXPECT_EQ(headManifest(name, "latest").status, 404);
}

TEST_F(ManifestsTest, BlobIsNotAManifest) {
  const std::string name = repo("manifests/blob-not-manifest");
  pushRandomImage(name, "x");
  const std::string d = pushBlob(name, R"({"schemaVersion":2})");
  EXPECT_REGISTRY_ERROR(getManifest(name, d), 404, "MANIFEST_UNKNOWN");
}

// ---------------------------------------------------------------- tags on manifests

TEST_F(ManifestsTest, TagCanBeMovedToAnotherManifest) {
  const std::string name = repo("manifests/retag");
  const std::string m1 = imageManifestWithBlobs(name);
  const std::string m2 = imageManifestWithBlobs(name);
  pushManifest(name, "latest", mt::kOciManifest, m1);
  pushManifest(name, "latest", mt::kOciManifest, m2);
  expectManifest(name, "latest", mt::kOciManifest, m2);
  expectManifest(name, sha256Digest(m1), mt::kOciManifest, m1);  // the old one stays by digest
}

TEST_F(ManifestsTest, SameManifestUnderSeveralTags) {
  const std::string name = repo("manifests/multi-tag");
  const std::string m = imageManifestWithBlobs(name);
  for (const char* tag : {"1", "1.0", "1.0.0", "latest"})
    pushManifest(name, tag, mt::kOciManifest, m);
  for (const char* tag : {"1", "1.0", "1.0.0", "latest"})
    expectManifest(name, tag, mt::kOciManifest, m);
}

TEST_F(ManifestsTest, TagBoundariesAndAllowedCharacters) {
  const std::string name = repo("manifests/tag-chars");
  const std::string m = imageManifestWithBlobs(name);
  const std::string longest = "A" + std::string(127, 'z');  // 128 chars
  for (const std::string& tag :
       {longest, std::string("_"), std::string("x"), std::string("A.b-C_9"), std::string("0"),
        std::string("v1.2.3-rc.1__x")}) {
    SCOPED_TRACE(tag);
    Response r = putManifest(name, tag, mt::kOciManifest, m);
    EXPECT_TRUE(IsManifestCreated(r, name, m));
    expectManifest(name, tag, mt::kOciManifest, m);
  }
}

TEST_F(ManifestsTest, InvalidTagIsUnknownToReadsAndInvalidToPushes) {
  // The OCI conformance suite reads ".INVALID_MANIFEST_NAME" and wants 404 MANIFEST_UNKNOWN;
  // TAG_INVALID is not among the specification's codes.
  const std::string name = repo("manifests/bad-tag");
  const std::string m = imageManifestWithBlobs(name);
  pushManifest(name, "good", mt::kOciManifest, m);
  const std::string tooLong = "a" + std::string(128, 'b');  // 129 chars
  for (const std::string& tag :
       {tooLong, std::string("-lead"), std::string(".lead"), std::string(".INVALID_MANIFEST_NAME"),
        std::string("bad!"), std::string("a+b"), std::string("%20x")}) {
    SCOPED_TRACE(tag);
    EXPECT_REGISTRY_ERROR(putManifest(name, tag, mt::kOciManifest, m), 400, "MANIFEST_INVALID");
    EXPECT_REGISTRY_ERROR(getManifest(name, tag), 404, "MANIFEST_UNKNOWN");
    EXPECT_EQ(headManifest(name, tag).status, 404);
    EXPECT_REGISTRY_ERROR(http().del(manifestPath(name, tag)), 404, "MANIFEST_UNKNOWN");
  }
}

TEST_F(ManifestsTest, InvalidDigestReferenceReturns400DigestInvalid) {
  const std::string name = repo("manifests/bad-digest");
  const std::string m = imageManifestWithBlobs(name);
  pushManifest(name, "good", mt::kOciManifest, m);
  for (const std::string& ref : {std::string("sha256:abc"), "sha256:" + randomHex(63) + "Z",
                                 "sha256:" + randomHex(65), "sha512:" + randomHex(64)}) {
    SCOPED_TRACE(ref);
    EXPECT_REGISTRY_ERROR(getManifest(name, ref), 400, "DIGEST_INVALID");
    EXPECT_EQ(headManifest(name, ref).status, 400);
    EXPECT_REGISTRY_ERROR(putManifest(name, ref, mt::kOciManifest, m), 400, "DIGEST_INVALID");
    EXPECT_REGISTRY_ERROR(http().del(manifestPath(name, ref)), 400, "DIGEST_INVALID");
  }
}

// ---------------------------------------------------------------- DELETE

TEST_F(ManifestsTest, DeleteByTagKeepsManifest) {
  const std::string name = repo("manifests/delete-tag");
  const std::string m = imageManifestWithBlobs(name);
  pushManifest(name, "keep", mt::kOciManifest, m);
  pushManifest(name, "drop", mt::kOciManifest, m);

  Response del = http().del(manifestPath(name, "drop"));
  EXPECT_EQ(del.status, 202) << del;
  EXPECT_REGISTRY_ERROR(getManifest(name, "drop"), 404, "MANIFEST_UNKNOWN");
  expectManifest(name, sha256Digest(m), mt::kOciManifest, m);
  expectManifest(name, "keep", mt::kOciManifest, m);

  Response tags = http().get("/v2/" + name + "/tags/list");
  ASSERT_EQ(tags.status, 200) << tags;
  auto doc = json::parse(tags.body);
  ASSERT_TRUE(doc) << tags;
  EXPECT_EQ(doc->getStringArray("tags").value_or(std::vector<std::string>{"<missing>"}),
            std::vector<std::string>{"keep"});
}

TEST_F(ManifestsTest, DeleteByDigestRemovesManifestAndItsTags) {
  const std::string name = repo("manifests/delete-digest");
  const std::string m = imageManifestWithBlobs(name);
  const std::string other = imageManifestWithBlobs(name);
  pushManifest(name, "t1", mt::kOciManifest, m);
  pushManifest(name, "t2", mt::kOciManifest, m);
  pushManifest(name, "other", mt::kOciManifest, other);

  Response del = http().del(manifestPath(name, sha256Digest(m)));
  EXPECT_EQ(del.status, 202) << del;
  EXPECT_REGISTRY_ERROR(getManifest(name, sha256Digest(m)), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(headManifest(name, sha256Digest(m)).status, 404);
  EXPECT_REGISTRY_ERROR(getManifest(name, "t1"), 404, "MANIFEST_UNKNOWN");
  EXPECT_REGISTRY_ERROR(getManifest(name, "t2"), 404, "MANIFEST_UNKNOWN");
  expectManifest(name, "other", mt::kOciManifest, other);

  Response tags = http().get("/v2/" + name + "/tags/list");
  ASSERT_EQ(tags.status, 200) << tags;
  auto doc = json::parse(tags.body);
  ASSERT_TRUE(doc) << tags;
  EXPECT_EQ(doc->getStringArray("tags").value_or(std::vector<std::string>{"<missing>"}),
            std::vector<std::string>{"other"});

  EXPECT_REGISTRY_ERROR(http().del(manifestPath(name, sha256Digest(m))), 404, "MANIFEST_UNKNOWN");
}

TEST_F(ManifestsTest, ManifestCanBePushedAgainAfterDelete) {
  const std::string name = repo("manifests/repush");
  const std::string m = imageManifestWithBlobs(name);
  pushManifest(name, "v", mt::kOciManifest, m);
  ASSERT_EQ(http().del(manifestPath(name, sha256Digest(m))).status, 202);
  ASSERT_TRUE(IsManifestCreated(putManifest(name, "v", mt::kOciManifest, m), name, m));
  expectManifest(name, "v", mt::kOciManifest, m);
}

TEST_F(ManifestsTest, DeleteUnknownReturns404ManifestUnknown) {
  const std::string name = repo("manifests/delete-unknown");
  pushRandomImage(name, "exists");
  EXPECT_REGISTRY_ERROR(http().del(manifestPath(name, randomDigest())), 404, "MANIFEST_UNKNOWN");
  EXPECT_REGISTRY_ERROR(http().del(manifestPath(name, "nope")), 404, "MANIFEST_UNKNOWN");
}

}  // namespace
}  // namespace berth_test
