// Support for the berth authentication tests (tests/AUTH_CONTRACT.md): the `berth admin`
// CLI, the token endpoint, WWW-Authenticate challenges, and JWTs (parsing, verifying with a
// JWK, forging with OpenSSL, reading the server's signing key from <data>/berth.db).
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "json.hpp"

namespace berth_test::auth {

// ---------------------------------------------------------------------------
// Encoding and JSON
// ---------------------------------------------------------------------------
std::string base64url(std::string_view bytes);
std::optional<std::string> base64urlDecode(std::string_view text);
// Serializes a parsed value back to compact JSON (numbers keep their original text).
std::string toJson(const json::Value& v);
json::Value str(std::string s);
json::Value num(std::int64_t n);
json::Value strArray(const std::vector<std::string>& items);
// Copy of an object with members replaced (in place) or appended.
json::Value withMembers(const json::Value& object,
                        const std::vector<std::pair<std::string, json::Value>>& members);
std::int64_t nowSeconds();
// "2026-11-27T01:02:03Z", "...03.123Z" or "...03+01:00" → Unix seconds.
std::optional<std::int64_t> parseRfc3339(std::string_view s);

// ---------------------------------------------------------------------------
// JWT
// ---------------------------------------------------------------------------
struct Jwt {
  std::string raw;
  std::string headerJson, payloadJson, signature;  // decoded parts
  json::Value header, payload;
  std::string signingInput() const;  // "<b64 header>.<b64 payload>" as received
  std::string kid() const { return header.getString("kid").value_or(""); }
  std::optional<std::int64_t> claimInt(std::string_view name) const;
  // Actions granted by the `access` claim for (type, name), e.g. ("repository", "team/app").
  std::vector<std::string> actions(std::string_view type, std::string_view name) const;
};
std::optional<Jwt> parseJwt(std::string_view token);
// "<b64url(header)>.<b64url(payload)>.<b64url(signature)>"
std::string assembleJwt(std::string_view headerJson, std::string_view payloadJson,
                        std::string_view signature);

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Pkey generateP256Key();
Pkey privateKeyFromPem(std::string_view pem);
// Public key from a JWK's base64url x and y (P-256); null when invalid.
Pkey publicKeyFromJwk(const json::Value& jwk);
std::string publicKeyPem(EVP_PKEY* key);
// JWS ES256 signature (raw 64-byte r||s) of `input`.
std::string signEs256(EVP_PKEY* key, std::string_view input);
bool verifyEs256(EVP_PKEY* key, std::string_view input, std::string_view rawSignature);
std::string hmacSha256(std::string_view key, std::string_view data);

// ES256 JWT with header {"alg":"ES256","typ":"JWT","kid":kid}.
std::string signJwt(EVP_PKEY* key, std::string_view kid, std::string_view payloadJson);

// Private key PEM of `kid` from <dataDir>/berth.db, table signing_keys; "" when absent.
std::string signingKeyPem(const std::string& dataDir, std::string_view kid);
std::vector<std::string> signingKids(const std::string& dataDir);

// ---------------------------------------------------------------------------
// WWW-Authenticate: Bearer realm="...",service="...",scope="...",error="..."
// ---------------------------------------------------------------------------
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
  std::string param(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? std::string("<absent>") : it->second;
  }
  bool has(const std::string& k) const { return params.count(k) != 0; }
};
std::optional<Challenge> parseChallenge(std::string_view value);

// ---------------------------------------------------------------------------
// Fixture: the shared registry of RegistryTest plus its `berth admin` CLI and token endpoint.
// Needs $BERTH_BIN (with $REGISTRY_URL the tests are skipped: they administer the server).
// ---------------------------------------------------------------------------
struct Identity {
  std::string user, password;
  std::string basic() const { return basicAuthorization(user, password); }
};

struct TokenReply {
  Response response;
  std::optional<json::Value> body;  // parsed JSON body
  std::string token;                // "token" member ("" when absent)
  std::optional<Jwt> jwt;
  std::string bearer() const { return bearerAuthorization(token); }
};

class AuthTest : public RegistryTest {
 public:
  static void SetUpTestSuite() { RegistryTest::SetUpTestSuite(); }
  static void TearDownTestSuite();

 protected:
  void SetUp() override;

  // `berth admin ARGS... --data <dataDir>`; fails the test (and throws) unless it exits 0 with a
  // JSON document on stdout (or empty stdout when `jsonOut` is false).
  static json::Value admin(std::vector<std::string> args, bool jsonOut = true);
  // Same, but returns the raw result (for commands expected to fail).
  static CommandResult adminRaw(std::vector<std::string> args);

  static Identity adminIdentity() { return {registryUser(), registryPassword()}; }
  // `berth admin token create --name NAME ARGS...`; returns NAME and its password1.
  static Identity createToken(const std::string& name, std::vector<std::string> args);
  static void setAdminEnabled(bool on);
  static void setAnonymousPull(bool on);

  // GET /oauth2/token?service=<host>&scope=...(&extra) with `authorization` ("" = none).
  TokenReply getToken(const std::string& authorization, const std::vector<std::string>& scopes,
                      const std::string& extraQuery = "");
  // POST /oauth2/token with a form body (the pairs are URL-encoded).
  TokenReply postToken(const std::vector<std::pair<std::string, std::string>>& form);
  // getToken expecting 200 with a parseable JWT; fails the test (and throws) otherwise.
  TokenReply mustGetToken(const std::string& authorization, const std::vector<std::string>& scopes,
                          const std::string& extraQuery = "");
  // GET /oauth2/jwks (no credentials) → parsed body; fails (and throws) unless 200 + JSON.
  json::Value jwks();
  // GET /v2/_catalog?n=10000 with `authorization` (expects 200): the names that start with
  // `prefix`, in the order listed.
  std::vector<std::string> catalogOf(const std::string& authorization, std::string_view prefix);

  static std::string realm() { return "http://" + hostPort() + "/oauth2/token"; }
};

// A fresh server for every test: tests here switch the admin account and anonymous pull, trip
// the failed-login limit and rotate keys, which must not leak into other tests.
class IsolatedAuthTest : public AuthTest {
 public:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}

 protected:
  // Extra `berth serve` arguments of this fixture's servers.
  virtual std::vector<std::string> serveArgs() const { return {}; }
  void SetUp() override {
    setExtraServeArgs(serveArgs());
    RegistryTest::SetUpTestSuite();
    AuthTest::SetUp();
  }
  void TearDown() override {
    RegistryTest::TearDownTestSuite();
    setExtraServeArgs({});
  }
};

// Scope strings.
inline std::string repoScope(std::string_view name, std::string_view actions) {
  return "repository:" + std::string(name) + ":" + std::string(actions);
}
inline const char* kCatalogScope = "registry:catalog:*";

// Asserts a 401 UNAUTHORIZED with the Bearer challenge of tests/AUTH_CONTRACT.md:
// realm, service, and (when `scope` is non-empty) a scope equal to one of the `|`-separated
// alternatives in `scope`; `insufficientScope` requires error="insufficient_scope".
::testing::AssertionResult IsChallenge(const Response& r, const std::string& realm,
                                       const std::string& service, const std::string& scope,
                                       bool insufficientScope);

}  // namespace berth_test::auth
