// Blob upload sessions: POST (monolithic / session / mount), PATCH (chunked / streamed),
// PUT (finalise), GET (status), DELETE (cancel), unknown and malformed upload ids.
#include "harness.hpp"

namespace berth_test {
namespace {

class UploadsTest : public RegistryTest {
 protected:
  static std::string uploadsPrefix(const std::string& name) {
    return "/v2/" + name + "/blobs/uploads/";
  }

  // Checks Location (= /v2/<name>/blobs/uploads/<uuid>), Docker-Upload-UUID (= <uuid>) and Range.
  static ::testing::AssertionResult IsSessionResponse(const Response& r, long status,
                                                      const std::string& name,
                                                      const std::string& range) {
    if (r.status != status)
      return ::testing::AssertionFailure() << "expected status " << status << "\n" << r;
    auto loc = r.header("Location");
    if (!loc) return ::testing::AssertionFailure() << "no Location\n" << r;
    std::string path = pathOnly(*loc);
    const std::string prefix = uploadsPrefix(name);
    if (path.rfind(prefix, 0) != 0)
      return ::testing::AssertionFailure() << "Location path does not start with " << prefix << "\n"
                                           << r;
    std::string uuid = path.substr(prefix.size());
    if (uuid.empty() || uuid.find('/') != std::string::npos)
      return ::testing::AssertionFailure() << "Location has no single-segment upload id\n" << r;
    auto hdrUuid = r.header("Docker-Upload-UUID");
    if (!hdrUuid || *hdrUuid != uuid)
      return ::testing::AssertionFailure()
             << "Docker-Upload-UUID '" << r.headerOr("Docker-Upload-UUID")
             << "' does not match the Location id '" << uuid << "'\n"
             << r;
    if (r.headerOr("Range") != range)
      return ::testing::AssertionFailure()
             << "Range is '" << r.headerOr("Range") << "', expected '" << range << "'\n"
             << r;
    return ::testing::AssertionSuccess();
  }

  static std::string uuidOf(const std::string& location, const std::string& name) {
    return pathOnly(location).substr(uploadsPrefix(name).size());
  }

  Response patchChunk(const std::string& location, std::string_view chunk, std::size_t offset) {
    std::string range = std::to_string(offset) + "-" + std::to_string(offset + chunk.size() - 1);
    return http().patch(location, chunk,
                        {{"Content-Type", "application/octet-stream"}, {"Content-Range", range}});
  }
  Response patchStream(const std::string& location, std::string_view chunk) {
    return http().patch(location, chunk, {{"Content-Type", "application/octet-stream"}});
  }
  Response putFinal(const std::string& location, const std::string& digest,
                    std::string_view body = {}) {
    return http().put(appendQuery(location, "digest=" + digest), body,
                      {{"Content-Type", "application/octet-stream"}});
  }
  void expectBlob(const std::string& name, const std::string& data) {
    Response r = http().get("/v2/" + name + "/blobs/" + sha256Digest(data));
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.body.size(), data.size());
    EXPECT_TRUE(r.body == data) << "blob content differs";
    EXPECT_EQ(r.headerOr("Docker-Content-Digest"), sha256Digest(data)) << r;
  }
  static ::testing::AssertionResult IsBlobCreated(const Response& r, const std::string& name,
                                                  const std::string& digest) {
    if (r.status != 201) return ::testing::AssertionFailure() << "expected 201\n" << r;
    auto loc = HasLocationPath(r, "/v2/" + name + "/blobs/" + digest);
    if (!loc) return loc;
    if (r.headerOr("Docker-Content-Digest") != digest)
      return ::testing::AssertionFailure() << "Docker-Content-Digest != " << digest << "\n" << r;
    return ::testing::AssertionSuccess();
  }
};

// ---------------------------------------------------------------- POST

TEST_F(UploadsTest, PostStartsSession) {
  const std::string name = repo("uploads/post");
  Response r = http().post(uploadsPrefix(name));
  EXPECT_TRUE(IsSessionResponse(r, 202, name, "0-0"));
  EXPECT_EQ(r.headerOr("Content-Length"), "0") << r;
  EXPECT_TRUE(r.body.empty());
}

TEST_F(UploadsTest, PostStartsDistinctSessions) {
  const std::string name = repo("uploads/post-distinct");
  Response a = http().post(uploadsPrefix(name));
  Response b = http().post(uploadsPrefix(name));
  ASSERT_EQ(a.status, 202) << a;
  ASSERT_EQ(b.status, 202) << b;
  EXPECT_NE(a.headerOr("Docker-Upload-UUID"), b.headerOr("Docker-Upload-UUID"));
}

TEST_F(UploadsTest, MonolithicPostWithDigest) {
  const std::string name = repo("uploads/monolithic");
  const std::string data = randomBytes(5000);
  const std::string d = sha256Digest(data);
  Response r = http().post(uploadsPrefix(name) + "?digest=" + d, data,
                           {{"Content-Type", "application/octet-stream"}});
  EXPECT_TRUE(IsBlobCreated(r, name, d));
  expectBlob(name, data);
}

TEST_F(UploadsTest, MonolithicPostWithWrongDigestReturns400) {
  const std::string name = repo("uploads/monolithic-wrong");
  const std::string data = randomBytes(100);
  const std::string wrong = randomDigest();
  Response r = http().post(uploadsPrefix(name) + "?digest=" + wrong, data,
                           {{"Content-Type", "application/octet-stream"}});
  EXPECT_REGISTRY_ERROR(r, 400, "DIGEST_INVALID");
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + wrong).status, 404);
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + sha256Digest(data)).status, 404);
}

TEST_F(UploadsTest, MonolithicPostWithMalformedDigestReturns400) {
  const std::string name = repo("uploads/monolithic-malformed");
  Response r = http().post(uploadsPrefix(name) + "?digest=sha256:nothex", "abc",
                           {{"Content-Type", "application/octet-stream"}});
  EXPECT_REGISTRY_ERROR(r, 400, "DIGEST_INVALID");
}

// ---------------------------------------------------------------- PUT

TEST_F(UploadsTest, PostThenPutWithWholeBody) {
  const std::string name = repo("uploads/post-put");
  const std::string data = randomBytes(10000);
  const std::string d = sha256Digest(data);
  std::string loc = startUpload(name);
  Response r = putFinal(loc, d, data);
  EXPECT_TRUE(IsBlobCreated(r, name, d));
  expectBlob(name, data);
}

TEST_F(UploadsTest, PutWithWrongDigestReturns400DigestInvalid) {
  const std::string name = repo("uploads/put-wrong");
  const std::string data = randomBytes(100);
  const std::string wrong = randomDigest();
  std::string loc = startUpload(name);
  Response r = putFinal(loc, wrong, data);
  EXPECT_REGISTRY_ERROR(r, 400, "DIGEST_INVALID");
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + wrong).status, 404);
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + sha256Digest(data)).status, 404);
}

TEST_F(UploadsTest, PutAfterChunksWithWrongDigestReturns400DigestInvalid) {
  const std::string name = repo("uploads/put-wrong-chunks");
  const std::string data = randomBytes(100);
  std::string loc = startUpload(name);
  Response p = patchChunk(loc, data, 0);
  ASSERT_EQ(p.status, 202) << p;
  Response r = putFinal(*p.header("Location"), sha256Digest(data + "x"));
  EXPECT_REGISTRY_ERROR(r, 400, "DIGEST_INVALID");
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + sha256Digest(data)).status, 404);
}

TEST_F(UploadsTest, PutWithoutDigestReturns400DigestInvalid) {
  const std::string name = repo("uploads/put-nodigest");
  std::string loc = startUpload(name);
  Response r = http().put(loc, "some data", {{"Content-Type", "application/octet-stream"}});
  EXPECT_REGISTRY_ERROR(r, 400, "DIGEST_INVALID");
}

TEST_F(UploadsTest, PutWithMalformedDigestReturns400DigestInvalid) {
  const std::string name = repo("uploads/put-malformed");
  std::string loc = startUpload(name);
  Response r = putFinal(loc, "sha256:0123", "x");
  EXPECT_REGISTRY_ERROR(r, 400, "DIGEST_INVALID");
}

TEST_F(UploadsTest, CompletedUploadSessionIsGone) {
  const std::string name = repo("uploads/completed");
  const std::string data = randomBytes(10);
  std::string loc = startUpload(name);
  ASSERT_EQ(putFinal(loc, sha256Digest(data), data).status, 201);
  EXPECT_REGISTRY_ERROR(http().get(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(patchStream(loc, "more"), 404, "BLOB_UPLOAD_UNKNOWN");
}

// ---------------------------------------------------------------- PATCH

TEST_F(UploadsTest, ChunkedPatchThreeTimesThenPutWithoutBody) {
  const std::string name = repo("uploads/chunked");
  const std::string data = randomBytes(3000 + 2000 + 1234);
  const std::string d = sha256Digest(data);
  std::string loc = startUpload(name);
  const std::string uuid = uuidOf(loc, name);

  std::size_t off = 0;
  for (std::size_t len : {3000u, 2000u, 1234u}) {
    SCOPED_TRACE("chunk at " + std::to_string(off));
    Response r = patchChunk(loc, std::string_view(data).substr(off, len), off);
    off += len;
    ASSERT_TRUE(IsSessionResponse(r, 202, name, "0-" + std::to_string(off - 1)));
    EXPECT_EQ(r.headerOr("Docker-Upload-UUID"), uuid) << r;
    loc = *r.header("Location");
  }
  Response put = putFinal(loc, d);
  EXPECT_TRUE(IsBlobCreated(put, name, d));
  expectBlob(name, data);
}

TEST_F(UploadsTest, ChunkedPatchThenPutWithFinalChunk) {
  const std::string name = repo("uploads/chunked-final");
  const std::string data = randomBytes(300);
  const std::string d = sha256Digest(data);
  std::string loc = startUpload(name);
  Response p1 = patchChunk(loc, std::string_view(data).substr(0, 100), 0);
  ASSERT_TRUE(IsSessionResponse(p1, 202, name, "0-99"));
  Response p2 = patchChunk(*p1.header("Location"), std::string_view(data).substr(100, 100), 100);
  ASSERT_TRUE(IsSessionResponse(p2, 202, name, "0-199"));
  Response put = putFinal(*p2.header("Location"), d, std::string_view(data).substr(200));
  EXPECT_TRUE(IsBlobCreated(put, name, d));
  expectBlob(name, data);
}

TEST_F(UploadsTest, StreamedPatchWithoutContentRange) {
  const std::string name = repo("uploads/streamed");
  const std::string data = randomBytes(70000);
  const std::string d = sha256Digest(data);
  std::string loc = startUpload(name);

  Response p1 = patchStream(loc, std::string_view(data).substr(0, 50000));
  ASSERT_TRUE(IsSessionResponse(p1, 202, name, "0-49999"));
  Response p2 = patchStream(*p1.header("Location"), std::string_view(data).substr(50000));
  ASSERT_TRUE(IsSessionResponse(p2, 202, name, "0-69999"));
  Response put = putFinal(*p2.header("Location"), d);
  EXPECT_TRUE(IsBlobCreated(put, name, d));
  expectBlob(name, data);
}

TEST_F(UploadsTest, OutOfOrderChunkReturns416AndKeepsOffset) {
  const std::string name = repo("uploads/out-of-order");
  const std::string data = randomBytes(30);
  std::string loc = startUpload(name);

  Response p1 = patchChunk(loc, std::string_view(data).substr(0, 10), 0);
  ASSERT_TRUE(IsSessionResponse(p1, 202, name, "0-9"));
  loc = *p1.header("Location");

  // Gap: starts at 20 while the upload has 10 bytes.
  Response gap = patchChunk(loc, std::string_view(data).substr(20, 10), 20);
  EXPECT_REGISTRY_ERROR(gap, 416, "BLOB_UPLOAD_INVALID");
  Response st1 = http().get(loc);
  EXPECT_TRUE(IsSessionResponse(st1, 204, name, "0-9"));

  // Overlap: starts at 5.
  Response overlap = patchChunk(loc, std::string_view(data).substr(5, 10), 5);
  EXPECT_REGISTRY_ERROR(overlap, 416, "BLOB_UPLOAD_INVALID");
  Response st2 = http().get(loc);
  EXPECT_TRUE(IsSessionResponse(st2, 204, name, "0-9"));

  // The session is still usable with the right offset.
  Response p2 = patchChunk(loc, std::string_view(data).substr(10, 20), 10);
  ASSERT_TRUE(IsSessionResponse(p2, 202, name, "0-29"));
  Response put = putFinal(*p2.header("Location"), sha256Digest(data));
  EXPECT_TRUE(IsBlobCreated(put, name, sha256Digest(data)));
  expectBlob(name, data);
}

TEST_F(UploadsTest, FirstChunkNotAtZeroReturns416) {
  const std::string name = repo("uploads/first-not-zero");
  const std::string data = randomBytes(20);
  std::string loc = startUpload(name);
  Response bad = patchChunk(loc, std::string_view(data).substr(0, 10), 1);
  EXPECT_REGISTRY_ERROR(bad, 416, "BLOB_UPLOAD_INVALID");
  Response ok = patchChunk(loc, data, 0);
  EXPECT_TRUE(IsSessionResponse(ok, 202, name, "0-19"));
}

TEST_F(UploadsTest, ConcurrentSessionsAreIndependent) {
  const std::string name = repo("uploads/concurrent");
  const std::string a = randomBytes(40);
  const std::string b = randomBytes(60);
  std::string la = startUpload(name);
  std::string lb = startUpload(name);
  Response a1 = patchChunk(la, std::string_view(a).substr(0, 20), 0);
  ASSERT_TRUE(IsSessionResponse(a1, 202, name, "0-19"));
  Response b1 = patchChunk(lb, std::string_view(b).substr(0, 30), 0);
  ASSERT_TRUE(IsSessionResponse(b1, 202, name, "0-29"));
  Response a2 = patchChunk(*a1.header("Location"), std::string_view(a).substr(20), 20);
  ASSERT_TRUE(IsSessionResponse(a2, 202, name, "0-39"));
  Response b2 = patchChunk(*b1.header("Location"), std::string_view(b).substr(30), 30);
  ASSERT_TRUE(IsSessionResponse(b2, 202, name, "0-59"));
  EXPECT_TRUE(
      IsBlobCreated(putFinal(*b2.header("Location"), sha256Digest(b)), name, sha256Digest(b)));
  EXPECT_TRUE(
      IsBlobCreated(putFinal(*a2.header("Location"), sha256Digest(a)), name, sha256Digest(a)));
  expectBlob(name, a);
  expectBlob(name, b);
}

// ---------------------------------------------------------------- GET status / DELETE cancel

TEST_F(UploadsTest, UploadStatusGet) {
  const std::string name = repo("uploads/status");
  const std::string data = randomBytes(25);
  std::string loc = startUpload(name);
  const std::string uuid = uuidOf(loc, name);

  Response p1 = patchChunk(loc, std::string_view(data).substr(0, 10), 0);
  ASSERT_EQ(p1.status, 202) << p1;
  loc = *p1.header("Location");
  Response s1 = http().get(loc);
  EXPECT_TRUE(IsSessionResponse(s1, 204, name, "0-9"));
  EXPECT_EQ(s1.headerOr("Docker-Upload-UUID"), uuid);
  EXPECT_TRUE(s1.body.empty());

  Response p2 = patchChunk(loc, std::string_view(data).substr(10), 10);
  ASSERT_EQ(p2.status, 202) << p2;
  Response s2 = http().get(*p2.header("Location"));
  EXPECT_TRUE(IsSessionResponse(s2, 204, name, "0-24"));
}

TEST_F(UploadsTest, DeleteCancelsUpload) {
  const std::string name = repo("uploads/cancel");
  const std::string data = randomBytes(10);
  std::string loc = startUpload(name);
  Response p = patchChunk(loc, data, 0);
  ASSERT_EQ(p.status, 202) << p;
  loc = *p.header("Location");

  Response del = http().del(loc);
  EXPECT_EQ(del.status, 204) << del;
  EXPECT_REGISTRY_ERROR(http().get(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(patchChunk(loc, "more", 10), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(putFinal(loc, sha256Digest(data)), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(http().del(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + sha256Digest(data)).status, 404);
}

// ---------------------------------------------------------------- unknown / malformed ids

TEST_F(UploadsTest, UnknownUploadUuidReturns404) {
  const std::string name = repo("uploads/unknown-uuid");
  startUpload(name);  // the repository has (other) sessions
  const std::string loc = uploadsPrefix(name) + randomHex(8) + "-" + randomHex(4) + "-4" +
                          randomHex(3) + "-a" + randomHex(3) + "-" + randomHex(12);
  EXPECT_REGISTRY_ERROR(http().get(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(patchStream(loc, "data"), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(patchChunk(loc, "data", 0), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(putFinal(loc, sha256Digest("data"), "data"), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(http().del(loc), 404, "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(UploadsTest, MalformedUploadUuidReturns404) {
  const std::string name = repo("uploads/malformed-uuid");
  startUpload(name);
  for (const std::string& id :
       std::vector<std::string>{"..%2F..%2Fetc", "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E",
                                "not-a-uuid", "abc%00def", std::string(300, 'a')}) {
    SCOPED_TRACE(id);
    const std::string loc = uploadsPrefix(name) + id;
    EXPECT_REGISTRY_ERROR(http().get(loc), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_REGISTRY_ERROR(patchStream(loc, "data"), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_REGISTRY_ERROR(putFinal(loc, sha256Digest("data"), "data"), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_REGISTRY_ERROR(http().del(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  }
}

TEST_F(UploadsTest, PathTraversalInUploadIdIsRejected) {
  // Sent verbatim (CURLOPT_PATH_AS_IS). Whether the router sees an unknown
  // upload or an unknown route, the answer must be a 404 that touches nothing.
  const std::string name = repo("uploads/traversal");
  startUpload(name);
  for (const std::string& id :
       std::vector<std::string>{"../../etc", "../../../../../../etc/passwd", ".."}) {
    SCOPED_TRACE(id);
    const std::string loc = uploadsPrefix(name) + id;
    const std::vector<std::string> codes = {"BLOB_UPLOAD_UNKNOWN", "UNSUPPORTED"};
    EXPECT_TRUE(IsError(http().get(loc), 404, codes));
    EXPECT_TRUE(IsError(patchStream(loc, "data"), 404, codes));
    EXPECT_TRUE(IsError(putFinal(loc, sha256Digest("data"), "data"), 404, codes));
    EXPECT_TRUE(IsError(http().del(loc), 404, codes));
  }
}

TEST_F(UploadsTest, UploadSessionIsBoundToItsRepository) {
  const std::string a = repo("uploads/bound-a");
  const std::string b = repo("uploads/bound-b");
  startUpload(b);
  std::string loc = startUpload(a);
  const std::string uuid = uuidOf(loc, a);
  // Same id (and same query, if any) under another repository.
  std::string other = uploadsPrefix(b) + uuid;
  if (auto q = loc.find('?'); q != std::string::npos) other += loc.substr(q);
  EXPECT_REGISTRY_ERROR(http().get(other), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_REGISTRY_ERROR(patchStream(other, "data"), 404, "BLOB_UPLOAD_UNKNOWN");
  // The original session is unaffected.
  EXPECT_EQ(http().get(loc).status, 204);
}

// ---------------------------------------------------------------- mount

TEST_F(UploadsTest, MountFromRepositoryWithBlob) {
  const std::string src = repo("uploads/mount-src");
  const std::string dst = repo("uploads/mount-dst");
  const std::string data = randomBytes(2048);
  const std::string d = pushBlob(src, data);
  pushBlob(dst,
           randomBytes(4));  // dst exists already (mount into a new repo is tested in names_test)

  ASSERT_EQ(http().head("/v2/" + dst + "/blobs/" + d).status, 404);
  Response r = http().post(uploadsPrefix(dst) + "?mount=" + d + "&from=" + src);
  EXPECT_TRUE(IsBlobCreated(r, dst, d));
  expectBlob(dst, data);
  expectBlob(src, data);
}

TEST_F(UploadsTest, MountIntoNewRepository) {
  const std::string src = repo("uploads/mount-src2");
  const std::string dst = repo("uploads/mount-new-dst");
  const std::string data = randomBytes(99);
  const std::string d = pushBlob(src, data);
  Response r = http().post(uploadsPrefix(dst) + "?mount=" + d + "&from=" + src);
  EXPECT_TRUE(IsBlobCreated(r, dst, d));
  expectBlob(dst, data);
}

TEST_F(UploadsTest, MountedBlobSurvivesDeleteInSource) {
  const std::string src = repo("uploads/mount-src3");
  const std::string dst = repo("uploads/mount-dst3");
  const std::string data = randomBytes(99);
  const std::string d = pushBlob(src, data);
  ASSERT_EQ(http().post(uploadsPrefix(dst) + "?mount=" + d + "&from=" + src).status, 201);
  ASSERT_EQ(http().del("/v2/" + src + "/blobs/" + d).status, 202);
  expectBlob(dst, data);
}

TEST_F(UploadsTest, MountFromRepositoryWithoutBlobStartsSession) {
  const std::string src = repo("uploads/mount-nosrc");
  const std::string dst = repo("uploads/mount-nodst");
  pushBlob(src, randomBytes(16));  // src exists but lacks the blob
  const std::string data = randomBytes(500);
  const std::string d = sha256Digest(data);

  Response r = http().post(uploadsPrefix(dst) + "?mount=" + d + "&from=" + src);
  ASSERT_TRUE(IsSessionResponse(r, 202, dst, "0-0"));
  EXPECT_EQ(http().head("/v2/" + dst + "/blobs/" + d).status, 404);
  // The session works like a plain POST session.
  Response put = putFinal(*r.header("Location"), d, data);
  EXPECT_TRUE(IsBlobCreated(put, dst, d));
  expectBlob(dst, data);
}

TEST_F(UploadsTest, MountFromUnknownRepositoryStartsSession) {
  const std::string dst = repo("uploads/mount-unknown-dst");
  const std::string d = pushBlob(repo("uploads/mount-holder"), randomBytes(64));
  Response r =
      http().post(uploadsPrefix(dst) + "?mount=" + d + "&from=" + repo("uploads/never-existed"));
  EXPECT_TRUE(IsSessionResponse(r, 202, dst, "0-0"));
  EXPECT_EQ(http().head("/v2/" + dst + "/blobs/" + d).status, 404);
}

// ---------------------------------------------------------------- large

TEST_F(UploadsTest, Upload64MiBIn8MiBChunks) {
  const std::string name = repo("uploads/large");
  constexpr std::size_t kChunk = 8u << 20;
  constexpr std::size_t kTotal = 64u << 20;
  const std::string data = randomBytes(kTotal);
  const std::string d = sha256Digest(data);

  std::string loc = startUpload(name);
  for (std::size_t off = 0; off < kTotal; off += kChunk) {
    Response r = patchChunk(loc, std::string_view(data).substr(off, kChunk), off);
    ASSERT_TRUE(IsSessionResponse(r, 202, name, "0-" + std::to_string(off + kChunk - 1)));
    loc = *r.header("Location");
  }
  Response put = putFinal(loc, d);
  ASSERT_TRUE(IsBlobCreated(put, name, d));

  Response head = http().head("/v2/" + name + "/blobs/" + d);
  ASSERT_EQ(head.status, 200) << head;
  EXPECT_EQ(head.headerOr("Content-Length"), std::to_string(kTotal));
  EXPECT_EQ(head.headerOr("Docker-Content-Digest"), d);

  Response get = http().get("/v2/" + name + "/blobs/" + d);
  ASSERT_EQ(get.status, 200) << get.status;
  ASSERT_EQ(get.body.size(), kTotal);
  EXPECT_EQ(sha256Digest(get.body), d);

  Response tail = http().get("/v2/" + name + "/blobs/" + d, {{"Range", "bytes=-16"}});
  ASSERT_EQ(tail.status, 206) << tail;
  EXPECT_EQ(tail.headerOr("Content-Range"), "bytes " + std::to_string(kTotal - 16) + "-" +
                                                std::to_string(kTotal - 1) + "/" +
                                                std::to_string(kTotal));
  EXPECT_TRUE(tail.body == data.substr(kTotal - 16));
}

}  // namespace
}  // namespace berth_test
