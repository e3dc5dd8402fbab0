// OpenID Connect ID tokens of outside issuers (src/auth/oidc.hpp): keys made here, the issuer's
// discovery document and JWKS handed to the verifier by a fetch function that counts what it
// is asked, tokens signed here with RS256 and ES256, and every way a token may be refused.
#include "auth/oidc.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <climits>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "auth/authenticator.hpp"
#include "auth/base64url.hpp"

namespace berth::auth {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000;
const std::string kIssuer = "https://token.actions.example";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string bnParam(const EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1);
  std::string out(pad > 0 ? static_cast<size_t>(pad) : static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

// A signing key of the test issuer, and its JWK.
struct TestKey {
  Pkey key;
  std::string alg;  // RS256 or ES256
  std::string kid;

  static TestKey rsa(std::string kid, unsigned bits = 2048) {
    return {Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits))), "RS256",
            std::move(kid)};
  }
  static TestKey ec(std::string kid) {
    return {Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")), "ES256", std::move(kid)};
  }

  json::object jwk() const {
    json::object out{{"kid", kid}, {"use", "sig"}, {"alg", alg}};
    if (alg == "RS256") {
      out["kty"] = "RSA";
      out["n"] = base64urlEncode(bnParam(key.get(), OSSL_PKEY_PARAM_RSA_N));
      out["e"] = base64urlEncode(bnParam(key.get(), OSSL_PKEY_PARAM_RSA_E));
    } else {
      out["kty"] = "EC";
      out["crv"] = "P-256";
      out["x"] = base64urlEncode(bnParam(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32));
      out["y"] = base64urlEncode(bnParam(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32));
    }
    return out;
  }

  std::string publicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  }

  std::string sign(std::string_view input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t length = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(length, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &length,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(length);
    if (alg == "RS256") return sig;
    // ECDSA: DER to JWS's r||s.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(ecdsa);
    return raw;
  }
};

std::string encode(const json::object& o) { return base64urlEncode(json::serialize(o)); }

// Claims shaped as GitHub Actions sends them.
json::object githubClaims() {
  return {{"iss", kIssuer},
          {"sub", "repo:org/app:ref:refs/heads/main"},
          {"aud", "api://BerthTokenExchange"},
          {"repository", "org/app"},
          {"ref", "refs/heads/main"},
          {"iat", kNow - 10},
          {"nbf", kNow - 10},
          {"exp", kNow + 300}};
}

std::string signedToken(const TestKey& key, const json::object& claims,
                        std::optional<std::string> alg = std::nullopt) {
  json::object header{{"typ", "JWT"}, {"alg", alg.value_or(key.alg)}, {"kid", key.kid}};
  const std::string input = encode(header) + "." + encode(claims);
  return input + "." + base64urlEncode(key.sign(input));
}

class OidcTest : public ::testing::Test {
 protected:
  OidcTest() : verifier_([this](const std::string& url) { return fetch(url); }, options()) {
    keys_.push_back(TestKey::rsa("rsa-1"));
    keys_.push_back(TestKey::ec("ec-1"));
  }

  static OidcOptions options() {
    OidcOptions o;
    o.keysLifetime = std::chrono::seconds(3600);
    o.unknownKeyRefetch = std::chrono::seconds(30);
    return o;
  }

  Result<std::string> fetch(const std::string& url) {
    ++fetches_[url];
    if (url == kIssuer + "/.well-known/openid-configuration") {
      return json::serialize(
          json::object{{"issuer", discoveryIssuer_},
                       {"jwks_uri", kIssuer + "/keys"},
                       {"id_token_signing_alg_values_supported", json::array{"RS256", "ES256"}}});
    }
    if (url == kIssuer + "/keys") {
      json::array keys;
      for (const auto& k : keys_) keys.push_back(k.jwk());
      return json::serialize(json::object{{"keys", std::move(keys)}});
    }
    return makeError(ApiCode::NotFound, "HTTP 404");
  }

  Result<IdToken> verify(const std::string& token, int64_t now = kNow) {
    return verifier_.verify(token, now);
  }
  int jwksFetches() { return fetches_[kIssuer + "/keys"]; }

  std::vector<TestKey> keys_;
  std::string discoveryIssuer_ = kIssuer;
  std::map<std::string, int> fetches_;
  OidcVerifier verifier_;
};

#define EXPECT_REFUSED(result, words)                                                 \
  do {                                                                                \
    auto r_ = (result);                                                               \
    ASSERT_FALSE(r_.ok()) << "accepted";                                              \
    EXPECT_EQ(r_.error().code, ApiCode::Unauthorized);                                \
    EXPECT_NE(r_.error().detail.find(words), std::string::npos) << r_.error().detail; \
  } while (0)

TEST_F(OidcTest, AnRs256TokenOfTheIssuerVerifies) {
  auto token = verify(signedToken(keys_[0], githubClaims()));
  ASSERT_TRUE(token.ok()) << token.error().detail;
  EXPECT_EQ(token->issuer, kIssuer);
  EXPECT_EQ(token->subject, "repo:org/app:ref:refs/heads/main");
  EXPECT_EQ(token->audiences, std::vector<std::string>{"api://BerthTokenExchange"});
  EXPECT_EQ(token->expires, kNow + 300);
}

TEST_F(OidcTest, AnEs256TokenWithAnAudienceListVerifies) {
  // Kubernetes service account tokens carry aud as an array.
  auto claims = githubClaims();
  claims["sub"] = "system:serviceaccount:ci:builder";
  claims["aud"] = json::array{"https://kubernetes.default.svc", "api://BerthTokenExchange"};
  auto token = verify(signedToken(keys_[1], claims));
  ASSERT_TRUE(token.ok()) << token.error().detail;
  EXPECT_EQ(token->audiences.size(), 2u);
}

TEST_F(OidcTest, KeysAreFetchedOnceAndKeptWhileFresh) {
  ASSERT_TRUE(verify(signedToken(keys_[0], githubClaims())).ok());
  ASSERT_TRUE(verify(signedToken(keys_[1], githubClaims())).ok());
  EXPECT_EQ(jwksFetches(), 1);
  // Past their lifetime they are fetched again.
  auto later = githubClaims();
  later["exp"] = kNow + 4000;
  ASSERT_TRUE(verify(signedToken(keys_[0], later), kNow + 3700).ok());
  EXPECT_EQ(jwksFetches(), 2);
}

TEST_F(OidcTest, AnUnknownKeyIdFetchesTheKeysAgainAtMostOncePerInterval) {
  ASSERT_TRUE(verify(signedToken(keys_[0], githubClaims())).ok());
  // The issuer rotates: a new key, published after berth cached the old set.
  keys_.push_back(TestKey::rsa("rsa-2"));
  // Within the interval of the last fetch the cached set answers, and the new key is unknown.
  EXPECT_REFUSED(verify(signedToken(keys_[2], githubClaims()), kNow + 10), "does not publish");
  EXPECT_EQ(jwksFetches(), 1);
  auto token = verify(signedToken(keys_[2], githubClaims()), kNow + 31);
  ASSERT_TRUE(token.ok()) << token.error().detail;
  EXPECT_EQ(jwksFetches(), 2);
  // A key the issuer never published: one more fetch once the interval is over, then none.
  TestKey stranger = TestKey::rsa("stranger");
  EXPECT_REFUSED(verify(signedToken(stranger, githubClaims()), kNow + 70), "does not publish");
  EXPECT_EQ(jwksFetches(), 3);
  EXPECT_REFUSED(verify(signedToken(stranger, githubClaims()), kNow + 71), "does not publish");
  EXPECT_REFUSED(verify(signedToken(stranger, githubClaims()), kNow + 72), "does not publish");
  EXPECT_EQ(jwksFetches(), 3);
}

TEST_F(OidcTest, ExpiredAndNotYetValidTokensAreRefused) {
  auto claims = githubClaims();
  claims["exp"] = kNow - 61;  // past the 60 s leeway
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "expired");
  claims["exp"] = kNow - 30;  // within it
  EXPECT_TRUE(verify(signedToken(keys_[0], claims)).ok());
  claims = githubClaims();
  claims["nbf"] = kNow + 120;
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "not valid yet");
  claims = githubClaims();
  claims.erase("exp");
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "no expiry");
}

TEST_F(OidcTest, AnExpiryAtTheEndOfTimeIsNoOverflow) {
  auto claims = githubClaims();
  claims["exp"] = INT64_MAX;
  EXPECT_TRUE(verify(signedToken(keys_[0], claims)).ok());
}

TEST_F(OidcTest, ConcurrentFirstTokensWaitForOneFetch) {
  // Two tokens of an issuer whose keys are not cached yet, at once: the second waits for the
  // first one's fetch and uses it; it is neither refused nor fetched for again.
  std::atomic<int> started{0};
  OidcVerifier slow(
      [&](const std::string& url) {
        ++started;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return fetch(url);
      },
      options());
  const std::string token = signedToken(keys_[0], githubClaims());
  Result<IdToken> first = makeError(ApiCode::Unknown), second = makeError(ApiCode::Unknown);
  std::thread a([&] { first = slow.verify(token, kNow); });
  std::thread b([&] { second = slow.verify(token, kNow); });
  a.join();
  b.join();
  EXPECT_TRUE(first.ok()) << first.error().detail;
  EXPECT_TRUE(second.ok()) << second.error().detail;
  EXPECT_EQ(jwksFetches(), 1);
}

TEST_F(OidcTest, AlgNoneIsRefused) {
  json::object header{{"alg", "none"}, {"typ", "JWT"}};
  EXPECT_REFUSED(verify(encode(header) + "." + encode(githubClaims()) + "."), "\"none\"");
  EXPECT_EQ(jwksFetches(), 0);
}

TEST_F(OidcTest, Hs256SignedWithThePublicKeyIsRefused) {
  // The classic confusion: an HMAC whose secret is the issuer's public key.
  const std::string pem = keys_[0].publicPem();
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "rsa-1"}};
  const std::string input = encode(header) + "." + encode(githubClaims());
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), pem.data(), static_cast<int>(pem.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  const std::string token =
      input + "." + base64urlEncode(std::string(reinterpret_cast<char*>(mac), length));
  EXPECT_REFUSED(verify(token), "\"HS256\"");
}

TEST_F(OidcTest, AKeyIsUsedOnlyWithItsOwnAlgorithm) {
  // An RS256 header pointing at the EC key, and an ES256 one at the RSA key.
  EXPECT_REFUSED(verify(signedToken(keys_[0], githubClaims(), "ES256")), "signature");
  json::object header{{"alg", "RS256"}, {"kid", "ec-1"}};
  const std::string input = encode(header) + "." + encode(githubClaims());
  EXPECT_REFUSED(verify(input + "." + base64urlEncode(keys_[1].sign(input))), "signature");
}

TEST_F(OidcTest, ATamperedTokenIsRefused) {
  const std::string token = signedToken(keys_[0], githubClaims());
  auto claims = githubClaims();
  claims["sub"] = "repo:org/app:ref:refs/heads/release";
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  const std::string tampered = token.substr(0, first + 1) + encode(claims) + token.substr(second);
  EXPECT_REFUSED(verify(tampered), "signature");
  // A flipped signature byte.
  std::string flipped = token;
  flipped[second + 5] = flipped[second + 5] == 'A' ? 'B' : 'A';
  EXPECT_REFUSED(verify(flipped), "signature");
}

TEST_F(OidcTest, MalformedTokensAreRefusedWithoutAFetch) {
  EXPECT_REFUSED(verify("not-a-token"), "three");
  EXPECT_REFUSED(verify("a.b.c"), "JSON");
  EXPECT_REFUSED(verify(std::string(20000, 'a')), "16 KiB");
  auto claims = githubClaims();
  claims.erase("iss");
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "issuer");
  EXPECT_EQ(jwksFetches(), 0);
}

TEST_F(OidcTest, ATokenWithoutSubjectOrAudienceIsRefused) {
  auto claims = githubClaims();
  claims.erase("sub");
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "subject");
  claims = githubClaims();
  claims.erase("aud");
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "audience");
}

TEST_F(OidcTest, ADiscoveryDocumentNamingAnotherIssuerIsRefused) {
  discoveryIssuer_ = "https://impostor.example";
  EXPECT_REFUSED(verify(signedToken(keys_[0], githubClaims())), "another issuer");
  EXPECT_EQ(jwksFetches(), 0);
}

TEST_F(OidcTest, PlainHttpIssuersNeedTheOption) {
  auto claims = githubClaims();
  claims["iss"] = "http://127.0.0.1:9/issuer";
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "https");
  EXPECT_TRUE(fetches_.empty()) << "nothing is fetched from a refused URL";
}

TEST_F(OidcTest, AnUnreachableIssuerIsRefusedAndNotAskedAgainAtOnce) {
  auto claims = githubClaims();
  claims["iss"] = "https://unreachable.example";
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims)), "could not be read");
  EXPECT_REFUSED(verify(signedToken(keys_[0], claims), kNow + 1), "trying again");
  EXPECT_EQ(fetches_["https://unreachable.example/.well-known/openid-configuration"], 1);
}

TEST_F(OidcTest, WeakRsaKeysAreNotTrusted) {
  keys_.clear();
  keys_.push_back(TestKey::rsa("weak", 1024));
  EXPECT_REFUSED(verify(signedToken(keys_[0], githubClaims())), "does not publish");
}

TEST_F(OidcTest, TheIssuerIsReadBeforeAnythingIsVerified) {
  auto issuer = OidcVerifier::unverifiedIssuer(signedToken(keys_[0], githubClaims()));
  ASSERT_TRUE(issuer.ok());
  EXPECT_EQ(*issuer, kIssuer);
  EXPECT_FALSE(OidcVerifier::unverifiedIssuer("x.y.z").ok());
}

TEST(FederatedSubject, ExactOrAPrefixEndingInAStar) {
  EXPECT_TRUE(
      subjectMatches("repo:org/app:ref:refs/heads/main", "repo:org/app:ref:refs/heads/main"));
  EXPECT_FALSE(
      subjectMatches("repo:org/app:ref:refs/heads/main", "repo:org/app:ref:refs/heads/mainx"));
  EXPECT_TRUE(
      subjectMatches("repo:org/app:ref:refs/heads/*", "repo:org/app:ref:refs/heads/feature/x"));
  EXPECT_FALSE(
      subjectMatches("repo:org/app:ref:refs/heads/*", "repo:org/app2:ref:refs/heads/main"));
  EXPECT_FALSE(subjectMatches("repo:org/app:*", "repo:org/ap"));
  EXPECT_TRUE(subjectMatches("*", "anything"));
}

}  // namespace
}  // namespace berth::auth
