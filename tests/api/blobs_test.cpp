// GET / HEAD / DELETE /v2/<name>/blobs/<digest>, Range requests, repository isolation.
#include <cctype>

#include "harness.hpp"

namespace berth_test {
namespace {

class BlobsTest : public RegistryTest {
 protected:
  std::string blobPath(const std::string& name, const std::string& digest) {
    return "/v2/" + name + "/blobs/" + digest;
  }
};

TEST_F(BlobsTest, GetReturnsContentAndHeaders) {
  const std::string name = repo("blobs/get");
  const std::string data = randomBytes(4097);
  const std::string d = pushBlob(name, data);

  Response r = http().get(blobPath(name, d));
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.body.size(), data.size());
  EXPECT_TRUE(r.body == data) << "blob content differs";
  EXPECT_EQ(r.headerOr("Content-Length"), std::to_string(data.size())) << r;
  EXPECT_TRUE(HasContentType(r, "application/octet-stream"));
  EXPECT_EQ(r.headerOr("Docker-Content-Digest"), d) << r;
  EXPECT_EQ(r.headerOr("Accept-Ranges"), "bytes") << r;
}

TEST_F(BlobsTest, HeadReturnsHeadersWithoutBody) {
  const std::string name = repo("blobs/head");
  const std::string data = randomBytes(1234);
  const std::string d = pushBlob(name, data);

  Response r = http().head(blobPath(name, d));
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.headerOr("Content-Length"), "1234") << r;
  EXPECT_TRUE(HasContentType(r, "application/octet-stream"));
  EXPECT_EQ(r.headerOr("Docker-Content-Digest"), d) << r;
  EXPECT_EQ(r.headerOr("Accept-Ranges"), "bytes") << r;
}

TEST_F(BlobsTest, EmptyBlobRoundTrips) {
  const std::string name = repo("blobs/empty");
  const std::string d = pushBlob(name, "");
  EXPECT_EQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Response r = http().get(blobPath(name, d));
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.headerOr("Content-Length"), "0") << r;
  EXPECT_EQ(r.headerOr("Docker-Content-Digest"), d) << r;
}

TEST_F(BlobsTest, UnknownBlobReturns404BlobUnknown) {
  const std::string name = repo("blobs/unknown");
  pushBlob(name, randomBytes(8));  // the repository exists
  const std::string d = randomDigest();
  EXPECT_REGISTRY_ERROR(http().get(blobPath(name, d)), 404, "BLOB_UNKNOWN");
  Response h = http().head(blobPath(name, d));
  EXPECT_EQ(h.status, 404) << h;
  EXPECT_TRUE(h.body.empty());
}

TEST_F(BlobsTest, BlobInUnknownRepositoryReturns404BlobUnknown) {
  const std::string d = pushBlob(repo("blobs/exists-elsewhere"), randomBytes(8));
  EXPECT_REGISTRY_ERROR(http().get(blobPath(repo("blobs/never-created"), d)), 404, "BLOB_UNKNOWN");
}

TEST_F(BlobsTest, BlobIsNotReadableFromAnotherRepository) {
  const std::string a = repo("blobs/iso-a");
  const std::string b = repo("blobs/iso-b");
  const std::string data = randomBytes(300);
  const std::string d = pushBlob(a, data);
  pushBlob(b, randomBytes(30));  // b exists, but has a different blob

  EXPECT_EQ(http().get(blobPath(a, d)).status, 200);
  EXPECT_REGISTRY_ERROR(http().get(blobPath(b, d)), 404, "BLOB_UNKNOWN");
  EXPECT_EQ(http().head(blobPath(b, d)).status, 404);
  // Deleting it through b must not be possible either.
  EXPECT_REGISTRY_ERROR(http().del(blobPath(b, d)), 404, "BLOB_UNKNOWN");
  EXPECT_EQ(http().get(blobPath(a, d)).status, 200);
}

TEST_F(BlobsTest, RangeFirstBytes) {
  const std::string name = repo("blobs/range");
  const std::string data = randomBytes(100);
  const std::string d = pushBlob(name, data);

  Response r = http().get(blobPath(name, d), {{"Range", "bytes=0-9"}});
  ASSERT_EQ(r.status, 206) << r;
  EXPECT_EQ(r.headerOr("Content-Range"), "bytes 0-9/100") << r;
  EXPECT_EQ(r.headerOr("Content-Length"), "10") << r;
  EXPECT_TRUE(r.body == data.substr(0, 10));
}

TEST_F(BlobsTest, RangeMiddleBytes) {
  const std::string name = repo("blobs/range-mid");
  const std::string data = randomBytes(100);
  const std::string d = pushBlob(name, data);

  Response r = http().get(blobPath(name, d), {{"Range", "bytes=40-59"}});
  ASSERT_EQ(r.status, 206) << r;
  EXPECT_EQ(r.headerOr("Content-Range"), "bytes 40-59/100") << r;
  EXPECT_EQ(r.headerOr("Content-Length"), "20") << r;
  EXPECT_TRUE(r.body == data.substr(40, 20));
}

TEST_F(BlobsTest, RangeOpenEnded) {
  const std::string name = repo("blobs/range-open");
  const std::string data = randomBytes(100);
  const std::string d = pushBlob(name, data);

  Response r = http().get(blobPath(name, d), {{"Range", "bytes=5-"}});
  ASSERT_EQ(r.status, 206) << r;
  EXPECT_EQ(r.headerOr("Content-Range"), "bytes 5-99/100") << r;
  EXPECT_EQ(r.headerOr("Content-Length"), "95") << r;
  EXPECT_TRUE(r.body == data.substr(5));
}

TEST_F(BlobsTest, RangeSuffix) {
  const std::string name = repo("blobs/range-suffix");
  const std::string data = randomBytes(100);
  const std::string d = pushBlob(name, data);

  Response r = http().get(blobPath(name, d), {{"Range", "bytes=-3"}});
  ASSERT_EQ(r.status, 206) << r;
  EXPECT_EQ(r.headerOr("Content-Range"), "bytes 97-99/100") << r;
  EXPECT_EQ(r.headerOr("Content-Length"), "3") << r;
  EXPECT_TRUE(r.body == data.substr(97));
}

TEST_F(BlobsTest, RangeEndBeyondSizeIsClamped) {
  // RFC 9110 14.1.2: a last-pos beyond the representation is replaced by size-1.
  const std::string name = repo("blobs/range-clamp");
  const std::string data = randomBytes(100);
  const std::string d = pushBlob(name, data);

  Response r = http().get(blobPath(name, d), {{"Range", "bytes=90-1000"}});
  ASSERT_EQ(r.status, 206) << r;
  EXPECT_EQ(r.headerOr("Content-Range"), "bytes 90-99/100") << r;
  EXPECT_TRUE(r.body == data.substr(90));
}

TEST_F(BlobsTest, UnsatisfiableRangeReturns416) {
  const std::string name = repo("blobs/range-416");
  const std::string data = randomBytes(100);
  const std::string d = pushBlob(name, data);

  for (const char* range : {"bytes=100-", "bytes=100-200", "bytes=500-600"}) {
    SCOPED_TRACE(range);
    Response r = http().get(blobPath(name, d), {{"Range", range}});
    EXPECT_EQ(r.status, 416) << r;
    EXPECT_EQ(r.headerOr("Content-Range"), "bytes */100") << r;
  }
}

TEST_F(BlobsTest, DeleteUnlinksBlob) {
  const std::string name = repo("blobs/delete");
  const std::string d = pushBlob(name, randomBytes(77));

  Response del = http().del(blobPath(name, d));
  EXPECT_EQ(del.status, 202) << del;
  EXPECT_REGISTRY_ERROR(http().get(blobPath(name, d)), 404, "BLOB_UNKNOWN");
  EXPECT_EQ(http().head(blobPath(name, d)).status, 404);
  EXPECT_REGISTRY_ERROR(http().del(blobPath(name, d)), 404, "BLOB_UNKNOWN");
}

TEST_F(BlobsTest, DeleteInOneRepositoryKeepsBlobInAnother) {
  const std::string a = repo("blobs/del-a");
  const std::string b = repo("blobs/del-b");
  const std::string data = randomBytes(500);
  const std::string d = pushBlob(a, data);
  ASSERT_EQ(pushBlob(b, data), d);

  EXPECT_EQ(http().del(blobPath(a, d)).status, 202);
  EXPECT_REGISTRY_ERROR(http().get(blobPath(a, d)), 404, "BLOB_UNKNOWN");
  Response r = http().get(blobPath(b, d));
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(r.body == data);
}

TEST_F(BlobsTest, BlobCanBePushedAgainAfterDelete) {
  const std::string name = repo("blobs/repush");
  const std::string data = randomBytes(64);
  const std::string d = pushBlob(name, data);
  ASSERT_EQ(http().del(blobPath(name, d)).status, 202);
  ASSERT_EQ(pushBlob(name, data), d);
  Response r = http().get(blobPath(name, d));
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(r.body == data);
}

TEST_F(BlobsTest, DeleteUnknownBlobReturns404) {
  const std::string name = repo("blobs/delete-unknown");
  pushBlob(name, randomBytes(8));
  EXPECT_REGISTRY_ERROR(http().del(blobPath(name, randomDigest())), 404, "BLOB_UNKNOWN");
}

TEST_F(BlobsTest, InvalidDigestReturns400DigestInvalid) {
  const std::string name = repo("blobs/bad-digest");
  pushBlob(name, randomBytes(8));
  const std::string hex = randomHex(64);
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == hex) upper[0] = 'A';
  for (const std::string& bad : {"sha256:" + hex.substr(0, 63),        // too short
                                 "sha256:" + hex + "0",                // too long
                                 "sha256:" + upper,                    // uppercase hex
                                 "sha256:" + hex.substr(0, 63) + "g",  // not hex
                                 "sha512:" + hex,                      // wrong length for sha512
                                 std::string("sha256:")}) {
    SCOPED_TRACE(bad);
    EXPECT_REGISTRY_ERROR(http().get(blobPath(name, bad)), 400, "DIGEST_INVALID");
    EXPECT_EQ(http().head(blobPath(name, bad)).status, 400);
    EXPECT_REGISTRY_ERROR(http().del(blobPath(name, bad)), 400, "DIGEST_INVALID");
  }
}

TEST_F(BlobsTest, Sha512DigestIsValidGrammar) {
  // sha512:<128 hex> parses: an unknown one is "unknown", not "invalid".
  const std::string name = repo("blobs/sha512");
  pushBlob(name, randomBytes(8));
  EXPECT_REGISTRY_ERROR(http().get(blobPath(name, "sha512:" + randomHex(128))), 404,
                        "BLOB_UNKNOWN");
}

}  // namespace
}  // namespace berth_test
