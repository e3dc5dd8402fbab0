// ID tokens of outside issuers (src/auth/oidc.hpp): any bytes as a token against an issuer with
// real keys, and any bytes as the issuer's JWKS against a token signed here. Nothing may crash,
// and no token this target did not sign may verify.
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/base64url.hpp"
#include "auth/jwt.hpp"
#include "auth/oidc.hpp"

using namespace berth;
using namespace berth::auth;

namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kIssuer = "https://issuer.example";

// The issuer's key: berth's own ES256 key type serves as one (its JWK is a P-256 public key).
const SigningKey& key() {
  static const SigningKey k = SigningKey::generate();
  return k;
}

std::string discovery() {
  return boost::json::serialize(
      boost::json::object{{"issuer", kIssuer}, {"jwks_uri", kIssuer + "/keys"}});
}

std::string jwks() { return "{\"keys\":[" + key().publicJwk() + "]}"; }

// A valid token of the issuer, signed with the key.
const std::string& goodToken() {
  static const std::string token = [] {
    boost::json::object header{{"alg", "ES256"}, {"kid", key().kid()}};
    boost::json::object claims{{"iss", kIssuer},   {"sub", "repo:org/app:ref:refs/heads/main"},
                               {"aud", "api://x"}, {"exp", kNow + 300},
                               {"nbf", kNow - 10}, {"iat", kNow - 10}};
    const std::string input = base64urlEncode(boost::json::serialize(header)) + "." +
                              base64urlEncode(boost::json::serialize(claims));
    return input + "." + base64urlEncode(key().sign(input));
  }();
  return token;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  // Any bytes as a token, against an issuer that publishes the key.
  OidcVerifier real(
      [](const std::string& url) -> Result<std::string> {
        if (url == kIssuer + "/.well-known/openid-configuration") return discovery();
        if (url == kIssuer + "/keys") return jwks();
        return makeError(ApiCode::NotFound, "HTTP 404");
      },
      OidcOptions{});
  (void)OidcVerifier::unverifiedIssuer(text);
  if (real.verify(text, kNow).ok()) {
    // Only what the key signed verifies: the fuzzer cannot forge a P-256 signature, so a token
    // whose signed part is not the good token's is a signature not checked, or an algorithm
    // let through. (Its signature may differ: ECDSA's (r, n - s) verifies too.)
    const auto signedPart = [](const std::string& t) { return t.substr(0, t.rfind('.')); };
    if (signedPart(text) != signedPart(goodToken())) std::abort();
  }

  // Any bytes as the issuer's JWKS (and discovery document), against a token signed here.
  OidcVerifier fuzzedKeys(
      [&](const std::string& url) -> Result<std::string> {
        if (url == kIssuer + "/.well-known/openid-configuration") {
          return size % 2 == 0 ? discovery() : text;
        }
        if (url == kIssuer + "/keys") return text;
        return makeError(ApiCode::NotFound, "HTTP 404");
      },
      OidcOptions{});
  (void)fuzzedKeys.verify(goodToken(), kNow);
  return 0;
}
