// AWS Signature Version 4 against the examples AWS publishes: the S3 API reference's
// "Signature Calculations for the Authorization Header" (GET object with Range, PUT object,
// GET bucket lifecycle, GET bucket list), its presigned URL example, and the general
// reference's IAM ListUsers example.
#include "storage/object/sigv4.hpp"

#include <gtest/gtest.h>

#include "core/digest.hpp"

namespace berth::storage::sigv4 {
namespace {

const Credentials kS3Example{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             ""};
const Scope kUsEast1{"us-east-1", "s3"};
constexpr std::time_t k20130524 = 1369353600;  // 2013-05-24T00:00:00Z
constexpr std::string_view kHost = "examplebucket.s3.amazonaws.com";

std::string header(const Pairs& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

TEST(SigV4, S3GetObjectWithRange) {
  const auto added = signS3Headers("GET", kHost, "/test.txt", {}, {{"Range", "bytes=0-9"}},
                                   kEmptyPayload, kS3Example, kUsEast1, k20130524);
  EXPECT_EQ(header(added, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(header(added, "x-amz-content-sha256"), kEmptyPayload);
  EXPECT_EQ(header(added, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_TRUE(header(added, "x-amz-security-token").empty());
}

TEST(SigV4, S3PutObjectWithAnEncodedKey) {
  const std::string payload = "Welcome to Amazon S3.";
  const std::string hash = sha256Digest(payload).substr(7);
  EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(uriEncode("test$file.text", true), "test%24file.text");
  const auto added = signS3Headers(
      "PUT", kHost, "/" + uriEncode("test$file.text", true), {},
      {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
      hash, kS3Example, kUsEast1, k20130524);
  EXPECT_EQ(header(added, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-storage-class,"
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3GetBucketLifecycle) {
  const auto added = signS3Headers("GET", kHost, "/", {{"lifecycle", ""}}, {}, kEmptyPayload,
                                   kS3Example, kUsEast1, k20130524);
  EXPECT_NE(header(added, "Authorization")
                .find("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
            std::string::npos)
      << header(added, "Authorization");
}

TEST(SigV4, S3ListObjectsSortsTheQuery) {
  const auto added = signS3Headers("GET", kHost, "/", {{"prefix", "J"}, {"max-keys", "2"}}, {},
                                   kEmptyPayload, kS3Example, kUsEast1, k20130524);
  EXPECT_NE(header(added, "Authorization")
                .find("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            std::string::npos)
      << header(added, "Authorization");
}

TEST(SigV4, S3PresignedGet) {
  const auto query =
      presignQuery("GET", kHost, "/test.txt", {}, kS3Example, kUsEast1, k20130524, 86400);
  EXPECT_NE(query.find("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
                       "aws4_request"),
            std::string::npos)
      << query;
  EXPECT_NE(query.find("X-Amz-Expires=86400"), std::string::npos);
  EXPECT_NE(query.find("X-Amz-SignedHeaders=host"), std::string::npos);
  EXPECT_NE(query.find(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
            std::string::npos)
      << query;
}

TEST(SigV4, IamListUsersWithTheCanonicalPieces) {
  const Credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  const auto s = sign(Request{"GET",
                              "/",
                              {{"Action", "ListUsers"}, {"Version", "2010-05-08"}},
                              {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                               {"Host", "iam.amazonaws.com"},
                               {"X-Amz-Date", "20150830T123600Z"}},
                              kEmptyPayload},
                      credentials, Scope{"us-east-1", "iam"}, "20150830T123600Z");
  EXPECT_EQ(s.canonicalRequest,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
            "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
            "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n" +
                std::string(kEmptyPayload));
  EXPECT_EQ(s.stringToSign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(s.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4, HeadersAreTrimmedFoldedAndJoined) {
  const auto s = sign(
      Request{"GET", "/", {}, {{"X-A", "  a   b "}, {"x-a", "c"}, {"host", "h"}}, kEmptyPayload},
      kS3Example, kUsEast1, "20130524T000000Z");
  EXPECT_NE(s.canonicalRequest.find("\nhost:h\nx-a:a b,c\n\nhost;x-a\n"), std::string::npos)
      << s.canonicalRequest;
}

TEST(SigV4, SessionTokensAreSigned) {
  Credentials temporary = kS3Example;
  temporary.sessionToken = "token/with+chars=";
  const auto added = signS3Headers("GET", kHost, "/test.txt", {}, {}, kEmptyPayload, temporary,
                                   kUsEast1, k20130524);
  EXPECT_EQ(header(added, "x-amz-security-token"), "token/with+chars=");
  EXPECT_NE(header(added, "Authorization").find("x-amz-security-token"), std::string::npos);
  const auto query =
      presignQuery("GET", kHost, "/test.txt", {}, temporary, kUsEast1, k20130524, 60);
  EXPECT_NE(query.find("X-Amz-Security-Token=token%2Fwith%2Bchars%3D"), std::string::npos);
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(uriEncode("a b/c~d_e.f-g", false), "a%20b%2Fc~d_e.f-g");
  EXPECT_EQ(uriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(uriEncode("\xc3\xa9", false), "%C3%A9");
}

}  // namespace
}  // namespace berth::storage::sigv4
