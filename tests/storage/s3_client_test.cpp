// The S3 client against s3rver: objects, ranges, multipart uploads, copies, listings,
// presigned URLs, and the errors of a wrong key or a missing bucket.
#include "storage/object/s3_client.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "../support/scripted_server.hpp"
#include "emulators.hpp"
#include "storage/object/xml.hpp"

namespace berth::storage::object {
namespace {

using berth_test::Emulator;

Emulator& s3rver() {
  static Emulator emulator(Emulator::Kind::S3);
  return emulator;
}

StoreUrl urlOf(const std::string& bucket, const std::string& prefix = "") {
  auto url = parseStoreUrl("s3://" + bucket + (prefix.empty() ? "" : "/" + prefix) +
                           "?endpoint=" + s3rver().endpoint() + "&path_style=true");
  EXPECT_TRUE(url) << url.error().detail;
  return *url;
}

S3Client client(const std::string& secret = Emulator::kS3SecretKey,
                const std::string& bucket = Emulator::kS3Bucket) {
  HttpOptions options;
  options.backoff = std::chrono::milliseconds(10);
  return S3Client(urlOf(bucket), {Emulator::kS3AccessKey, secret, ""}, options);
}

// A temporary file holding `data`, for parts.
struct TempFile {
  int fd;
  explicit TempFile(const std::string& data) {
    char name[] = "/tmp/berth-part-XXXXXX";
    fd = ::mkstemp(name);
    ::unlink(name);
    EXPECT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  ~TempFile() { ::close(fd); }
};

std::string fetch(S3Client& s3, const std::string& key, uint64_t first, uint64_t length) {
  std::string out;
  auto r = s3.get(key, first, length, [&](const char* d, size_t n) {
    out.append(d, n);
    return true;
  });
  EXPECT_TRUE(r) << r.error().detail;
  return out;
}

TEST(S3Client, ObjectsRangesAndDeletes) {
  auto s3 = client();
  ASSERT_TRUE(s3.probe());
  ASSERT_TRUE(s3.put("t1/a b+c", "hello world"));
  EXPECT_EQ(**s3.head("t1/a b+c"), 11u);
  EXPECT_EQ(**s3.getSmall("t1/a b+c", 100), "hello world");
  EXPECT_EQ(fetch(s3, "t1/a b+c", 6, 5), "world");
  EXPECT_EQ(fetch(s3, "t1/a b+c", 0, ObjectApi::kToEnd), "hello world");  // no Range header
  EXPECT_EQ(fetch(s3, "t1/a b+c", 6, ObjectApi::kToEnd), "world");
  EXPECT_FALSE(*s3.head("t1/none"));
  EXPECT_FALSE(*s3.getSmall("t1/none", 100));
  EXPECT_FALSE(s3.getSmall("t1/a b+c", 4));  // larger than the caller allows
  ASSERT_TRUE(s3.remove("t1/a b+c"));
  EXPECT_FALSE(*s3.head("t1/a b+c"));
  EXPECT_TRUE(s3.remove("t1/a b+c"));  // again: nothing to delete is fine
}

TEST(S3Client, MultipartUploadsAndCopies) {
  auto s3 = client();
  const std::string part1(5 << 20, 'a'), part2 = "tail";
  TempFile f1(part1), f2(part2);
  auto id = s3.beginParts("t2/staged");
  ASSERT_TRUE(id) << id.error().detail;
  auto e1 = s3.sendPart("t2/staged", *id, 1, f1.fd, 0, part1.size());
  ASSERT_TRUE(e1) << e1.error().detail;
  auto e2 = s3.sendPart("t2/staged", *id, 2, f2.fd, 0, part2.size());
  ASSERT_TRUE(e2) << e2.error().detail;
  auto done = s3.completeParts("t2/staged", *id, {{1, *e1}, {2, *e2}});
  ASSERT_TRUE(done) << done.error().detail;
  EXPECT_EQ(**s3.head("t2/staged"), part1.size() + part2.size());
  ASSERT_TRUE(s3.copy("t2/staged", "t2/final", part1.size() + part2.size()));
  EXPECT_EQ(fetch(s3, "t2/final", part1.size() - 2, 6), "aatail");
  // An aborted upload leaves nothing.
  auto gone = s3.beginParts("t2/aborted");
  ASSERT_TRUE(gone);
  ASSERT_TRUE(s3.abortParts("t2/aborted", *gone));
  EXPECT_FALSE(*s3.head("t2/aborted"));
}

TEST(S3Client, ListingsPageThroughEverything) {
  auto s3 = client();
  std::set<std::string> keys;
  for (int i = 0; i < 25; ++i) {
    const std::string key = "t3/k" + std::to_string(i);
    ASSERT_TRUE(s3.put(key, std::to_string(i)));
    keys.insert(key);
  }
  std::set<std::string> seen;
  ASSERT_TRUE(s3.list(
      "t3/",
      [&](const ObjectInfo& o) {
        seen.insert(o.key);
        EXPECT_GT(o.modified, 0);
        EXPECT_GE(o.size, 1u);
        return true;
      },
      10));  // three pages
  EXPECT_EQ(seen, keys);
  int visits = 0;
  ASSERT_TRUE(s3.list("t3/", [&](const ObjectInfo&) { return ++visits < 3; }));
  EXPECT_EQ(visits, 3);
}

// s3rver checks the access key but not the SigV4 signature itself, so a wrong secret cannot be
// caught here: the signatures are checked against AWS's own examples (tests/unit/sigv4_test).
TEST(S3Client, UnknownKeysAndMissingBucketsAreNamed) {
  HttpOptions options;
  options.backoff = std::chrono::milliseconds(10);
  S3Client unknown(urlOf(Emulator::kS3Bucket), {"NOT-A-KEY", "secret", ""}, options);
  auto probe = unknown.probe();
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().detail.find("HTTP 403 InvalidAccessKeyId"), std::string::npos)
      << probe.error().detail;
  EXPECT_NE(probe.error().detail.find("AWS_ACCESS_KEY_ID"), std::string::npos);
  auto missing = client(Emulator::kS3SecretKey, "no-such-bucket");
  auto none = missing.probe();
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().detail.find("NoSuchBucket"), std::string::npos) << none.error().detail;
}

// The URL addresses the object; its signature is checked against AWS's example in sigv4_test.
TEST(S3Client, PresignedUrlsNeedNoCredentials) {
  auto s3 = client();
  ASSERT_TRUE(s3.put("t4/shared", "presigned bytes"));
  const auto url = s3.readUrl("t4/shared", 300);
  HttpClient http;
  HttpRequest request;
  request.url = url;
  auto r = http.perform(request);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "presigned bytes");
  EXPECT_NE(url.find("X-Amz-Signature="), std::string::npos);
  EXPECT_NE(url.find("X-Amz-Expires=300"), std::string::npos);
}

TEST(S3Client, AStoreThatIsGoneIsAnErrorAfterRetries) {
  HttpOptions options;
  options.backoff = std::chrono::milliseconds(5);
  options.connectTimeout = std::chrono::seconds(2);
  auto url = *parseStoreUrl("s3://berth-test?endpoint=http://127.0.0.1:9&path_style=true");
  S3Client s3(url, {"k", "s", ""}, options);
  auto r = s3.put("x", "y");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 503);
  EXPECT_NE(r.error().detail.find("storage unreachable"), std::string::npos) << r.error().detail;
}

// A store that answers each request with the next of `statuses` (then 200), counting them.
class ScriptedStore : public berth_test::ScriptedServer {
 public:
  explicit ScriptedStore(std::vector<int> statuses)
      : ScriptedServer([statuses = std::move(statuses)](const berth_test::SeenRequest& r) {
          const int status = r.index < statuses.size() ? statuses[r.index] : 200;
          return berth_test::ScriptedReply{
              status, {}, status == 200 ? "" : "<Error><Code>SlowDown</Code></Error>"};
        }) {}
};

S3Client scriptedClient(const ScriptedStore& store) {
  HttpOptions options;
  options.backoff = std::chrono::milliseconds(1);
  auto url = parseStoreUrl("s3://berth-test?endpoint=" + store.endpoint() + "&path_style=true");
  return S3Client(*url, {"k", "s", ""}, options);
}

TEST(S3Client, ThrottlingAndServerErrorsAreRetriedClientErrorsAreNot) {
  {
    ScriptedStore store({503, 500, 429});
    auto s3 = scriptedClient(store);
    auto r = s3.put("x", "y");
    EXPECT_TRUE(r) << r.error().detail;
    EXPECT_EQ(store.requests(), 4);
  }
  {
    ScriptedStore store({503, 503, 503, 503, 503});
    auto s3 = scriptedClient(store);
    auto r = s3.put("x", "y");
    ASSERT_FALSE(r);
    EXPECT_EQ(store.requests(), 4);  // the attempts allowed, then the store's answer
    EXPECT_NE(r.error().detail.find("HTTP 503 SlowDown"), std::string::npos) << r.error().detail;
  }
  {
    ScriptedStore store({403});
    auto s3 = scriptedClient(store);
    EXPECT_FALSE(s3.put("x", "y"));
    EXPECT_EQ(store.requests(), 1);
  }
}

TEST(Xml, FlatDocumentsAndEscaping) {
  auto doc = XmlDoc::parse(
      "<?xml version=\"1.0\"?><R><A>1</A><Item><K>x</K><P><S>2</S></P></Item><Item><K>y</K>"
      "</Item></R>");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->rootName(), "R");
  EXPECT_EQ(*doc->find("A"), "1");
  EXPECT_FALSE(doc->find("Z"));
  auto items = doc->each("Item");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["K"], "x");
  EXPECT_EQ(items[0]["S"], "2");
  EXPECT_EQ(items[1]["K"], "y");
  EXPECT_FALSE(XmlDoc::parse("<unclosed>"));
  EXPECT_FALSE(XmlDoc::parse(""));
  // No entity from outside the document is ever fetched or expanded.
  auto xxe = XmlDoc::parse(
      "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><r>&e;</r>");
  if (xxe) {
    EXPECT_EQ(xxe->find("r").value_or(""), "");
  }
  EXPECT_EQ(xmlEscape("\"a\"&<b>'"), "&quot;a&quot;&amp;&lt;b&gt;&apos;");
}

}  // namespace
}  // namespace berth::storage::object
