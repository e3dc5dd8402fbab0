#pragma once
// JSON Web Tokens signed with ES256 (ECDSA P-256, SHA-256): the only algorithm accepted.
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace berth::auth {

// One entry of the Docker token specification's `access` claim.
struct ResourceAccess {
  std::string type;  // "repository" or "registry"
  std::string name;  // repository name, or "catalog"
  std::vector<std::string> actions;
  bool operator==(const ResourceAccess&) const = default;
};

struct Claims {
  std::string iss;
  std::string sub;
  std::string aud;
  std::string jti;
  int64_t exp = 0;
  int64_t nbf = 0;
  int64_t iat = 0;
  std::vector<ResourceAccess> access;
  // "refresh" for refresh tokens; empty for access tokens. A refresh token is never accepted
  // as a bearer token, nor an access token as a refresh token.
  std::string use;
  // The id of the registry the token was issued by ("rid"): a registry deleted and created
  // again under the same name has a new id, and its predecessor's tokens stop working.
  int64_t registry = 0;
};

class SigningKey {
 public:
  static SigningKey generate();
  static std::optional<SigningKey> fromPem(std::string_view privatePem);

  std::string privatePem() const;
  const std::string& kid() const { return kid_; }
  // The public key as a JWK object (kty, crv, x, y, kid, alg, use), serialized.
  std::string publicJwk() const;
  // The raw 64-byte r||s signature of `data`, as JWS wants it.
  std::string sign(std::string_view data) const;
  bool verify(std::string_view data, std::string_view signature) const;

 private:
  struct Key;
  explicit SigningKey(std::shared_ptr<Key> key);
  std::shared_ptr<Key> key_;
  std::string kid_;
  std::string x_;
  std::string y_;
};

std::string encodeJwt(const Claims& claims, const SigningKey& key);

// A JWS header or payload: base64url of a JSON object; nothing for anything else.
std::optional<boost::json::object> decodeObject(std::string_view part);

enum class JwtError {
  Malformed,
  Algorithm,
  UnknownKey,
  Signature,
  Expired,
  NotYetValid,
  Audience,
  Issuer,
  Use,
};
std::string_view describe(JwtError error);

using KeyLookup = std::function<std::shared_ptr<const SigningKey>(std::string_view kid)>;

// Parses the token and checks, in order: shape, algorithm (ES256 only), key, signature,
// issuer, audience, time window (with `leeway` seconds), and use ("" or "refresh").
std::variant<Claims, JwtError> decodeJwt(std::string_view token, const KeyLookup& keys,
                                         std::string_view issuer, std::string_view audience,
                                         int64_t now, std::string_view use = {},
                                         int64_t leeway = 30);

}  // namespace berth::auth
