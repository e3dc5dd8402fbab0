#pragma once
// OpenID Connect ID tokens of outside issuers (GitHub Actions, GitLab CI, a Kubernetes
// cluster), as workload identity federation presents them to /oauth2/exchange. The issuer's
// discovery document (<issuer>/.well-known/openid-configuration) names its JWKS; keys are
// cached per issuer, and fetched again when they age out or a token names a key id the cache
// does not hold (at most once per `unknownKeyRefetch`). RS256 and ES256 only: `none`, HMAC and
// every other algorithm are refused, whatever key the header points at.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"

namespace berth::auth {

// GETs `url` and returns its body (an error for a transport failure or a status other than
// 200). Blocking: the verifier runs on the blocking pool.
using Fetch = std::function<Result<std::string>(const std::string& url)>;

struct OidcOptions {
  std::chrono::seconds keysLifetime{3600};     // a JWKS is fetched again after this long
  std::chrono::seconds unknownKeyRefetch{30};  // an unknown kid fetches again at most this often
  std::chrono::seconds leeway{60};             // clock skew allowed on exp and nbf
  bool allowHttp = false;                      // issuers and JWKS over plain http (tests)
  size_t maxIssuers = 256;                     // issuers whose keys are cached
};

// A verified ID token's claims.
struct IdToken {
  std::string issuer;
  std::string subject;
  std::vector<std::string> audiences;
  int64_t expires = 0;
};

class OidcVerifier {
 public:
  OidcVerifier(Fetch fetch, OidcOptions options);
  ~OidcVerifier();

  // The token's `iss`, read without verifying anything: whether berth trusts that issuer at
  // all is decided before any key is fetched from it.
  static Result<std::string> unverifiedIssuer(std::string_view token);

  // Verifies the token's algorithm, signature (by a key of its issuer's JWKS), exp, nbf and
  // sub. An Unauthorized error says what failed.
  Result<IdToken> verify(std::string_view token, int64_t now);

 private:
  struct Key;
  struct Issuer {
    std::vector<std::shared_ptr<const Key>> keys;
    int64_t fetched = 0;
  };
  Result<std::shared_ptr<const Issuer>> keysOf(const std::string& issuer, int64_t now,
                                               bool unknownKid);
  // The issuer's keys as fetched at `now`.
  Result<std::shared_ptr<const Issuer>> fetchKeys(const std::string& issuer, int64_t now);
  Result<void> checkUrl(const std::string& url) const;

  Fetch fetch_;
  OidcOptions options_;
  std::mutex mutex_;
  // Held while keys are fetched: a request that finds an issuer's keys being fetched waits for
  // that fetch and uses its result instead of being turned away or fetching again.
  std::mutex fetching_;
  std::unordered_map<std::string, std::shared_ptr<const Issuer>> issuers_;
  std::unordered_map<std::string, int64_t> attempts_;  // issuer -> last fetch started
};

}  // namespace berth::auth
