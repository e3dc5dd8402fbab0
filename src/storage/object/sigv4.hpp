#pragma once
// AWS Signature Version 4 (HMAC-SHA256), for S3 and S3-compatible stores: signed headers
// (`Authorization`) and presigned URLs (query parameters). Written by hand because no AWS SDK
// for C++ is packaged here; checked against the examples AWS publishes.
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::storage::sigv4 {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string accessKey;
  std::string secretKey;
  std::string sessionToken;  // temporary credentials; empty when none
};

// The credential scope: <date>/<region>/<service>/aws4_request.
struct Scope {
  std::string region;
  std::string service = "s3";
};

// The SHA-256 of an empty payload, and the marker for a payload not covered by the signature.
inline constexpr std::string_view kEmptyPayload =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else becomes
// %XX (upper-case hex); '/' stays when `keepSlash` (object keys in paths).
std::string uriEncode(std::string_view text, bool keepSlash);

// "20130524T000000Z" for a time in seconds since the epoch.
std::string amzDate(std::time_t when);

// A request to sign. `path` is the absolute path as sent (already encoded: uriEncode(key,
// true)); `query` holds raw names and values (encoded here); `headers` holds every header to
// sign, `host` and `x-amz-date` among them, names in any case.
struct Request {
  std::string_view method;
  std::string_view path;
  Pairs query;
  Pairs headers;
  std::string_view payloadHash;  // hex SHA-256 of the body, or kUnsignedPayload
};

struct Signature {
  std::string canonicalRequest;
  std::string stringToSign;
  std::string signedHeaders;  // "host;range;x-amz-date"
  std::string signature;      // hex
  std::string authorization;  // the Authorization header's value
};

// Signs `request` for `scope` at `amzDateTime` (the value of its x-amz-date header).
Signature sign(const Request& request, const Credentials& credentials, const Scope& scope,
               std::string_view amzDateTime);

// What an S3 request needs added: host, x-amz-date, x-amz-content-sha256, the session token
// when there is one, then Authorization. `headers` are the request's own headers to sign
// (Range, Content-Type, ...).
Pairs signS3Headers(std::string_view method, std::string_view host, std::string_view path,
                    const Pairs& query, Pairs headers, std::string_view payloadHash,
                    const Credentials& credentials, const Scope& scope, std::time_t when);

// The query string (without '?') of a presigned URL for `method` on `path` at `host`, valid
// for `expiresSeconds` (at most 7 days) from `when`. `query` are the request's own parameters.
std::string presignQuery(std::string_view method, std::string_view host, std::string_view path,
                         const Pairs& query, const Credentials& credentials, const Scope& scope,
                         std::time_t when, int64_t expiresSeconds);

}  // namespace berth::storage::sigv4
