// Support for the control API tests (docs/control-api.md): a fresh `berth serve --domain`
// per test, a client of `/api/v1` that sends the operator token, the API's error shape, and
// data-plane clients of one registry each (chosen by the Host header `<name>.<domain>:<port>`).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "json.hpp"

namespace berth_test::control {

// Registries are served at `<name>.registry.test`; nothing resolves that name: the clients
// connect to 127.0.0.1 and send the Host header.
inline constexpr const char* kDomain = "registry.test";
// The user of the refresh tokens `POST .../login` hands out.
inline constexpr const char* kRefreshUser = "00000000-0000-0000-0000-000000000000";

struct Identity {
  std::string user, password;
  std::string basic() const { return basicAuthorization(user, password); }
};

// Asserts the control API's error: the status, `Content-Type: application/json` and a body
// `{"error":{"code":CODE,"message":<string>}}`.
::testing::AssertionResult IsApiError(const Response& r, long status, const std::string& code);
#define EXPECT_API_ERROR(resp, status, code) \
  EXPECT_TRUE(::berth_test::control::IsApiError((resp), (status), (code)))
#define ASSERT_API_ERROR(resp, status, code) \
  ASSERT_TRUE(::berth_test::control::IsApiError((resp), (status), (code)))

// The `message` of each OCI error of a /v2 error body, joined by " | ". Not `detail`: skopeo and
// podman print only the message (tests/e2e/quota.sh), so what the user must read goes there.
std::string errorMessages(const Response& r);

// Parsed JSON body; fails the test (and throws HelperFailure) unless `r` has `status` and a
// JSON body.
json::Value expectJson(const Response& r, long status);

// Members of a parsed object (nullptr/empty when absent or of another type).
std::string str(const json::Value& v, std::string_view key);
std::optional<bool> boolean(const json::Value& v, std::string_view key);
std::optional<long long> integer(const json::Value& v, std::string_view key);
const json::Value* member(const json::Value& v, std::string_view path);  // "a.b.c"
// Strings of an array of strings, or the `key` member of each object of an array.
std::vector<std::string> strings(const json::Value* array, std::string_view key = "");
// Structural equality of two JSON values (object members in any order, numbers by value).
bool jsonEqual(const json::Value& a, const json::Value& b);
// Whether `s` is an RFC 3339 UTC time ("2026-11-27T04:00:00Z", fractions allowed).
bool isRfc3339Utc(std::string_view s);

// A random registry name (`^[a-z0-9]{5,50}$`), unique with overwhelming probability.
std::string uniqueRegistryName();

// A data-plane client of one registry: requests go to the server's address with
// `Host: <host>`, absolute Location headers are followed on that address too.
class RegistryClient {
 public:
  RegistryClient(const std::string& baseUrl, std::string host, const std::string& authorization);

  HttpClient& http() { return *http_; }
  const std::string& host() const { return host_; }

  Response get(const std::string& target, const Headers& h = {}) {
    return http_->get(local(target), h);
  }
  Response head(const std::string& target, const Headers& h = {}) {
    return http_->head(local(target), h);
  }
  Response del(const std::string& target, const Headers& h = {}) {
    return http_->del(local(target), h);
  }
  Response post(const std::string& target, std::string_view body = {}, const Headers& h = {}) {
    return http_->post(local(target), body, h);
  }
  Response put(const std::string& target, std::string_view body = {}, const Headers& h = {}) {
    return http_->put(local(target), body, h);
  }
  Response patch(const std::string& target, std::string_view body, const Headers& h = {}) {
    return http_->patch(local(target), body, h);
  }

  // POST /v2/<repo>/blobs/uploads/?digest= with the data (raw reply).
  Response postBlob(const std::string& repo, std::string_view data);
  // Chunked upload: POST, one PATCH, then PUT ?digest= (raw reply of the PUT; the POST and
  // PATCH must succeed).
  Response chunkedBlob(const std::string& repo, std::string_view data);
  // postBlob expecting 201 (a 202 session is finished with a PUT). Returns the digest.
  std::string pushBlob(const std::string& repo, std::string_view data);
  Descriptor pushBlobAs(const std::string& repo, std::string_view mediaType, std::string_view data);
  Response putManifest(const std::string& repo, std::string_view ref, std::string_view mediaType,
                       std::string_view body);
  std::string pushManifest(const std::string& repo, std::string_view ref,
                           std::string_view mediaType, std::string_view body);

  struct Image {
    Descriptor manifest, config, layer;
    std::string body;  // the manifest
    // Manifest, config and layer bytes.
    std::size_t totalSize() const { return manifest.size + config.size + layer.size; }
  };
  // A random config and a `layerSize`-byte random layer, then an OCI image manifest tagged
  // `tag` (by digest when `tag` is empty).
  Image pushImage(const std::string& repo, std::string_view tag, std::size_t layerSize = 64,
                  const ManifestOptions& opts = {});
  Response getManifest(const std::string& repo, std::string_view ref);
  Response getBlob(const std::string& repo, std::string_view digest);
  Response tags(const std::string& repo);
  Response catalog();

 private:
  // Absolute URLs (Location headers) are reduced to their path: the name in them resolves
  // nowhere, the Host header does the choosing.
  static std::string local(const std::string& target) { return stripOrigin(target); }
  std::unique_ptr<HttpClient> http_;
  std::string host_;
};

// A fresh `berth serve --domain registry.test` per test (tests change registries, credentials
// and quotas, and trip failed-login limits). The fixture's `http()` is the harness's client of
// the default registry (its admin account enabled); `api()` talks to `/api/v1` with the
// operator token.
class ControlTest : public RegistryTest {
 public:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}

 protected:
  // `berth serve` arguments besides --listen and --data.
  virtual std::vector<std::string> serveArgs() const { return {"--domain", kDomain}; }
  void SetUp() override;
  void TearDown() override;

  // The operator token (content of <data>/operator-token unless a test names another file).
  virtual std::string operatorTokenFile() const;
  const std::string& operatorToken() const { return operatorToken_; }
  std::string operatorAuth() const { return bearerAuthorization(operatorToken_); }

  // Client of `/api/v1` (operator token by default; no Docker-Distribution-API-Version check).
  HttpClient& api() { return *api_; }
  // A request to the control API with other credentials ("" = none).
  Response apiAs(const std::string& authorization, std::string_view method,
                 const std::string& target, std::optional<std::string_view> body = std::nullopt);

  // "/api/v1/registries/<registry><suffix>"
  static std::string regPath(const std::string& registry, std::string_view suffix = "");
  static std::string repoPath(const std::string& registry, const std::string& repository,
                              std::string_view suffix = "");
  // "<name>.registry.test:<port>"
  static std::string registryHost(const std::string& name);

  // POST /api/v1/registries {"name":NAME<,extra members>} expecting 201.
  json::Value createRegistry(const std::string& name, const std::string& extraMembers = "");
  // A new registry with its admin account enabled; returns the admin's identity.
  Identity createRegistryWithAdmin(const std::string& name, const std::string& extraMembers = "");
  // PATCH adminUserEnabled=true and renew `password`; returns the admin's identity.
  Identity enableAdmin(const std::string& registry);
  // POST .../credentials/renew {"name":which}; returns the new value.
  std::string renewPassword(const std::string& registry, const std::string& which);
  json::Value createScopeMap(const std::string& registry, const std::string& name,
                             const std::vector<std::string>& actions);
  // POST .../tokens expecting 201; returns the token's name and password1.
  Identity createToken(const std::string& registry, const std::string& name,
                       const std::string& scopeMapName, const std::string& extraMembers = "");
  // A scope map `<name>-map` with `actions` and a token `name` bound to it.
  Identity createTokenWithActions(const std::string& registry, const std::string& name,
                                  const std::vector<std::string>& actions);
  json::Value usage(const std::string& registry);
  // The `currentValue` and `limit` of one entry of the usage.
  static const json::Value* usageEntry(const json::Value& usage, std::string_view name);

  // Data-plane client of `registry` (Host `<registry>.registry.test:<port>`).
  std::unique_ptr<RegistryClient> plane(const std::string& registry,
                                        const std::string& authorization);
  // Data-plane client with an arbitrary Host header.
  std::unique_ptr<RegistryClient> planeAtHost(const std::string& host,
                                              const std::string& authorization);

 private:
  std::unique_ptr<HttpClient> api_;
  std::string operatorToken_;
};

// A fresh registry per test, its admin account enabled, and a data-plane client of it as that
// admin.
class AdminRegistryTest : public ControlTest {
 protected:
  void SetUp() override;

  std::string reg_;
  Identity admin_;
  std::unique_ptr<RegistryClient> p_;
};

// An AdminRegistryTest whose server reads a config file holding `json` (keys of
// docs/configuration.md).
class ConfiguredRegistryTest : public AdminRegistryTest {
 protected:
  explicit ConfiguredRegistryTest(std::string_view json);
  ~ConfiguredRegistryTest() override;
  std::vector<std::string> serveArgs() const override {
    return {"--domain", kDomain, "--config", config_.string()};
  }

 private:
  std::filesystem::path config_;
};

// Sign-in sessions (POST /api/v1/session): the sign-in with `body` (with the CSRF header unless
// `csrf` is false), the cookie's value from its Set-Cookie (failing the test when there is
// none), and a request signed in by a cookie alone.
Response signInSession(HttpClient& api, const std::string& body, bool csrf = true);
std::string sessionCookieOf(const Response& r);
Response asSession(HttpClient& api, const std::string& cookie, std::string_view method,
                   const std::string& target, std::optional<std::string_view> body = std::nullopt,
                   bool csrf = true);

// "a","b" → "\"a\",\"b\""
std::string jsonStrings(const std::vector<std::string>& items);

}  // namespace berth_test::control
