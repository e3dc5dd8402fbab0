#include "registry/manifest_parse.hpp"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

std::string descriptor(std::string_view mediaType, const std::string& digest) {
  return R"({"mediaType":")" + std::string(mediaType) + R"(","digest":")" + digest +
         R"(","size":10})";
}

std::string image(std::string_view mediaType, const std::string& extra = "") {
  return R"({"schemaVersion":2,"mediaType":")" + std::string(mediaType) + R"(","config":)" +
         descriptor("application/vnd.oci.image.config.v1+json", kA) + R"(,"layers":[)" +
         descriptor("application/vnd.oci.image.layer.v1.tar+gzip", kB) + "]" + extra + "}";
}

TEST(ManifestParse, OciImageManifest) {
  auto m = parseManifest(media::kOciManifest, image(media::kOciManifest));
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->mediaType, media::kOciManifest);
  ASSERT_EQ(m->blobs.size(), 2u);
  EXPECT_EQ(m->blobs[0].digest, kA);
  EXPECT_EQ(m->artifactType, "application/vnd.oci.image.config.v1+json");
  EXPECT_TRUE(m->subject.empty());
}

TEST(ManifestParse, ArtifactWithSubjectAndAnnotations) {
  auto body = image(media::kOciManifest,
                    R"(,"artifactType":"application/vnd.example.sbom","subject":)" +
                        descriptor(media::kOciManifest, kA) + R"(,"annotations":{"k":"v"})");
  auto m = parseManifest(media::kOciManifest, body);
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->artifactType, "application/vnd.example.sbom");
  EXPECT_EQ(m->subject, kA);
  EXPECT_EQ(m->annotations, R"({"k":"v"})");
}

TEST(ManifestParse, MediaTypeMustMatchContentType) {
  auto m = parseManifest(media::kDockerManifest, image(media::kOciManifest));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ApiCode::ManifestInvalid);
}

TEST(ManifestParse, MediaTypeFromBodyWhenContentTypeIsGeneric) {
  auto m = parseManifest("application/json", image(media::kDockerManifest));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mediaType, media::kDockerManifest);
  auto withParams = parseManifest(std::string(media::kOciManifest) + "; charset=utf-8",
                                  image(media::kOciManifest));
  EXPECT_TRUE(withParams);
}

TEST(ManifestParse, ForeignLayersAreExternal) {
  auto body = R"({"schemaVersion":2,"mediaType":")" + std::string(media::kDockerManifest) +
              R"(","config":)" + descriptor("application/vnd.docker.container.image.v1+json", kA) +
              R"(,"layers":[)" + descriptor(media::kDockerForeignLayer, kB) + "," +
              descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", kB) + "]}";
  auto m = parseManifest(media::kDockerManifest, body);
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_FALSE(m->blobs[0].external);
  EXPECT_TRUE(m->blobs[1].external);
  EXPECT_TRUE(m->blobs[2].external);
}

TEST(ManifestParse, Index) {
  auto body = R"({"schemaVersion":2,"mediaType":")" + std::string(media::kOciIndex) +
              R"(","manifests":[)" + descriptor(media::kOciManifest, kA) + "]}";
  auto m = parseManifest(media::kOciIndex, body);
  ASSERT_TRUE(m) << m.error().detail;
  ASSERT_EQ(m->manifests.size(), 1u);
  EXPECT_TRUE(m->blobs.empty());
}

TEST(ManifestParse, RejectsMalformed) {
  const std::string bad[] = {
      "",
      "[]",
      "{not json",
      R"({"schemaVersion":1,"config":{},"layers":[]})",
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})",
      image(media::kOciManifest)
          .replace(image(media::kOciManifest).find("\"size\":10"), 9, "\"size\":-1"),
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]})",
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":{}})",
  };
  for (const auto& body : bad) {
    auto m = parseManifest("", body);
    EXPECT_FALSE(m) << body;
    if (!m) {
      EXPECT_EQ(m.error().code, ApiCode::ManifestInvalid);
    }
  }
  EXPECT_FALSE(parseManifest("application/vnd.docker.distribution.manifest.v1+prettyjws",
                             image(media::kOciManifest)));
}

}  // namespace
}  // namespace berth::registry
