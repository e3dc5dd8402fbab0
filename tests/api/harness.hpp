// Test harness for the berth registry API tests.
//
// - RegistryTest: GoogleTest fixture. One registry per test suite: either the
//   one named by $REGISTRY_URL (used as is) or a fresh `$BERTH_BIN serve`
//   process on a free port with a temporary data directory.
// - HttpClient: small RAII libcurl wrapper (no redirects, no Expect: 100-continue,
//   HEAD via CURLOPT_NOBODY, any method via CURLOPT_CUSTOMREQUEST). Sends default
//   credentials (the fixture's: the enabled admin account, tests/AUTH_CONTRACT.md).
// - Helpers: digests, random data, blob/manifest pushing, manifest builders,
//   error-body assertions.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json.hpp"

namespace berth_test {

// ---------------------------------------------------------------------------
// Media types
// ---------------------------------------------------------------------------
namespace mt {
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr const char* kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}  // namespace mt

// The OCI "empty" blob: "{}" and its well-known digest.
inline constexpr const char* kEmptyJson = "{}";
inline constexpr const char* kEmptyJsonDigest =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  std::string method;
  std::string url;
  long status = 0;
  Headers headers;  // in order received, names as sent by the server
  std::string body;
  std::string transportError;  // non-empty when curl failed

  // First value of a header (case-insensitive name), trimmed.
  std::optional<std::string> header(std::string_view name) const;
  // All values of a header (case-insensitive), in order.
  std::vector<std::string> headerAll(std::string_view name) const;
  bool hasHeader(std::string_view name) const { return header(name).has_value(); }
  // Value or "<absent>" (handy inside EXPECT_EQ messages).
  std::string headerOr(std::string_view name, std::string_view fallback = "<absent>") const;

  // One-paragraph human readable summary for failure messages.
  std::string describe() const;
};

std::ostream& operator<<(std::ostream& os, const Response& r);

class HttpClient {
 public:
  explicit HttpClient(std::string baseUrl);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is either a path relative to the base URL ("/v2/...") or an
  // absolute http(s) URL (e.g. an absolute Location header). A body (even an
  // empty one) is sent with Content-Length; without a body none is sent.
  Response request(std::string_view method, std::string_view target, const Headers& headers = {},
                   std::optional<std::string_view> body = std::nullopt);

  Response get(std::string_view target, const Headers& headers = {}) {
    return request("GET", target, headers);
  }
  Response head(std::string_view target, const Headers& headers = {}) {
    return request("HEAD", target, headers);
  }
  Response del(std::string_view target, const Headers& headers = {}) {
    return request("DELETE", target, headers);
  }
  Response post(std::string_view target, std::string_view body = {}, const Headers& headers = {}) {
    return request("POST", target, headers, body);
  }
  Response put(std::string_view target, std::string_view body = {}, const Headers& headers = {}) {
    return request("PUT", target, headers, body);
  }
  Response patch(std::string_view target, std::string_view body, const Headers& headers = {}) {
    return request("PATCH", target, headers, body);
  }

  const std::string& baseUrl() const { return base_; }
  std::string url(std::string_view target) const;

  // `Authorization` value sent with every request ("" = none). A request whose headers
  // contain `Authorization` sends that instead: {"Authorization", bearerAuthorization(t)},
  // or noAuth() to send no credentials at all.
  void setAuthorization(std::string value) { authorization_ = std::move(value); }
  const std::string& authorization() const { return authorization_; }

  // Headers sent with every request unless the request's own headers name them (e.g. a
  // `Host` header that selects one registry of a server serving many; libcurl sends a custom
  // Host instead of its own).
  void setDefaultHeaders(Headers headers) { defaultHeaders_ = std::move(headers); }
  const Headers& defaultHeaders() const { return defaultHeaders_; }

  // When true (default) every response is checked for
  // `Docker-Distribution-API-Version: registry/2.0` (CONTRACT: every response).
  void setCheckApiVersion(bool on) { checkApiVersion_ = on; }
  // PEM file of the CA that signed an HTTPS server's certificate (default: the one set by
  // RegistryTest::setServerTls, if any).
  void setCaFile(std::string path) { caFile_ = std::move(path); }
  void setTimeoutSeconds(long s) { timeoutSeconds_ = s; }
  // When true (default) a transport-level error (connection reset, truncated
  // body, timeout...) is recorded as a test failure.
  void setReportTransportErrors(bool on) { reportTransportErrors_ = on; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string base_;
  std::string authorization_;
  Headers defaultHeaders_;
  bool checkApiVersion_ = true;
  bool reportTransportErrors_ = true;
  long timeoutSeconds_ = 120;
  std::string caFile_;
};

// Authorization header values, and the per-request header that suppresses the client's
// default credentials (an empty Authorization value is not sent).
std::string basicAuthorization(std::string_view user, std::string_view password);
std::string bearerAuthorization(std::string_view token);
inline std::pair<std::string, std::string> noAuth() { return {"Authorization", ""}; }

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------
std::string base64(std::string_view data);
std::string sha256Hex(std::string_view data);
// "sha256:" + lowercase hex.
std::string sha256Digest(std::string_view data);
std::string randomBytes(std::size_t n);
std::string randomHex(std::size_t nChars);
// A syntactically valid sha256 digest that (with overwhelming probability) exists nowhere.
std::string randomDigest();
std::string stripSpaces(std::string_view s);
// Percent-encodes everything except unreserved characters.
std::string urlEncode(std::string_view s);
// Appends "k=v" with '?' or '&' as appropriate.
std::string appendQuery(std::string_view url, std::string_view kv);
// Strips "scheme://authority" from an absolute URL (relative URLs unchanged).
std::string stripOrigin(std::string_view url);
// stripOrigin + drop "?query" and "#fragment".
std::string pathOnly(std::string_view url);
// The query string of a URL (without '?'), split into key/value pairs, decoded.
std::vector<std::pair<std::string, std::string>> queryParams(std::string_view url);
std::optional<std::string> queryParam(std::string_view url, std::string_view key);

// Parsed `Link: <url>; rel="next"` header.
struct LinkHeader {
  std::string url;  // as written between <>
  std::string rel;
};
std::optional<LinkHeader> parseLink(std::string_view value);

// All error codes of a registry JSON error body (empty if not parseable).
std::vector<std::string> errorCodes(const Response& r);
// First error code or "" when none.
std::string errorCode(const Response& r);

// Asserts the response is an error with the status and (for non-HEAD requests)
// Content-Type application/json and an `errors` array containing one of `codes`.
::testing::AssertionResult IsError(const Response& r, long status, std::vector<std::string> codes);
inline ::testing::AssertionResult IsError(const Response& r, long status, const std::string& code) {
  return IsError(r, status, std::vector<std::string>{code});
}
#define EXPECT_REGISTRY_ERROR(resp, status, code) \
  EXPECT_TRUE(::berth_test::IsError((resp), (status), (code)))
#define ASSERT_REGISTRY_ERROR(resp, status, code) \
  ASSERT_TRUE(::berth_test::IsError((resp), (status), (code)))

// Content-Type matches `expected` ignoring parameters (e.g. "; charset=utf-8")
// and case of the media type.
::testing::AssertionResult HasContentType(const Response& r, std::string_view expected);

// Location header's path (absolute or relative URL accepted) equals `path`.
::testing::AssertionResult HasLocationPath(const Response& r, std::string_view path);

// ---------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------
struct Descriptor {
  std::string mediaType;
  std::string digest;
  std::size_t size = 0;
  std::string artifactType;  // omitted when empty
  std::vector<std::pair<std::string, std::string>> annotations;
  std::vector<std::string> urls;
  std::string platformJson;  // raw JSON object for "platform", omitted when empty

  std::string json() const;
};

Descriptor describe(std::string_view mediaType, std::string_view data);
Descriptor emptyConfigDescriptor();

struct ManifestOptions {
  std::string mediaType = mt::kOciManifest;  // "" → no mediaType field
  std::string artifactType{};
  std::optional<Descriptor> subject{};
  std::vector<std::pair<std::string, std::string>> annotations{};
};

// {"schemaVersion":2,"mediaType":...,"config":...,"layers":[...]}
std::string makeImageManifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                              const ManifestOptions& opts = {});
// {"schemaVersion":2,"mediaType":...,"manifests":[...]} (use opts.mediaType for docker lists)
std::string makeIndex(const std::vector<Descriptor>& manifests,
                      ManifestOptions opts = {.mediaType = mt::kOciIndex});

// Accept header listing all four supported manifest media types.
Headers manifestAccept();

// Runs a program (argv[0] is a path) with stdin /dev/null; waits at most `timeoutSeconds`
// (then kills it: status -1).
struct CommandResult {
  int status = -1;  // exit status; -1 when it did not exit normally
  std::string out;
  std::string err;
  std::string describe() const;  // status, stdout and stderr for failure messages
};
CommandResult runCommand(const std::vector<std::string>& argv, int timeoutSeconds = 60);

// A (logical) failure in a helper: recorded with ADD_FAILURE and thrown so
// that the calling test stops (GoogleTest reports the exception).
struct HelperFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------
class RegistryTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

 protected:
  void SetUp() override;

  HttpClient& http() { return *client_; }
  static const std::string& baseUrl();
  // Path of the spawned server's stderr log, or "" when using $REGISTRY_URL.
  static std::string serverLogPath();
  // Full content of that log ("" when none).
  static std::string serverLog();

  // Credentials the fixture's client sends (tests/AUTH_CONTRACT.md). With $BERTH_BIN the
  // admin account of the spawned server is enabled and given a fresh `password` before it
  // starts; with $REGISTRY_URL they come from $REGISTRY_USER / $REGISTRY_PASSWORD (none if
  // unset).
  static const std::string& registryUser();
  static const std::string& registryPassword();
  // Data directory and binary of the spawned server ("" with $REGISTRY_URL).
  static std::string dataDir();
  static std::string berthBin();
  // More `berth serve` arguments for the servers started from now on.
  static void setExtraServeArgs(std::vector<std::string> args);
  // SetUpTestSuite/TearDownTestSuite for a suite whose server takes a config file with the
  // JSON object `config` (written to a temporary file, removed when the suite ends).
  static void startServerWithConfig(const std::string& config);
  static void stopServerWithConfig();
  // Servers started from now on serve HTTPS with this certificate and key, and clients trust
  // `caFile`; empty strings go back to plain HTTP.
  static void setServerTls(std::string certFile, std::string keyFile, std::string caFile);
  // Process id of the spawned server (-1 with $REGISTRY_URL).
  static pid_t serverPid();
  // Called with the data directory of servers started from now on: once it is created (empty),
  // and once its server has stopped, before it is removed (e.g. to mount a file system there).
  static void setDataDirHooks(std::function<void(const std::string&)> created,
                              std::function<void(const std::string&)> stopped);
  // Stops the server (SIGTERM, which must end it with status 0) and starts it again on the same
  // data directory and port; false when it does not come back (serverError() says why).
  static bool restartServer();
  static std::string serverError();
  // "host:port" of the registry (the Host header the client sends).
  static std::string hostPort();

  // Repository name unique to this test process: "<runprefix>/<suffix>".
  static std::string repo(std::string_view suffix);
  static const std::string& runPrefix();

  // Monolithic upload (POST ?digest=); expects 201. Returns the digest.
  std::string pushBlob(const std::string& repo, std::string_view data);
  // pushBlob + descriptor.
  Descriptor pushBlobAs(const std::string& repo, std::string_view mediaType, std::string_view data);
  // PUT /v2/<repo>/manifests/<ref> with Content-Type mediaType. Returns the raw response.
  Response putManifest(const std::string& repo, std::string_view ref, std::string_view mediaType,
                       std::string_view body);
  // putManifest expecting 201; returns the manifest digest.
  std::string pushManifest(const std::string& repo, std::string_view ref,
                           std::string_view mediaType, std::string_view body);
  // Pushes a small random config + layer and an OCI image manifest tagged `tag`
  // (or pushed by digest when tag is empty). Returns the descriptor of the manifest.
  Descriptor pushRandomImage(const std::string& repo, std::string_view tag,
                             const ManifestOptions& opts = {});
  Response getManifest(const std::string& repo, std::string_view ref);
  Response headManifest(const std::string& repo, std::string_view ref);
  // Starts an upload session (POST), expects 202, returns the Location to use next.
  std::string startUpload(const std::string& repo);

 private:
  std::unique_ptr<HttpClient> client_;
};

}  // namespace berth_test
