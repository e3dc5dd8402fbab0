#include "auth/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "core/digest.hpp"

namespace berth::auth {
namespace json = boost::json;

struct SigningKey::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

std::string bnBytes(const EVP_PKEY* pkey, const char* param) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) throw std::runtime_error("EC parameter");
  std::string out(32, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_free(bn);
  return out;
}

std::string hexToBytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace

SigningKey::SigningKey(std::shared_ptr<Key> key) : key_(std::move(key)) {
  x_ = base64urlEncode(bnBytes(key_->pkey, OSSL_PKEY_PARAM_EC_PUB_X));
  y_ = base64urlEncode(bnBytes(key_->pkey, OSSL_PKEY_PARAM_EC_PUB_Y));
  // RFC 7638 thumbprint: the required members in lexical order, no whitespace.
  const std::string canonical =
      R"({"crv":"P-256","kty":"EC","x":")" + x_ + R"(","y":")" + y_ + R"("})";
  kid_ = base64urlEncode(hexToBytes(sha256Digest(canonical).substr(7)));
}

SigningKey SigningKey::generate() {
  auto key = std::make_shared<Key>();
  key->pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key->pkey == nullptr) throw std::runtime_error("EC key generation failed");
  return SigningKey(std::move(key));
}

std::optional<SigningKey> SigningKey::fromPem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return std::nullopt;
  auto key = std::make_shared<Key>();
  key->pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key->pkey == nullptr || EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_EC) return std::nullopt;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &len) != 1 ||
      std::string_view(group, len) != "prime256v1") {
    return std::nullopt;
  }
  return SigningKey(std::move(key));
}

std::string SigningKey::privatePem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key_->pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string SigningKey::publicJwk() const {
  json::object jwk{{"kty", "EC"}, {"crv", "P-256"}, {"x", x_},     {"y", y_},
                   {"kid", kid_}, {"alg", "ES256"}, {"use", "sig"}};
  return json::serialize(jwk);
}

std::string SigningKey::sign(std::string_view data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t derLen = 0;
  std::string der;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey) == 1 &&
            EVP_DigestSign(ctx, nullptr, &derLen,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  if (ok) {
    der.resize(derLen);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &derLen,
                        reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    der.resize(derLen);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("ES256 signing failed");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) throw std::runtime_error("ES256 signature decoding failed");
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

bool SigningKey::verify(std::string_view data, std::string_view signature) const {
  if (signature.size() != 64) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int derLen = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (derLen <= 0) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey) == 1 &&
      EVP_DigestVerify(ctx, der, static_cast<size_t>(derLen),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

std::string encodeJwt(const Claims& c, const SigningKey& key) {
  json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", key.kid()}};
  json::array access;
  for (const auto& a : c.access) {
    json::array actions;
    for (const auto& action : a.actions) actions.emplace_back(action);
    access.emplace_back(
        json::object{{"type", a.type}, {"name", a.name}, {"actions", std::move(actions)}});
  }
  json::object payload{{"iss", c.iss}, {"sub", c.sub}, {"aud", c.aud}, {"exp", c.exp},
                       {"nbf", c.nbf}, {"iat", c.iat}, {"jti", c.jti}, {"access", access}};
  if (!c.use.empty()) payload["use"] = c.use;
  if (c.registry != 0) payload["rid"] = c.registry;
  std::string signingInput =
      base64urlEncode(json::serialize(header)) + "." + base64urlEncode(json::serialize(payload));
  const std::string signature = key.sign(signingInput);
  return signingInput + "." + base64urlEncode(signature);
}

std::string_view describe(JwtError error) {
  switch (error) {
    case JwtError::Malformed:
      return "malformed token";
    case JwtError::Algorithm:
      return "token algorithm not accepted";
    case JwtError::UnknownKey:
      return "token signed by an unknown key";
    case JwtError::Signature:
      return "token signature invalid";
    case JwtError::Expired:
      return "token expired";
    case JwtError::NotYetValid:
      return "token not yet valid";
    case JwtError::Audience:
      return "token issued for another service";
    case JwtError::Issuer:
      return "token issued by another issuer";
    case JwtError::Use:
      return "token of the wrong kind";
  }
  return "invalid token";
}

std::optional<json::object> decodeObject(std::string_view part) {
  auto text = base64urlDecode(part);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  auto value = json::parse(*text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

namespace {

std::string stringOf(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

std::optional<int64_t> intOf(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_int64()) return std::nullopt;
  return it->value().get_int64();
}

}  // namespace

std::variant<Claims, JwtError> decodeJwt(std::string_view token, const KeyLookup& keys,
                                         std::string_view issuer, std::string_view audience,
                                         int64_t now, std::string_view use, int64_t leeway) {
  const auto dot1 = token.find('.');
  if (dot1 == token.npos) return JwtError::Malformed;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == token.npos || token.find('.', dot2 + 1) != token.npos) return JwtError::Malformed;
  auto header = decodeObject(token.substr(0, dot1));
  if (!header) return JwtError::Malformed;
  // The algorithm is pinned: whatever the header claims, only ES256 is verified.
  if (stringOf(*header, "alg") != "ES256") return JwtError::Algorithm;
  auto key = keys(stringOf(*header, "kid"));
  if (!key) return JwtError::UnknownKey;
  auto signature = base64urlDecode(token.substr(dot2 + 1));
  if (!signature || !key->verify(token.substr(0, dot2), *signature)) return JwtError::Signature;
  auto payload = decodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) return JwtError::Malformed;

  Claims c;
  c.iss = stringOf(*payload, "iss");
  c.sub = stringOf(*payload, "sub");
  c.aud = stringOf(*payload, "aud");
  c.jti = stringOf(*payload, "jti");
  c.use = stringOf(*payload, "use");
  if (payload->contains("rid")) {
    auto rid = intOf(*payload, "rid");
    if (!rid) return JwtError::Malformed;
    c.registry = *rid;
  }
  auto exp = intOf(*payload, "exp");
  auto nbf = intOf(*payload, "nbf");
  auto iat = intOf(*payload, "iat");
  if (!exp || !nbf || !iat) return JwtError::Malformed;
  c.exp = *exp;
  c.nbf = *nbf;
  c.iat = *iat;
  if (c.iss != issuer) return JwtError::Issuer;
  if (c.aud != audience) return JwtError::Audience;
  if (now > c.exp + leeway) return JwtError::Expired;
  if (now + leeway < c.nbf) return JwtError::NotYetValid;
  if (c.use != use) return JwtError::Use;
  if (auto it = payload->find("access"); it != payload->end()) {
    if (!it->value().is_array()) return JwtError::Malformed;
    for (const auto& entry : it->value().get_array()) {
      if (!entry.is_object()) return JwtError::Malformed;
      const auto& o = entry.get_object();
      ResourceAccess a{stringOf(o, "type"), stringOf(o, "name"), {}};
      if (auto actions = o.find("actions"); actions != o.end() && actions->value().is_array()) {
        for (const auto& action : actions->value().get_array()) {
          if (action.is_string()) a.actions.emplace_back(action.get_string());
        }
      }
      c.access.push_back(std::move(a));
    }
  }
  return c;
}

}  // namespace berth::auth
