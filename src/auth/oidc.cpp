#include "auth/oidc.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json.hpp>

#include "auth/base64url.hpp"
#include "auth/jwt.hpp"

namespace berth::auth {
namespace json = boost::json;

// A public key of an issuer's JWKS, and the one algorithm it verifies.
struct OidcVerifier::Key {
  EVP_PKEY* pkey = nullptr;
  std::string alg;  // RS256 or ES256
  std::string kid;  // may be empty
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr size_t kMaxToken = 16 * 1024;

Error refused(std::string why) { return makeError(ApiCode::Unauthorized, std::move(why)); }

std::string stringOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A NumericDate: an integer, or a number with a fraction (RFC 7519 allows both).
std::optional<int64_t> timeOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= INT64_MAX) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double() && v->get_double() > -9e18 && v->get_double() < 9e18) {
    return static_cast<int64_t>(v->get_double());
  }
  return std::nullopt;
}

struct Parts {
  std::string_view signingInput, signature;
  json::object header, payload;
};

Result<Parts> split(std::string_view token) {
  if (token.size() > kMaxToken) return refused("the ID token is longer than 16 KiB");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == token.npos ? token.npos : token.find('.', dot1 + 1);
  if (dot2 == token.npos || token.find('.', dot2 + 1) != token.npos) {
    return refused("the ID token is not a signed JWT (three dot-separated parts)");
  }
  auto header = decodeObject(token.substr(0, dot1));
  auto payload = decodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!header || !payload) return refused("the ID token's header or claims are not JSON objects");
  return Parts{token.substr(0, dot2), token.substr(dot2 + 1), std::move(*header),
               std::move(*payload)};
}

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn bigNumber(std::string_view base64url) {
  auto bytes = base64urlDecode(base64url);
  if (!bytes || bytes->empty()) return nullptr;
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()),
                      static_cast<int>(bytes->size()), nullptr));
}

EVP_PKEY* fromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    EVP_PKEY_free(pkey);
    pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

// An RSA key of at least 2048 bits (RS256), or an EC key on P-256 (ES256); null otherwise.
EVP_PKEY* publicKey(const json::object& jwk, std::string& alg) {
  const auto kty = stringOf(jwk, "kty");
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return nullptr;
  EVP_PKEY* pkey = nullptr;
  if (kty == "RSA") {
    auto n = bigNumber(stringOf(jwk, "n"));
    auto e = bigNumber(stringOf(jwk, "e"));
    if (n && e && BN_num_bits(n.get()) >= 2048 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) == 1) {
      pkey = fromParams("RSA", bld);
      alg = "RS256";
    }
  } else if (kty == "EC" && stringOf(jwk, "crv") == "P-256") {
    auto x = base64urlDecode(stringOf(jwk, "x"));
    auto y = base64urlDecode(stringOf(jwk, "y"));
    if (x && y && x->size() == 32 && y->size() == 32) {
      std::string point = "\x04" + *x + *y;
      static char group[] = "prime256v1";
      if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
          OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                           point.size()) == 1) {
        pkey = fromParams("EC", bld);
        alg = "ES256";
      }
    }
  }
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

bool verifySignature(EVP_PKEY* pkey, std::string_view alg, std::string_view data,
                     std::string_view signature) {
  std::string der;
  if (alg == "ES256") {
    // JWS carries r||s; OpenSSL wants DER.
    if (signature.size() != 64) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = ECDSA_SIG_new();
    if (sig == nullptr) return false;
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
    unsigned char* out = nullptr;
    const int length = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (length <= 0) return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(length));
    OPENSSL_free(out);
    signature = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

Result<json::object> fetchObject(const Fetch& fetch, const std::string& url,
                                 std::string_view what) {
  auto body = fetch(url);
  if (!body)
    return refused(std::string(what) + " " + url + " could not be read: " + body.error().detail);
  boost::system::error_code ec;
  auto value = json::parse(*body, ec);
  if (ec || !value.is_object())
    return refused(std::string(what) + " " + url + " is not a JSON object");
  return std::move(value.as_object());
}

}  // namespace

OidcVerifier::OidcVerifier(Fetch fetch, OidcOptions options)
    : fetch_(std::move(fetch)), options_(options) {}
OidcVerifier::~OidcVerifier() = default;

Result<std::string> OidcVerifier::unverifiedIssuer(std::string_view token) {
  auto parts = split(token);
  if (!parts) return parts.takeError();
  auto iss = stringOf(parts->payload, "iss");
  if (iss.empty()) return refused("the ID token has no issuer (iss)");
  return iss;
}

Result<void> OidcVerifier::checkUrl(const std::string& url) const {
  if (url.starts_with("https://")) return {};
  if (options_.allowHttp && url.starts_with("http://")) return {};
  return refused("issuer URLs must be https: " + url);
}

Result<std::shared_ptr<const OidcVerifier::Issuer>> OidcVerifier::fetchKeys(
    const std::string& issuer, int64_t now) {
  if (auto r = checkUrl(issuer); !r) return r.takeError();
  std::string base = issuer;
  while (base.ends_with('/')) base.pop_back();
  auto discovery = fetchObject(fetch_, base + "/.well-known/openid-configuration",
                               "the issuer's discovery document");
  if (!discovery) return discovery.takeError();
  if (stringOf(*discovery, "issuer") != issuer) {
    return refused("the discovery document of " + issuer + " names another issuer");
  }
  const auto jwksUri = stringOf(*discovery, "jwks_uri");
  if (jwksUri.empty()) return refused("the discovery document of " + issuer + " has no jwks_uri");
  if (auto r = checkUrl(jwksUri); !r) return r.takeError();
  auto jwks = fetchObject(fetch_, jwksUri, "the issuer's JWKS");
  if (!jwks) return jwks.takeError();
  const auto* keys = jwks->if_contains("keys");
  if (keys == nullptr || !keys->is_array())
    return refused("the JWKS of " + issuer + " has no keys");
  auto out = std::make_shared<Issuer>();
  out->fetched = now;
  for (const auto& entry : keys->get_array()) {
    if (!entry.is_object()) continue;
    const auto& jwk = entry.get_object();
    const auto use = stringOf(jwk, "use");
    if (!use.empty() && use != "sig") continue;
    auto key = std::make_shared<Key>();
    key->pkey = publicKey(jwk, key->alg);
    if (key->pkey == nullptr) continue;  // a kind of key berth does not verify with
    const auto alg = stringOf(jwk, "alg");
    if (!alg.empty() && alg != key->alg) continue;
    key->kid = stringOf(jwk, "kid");
    out->keys.push_back(std::move(key));
  }
  return std::shared_ptr<const Issuer>(std::move(out));
}

Result<std::shared_ptr<const OidcVerifier::Issuer>> OidcVerifier::keysOf(const std::string& issuer,
                                                                         int64_t now,
                                                                         bool unknownKid) {
  {
    std::lock_guard lock(mutex_);
    auto it = issuers_.find(issuer);
    if (it != issuers_.end() && !unknownKid &&
        now - it->second->fetched < options_.keysLifetime.count()) {
      return it->second;
    }
  }
  std::lock_guard fetching(fetching_);
  {
    std::lock_guard lock(mutex_);
    auto it = issuers_.find(issuer);
    const bool fresh =
        it != issuers_.end() && now - it->second->fetched < options_.keysLifetime.count();
    if (fresh && !unknownKid) return it->second;
    // At most one fetch per issuer per unknownKeyRefetch, however many tokens ask.
    auto attempt = attempts_.find(issuer);
    if (attempt != attempts_.end() && now - attempt->second < options_.unknownKeyRefetch.count()) {
      if (it != issuers_.end()) return it->second;
      return refused("the keys of " + issuer + " could not be fetched; trying again shortly");
    }
    if (attempts_.size() >= options_.maxIssuers && attempt == attempts_.end()) {
      attempts_.clear();
      issuers_.clear();
    }
    attempts_[issuer] = now;
  }
  auto fetched = fetchKeys(issuer, now);
  if (!fetched) return fetched.takeError();
  std::lock_guard lock(mutex_);
  issuers_[issuer] = *fetched;
  return fetched;
}

Result<IdToken> OidcVerifier::verify(std::string_view token, int64_t now) {
  auto parts = split(token);
  if (!parts) return parts.takeError();
  const auto alg = stringOf(parts->header, "alg");
  if (alg != "RS256" && alg != "ES256") {
    return refused("ID token algorithm \"" + alg + "\" is not accepted (RS256 or ES256)");
  }
  IdToken out;
  out.issuer = stringOf(parts->payload, "iss");
  if (out.issuer.empty()) return refused("the ID token has no issuer (iss)");
  auto signature = base64urlDecode(parts->signature);
  if (!signature) return refused("the ID token's signature is not base64url");
  const auto kid = stringOf(parts->header, "kid");

  // Tried: the issuer's keys of the token's kid (all of them when it names none), each with
  // its own algorithm only.
  enum class Verdict { Verified, Refused, UnknownKey };
  auto judge = [&](const Issuer& issuer) {
    bool known = kid.empty();
    for (const auto& key : issuer.keys) {
      if (!kid.empty() && key->kid != kid) continue;
      known = true;
      if (key->alg == alg && verifySignature(key->pkey, alg, parts->signingInput, *signature)) {
        return Verdict::Verified;
      }
    }
    return known ? Verdict::Refused : Verdict::UnknownKey;
  };
  auto keys = keysOf(out.issuer, now, false);
  if (!keys) return keys.takeError();
  auto verdict = judge(**keys);
  if (verdict == Verdict::UnknownKey) {
    // A key id the cached JWKS does not hold: the issuer may have rotated its keys.
    keys = keysOf(out.issuer, now, true);
    if (!keys) return keys.takeError();
    verdict = judge(**keys);
  }
  if (verdict == Verdict::UnknownKey) {
    return refused("the ID token is signed by key \"" + kid + "\", which " + out.issuer +
                   " does not publish");
  }
  if (verdict == Verdict::Refused) {
    return refused("the ID token's signature does not verify with " + out.issuer + "'s keys");
  }

  const auto& claims = parts->payload;
  const auto exp = timeOf(claims, "exp");
  if (!exp) return refused("the ID token has no expiry (exp)");
  const int64_t leeway = options_.leeway.count();
  if (now - leeway > *exp) return refused("the ID token has expired");
  if (claims.contains("nbf")) {
    const auto nbf = timeOf(claims, "nbf");
    if (!nbf) return refused("the ID token's nbf is not a time");
    if (now + leeway < *nbf) return refused("the ID token is not valid yet (nbf)");
  }
  out.expires = *exp;
  out.subject = stringOf(claims, "sub");
  if (out.subject.empty()) return refused("the ID token has no subject (sub)");
  if (const auto* aud = claims.if_contains("aud")) {
    if (aud->is_string()) out.audiences.emplace_back(aud->get_string());
    if (aud->is_array()) {
      for (const auto& a : aud->get_array()) {
        if (a.is_string()) out.audiences.emplace_back(a.get_string());
      }
    }
  }
  if (out.audiences.empty()) return refused("the ID token has no audience (aud)");
  return out;
}

}  // namespace berth::auth
