#pragma once
// The auth plane: /oauth2/token (the Docker token flow on GET, OAuth2 password and refresh
// grants on POST), /oauth2/exchange (ID tokens of federated issuers) and /oauth2/jwks.
#include <functional>

#include "auth/authenticator.hpp"
#include "auth/oidc.hpp"
#include "http/message.hpp"

namespace berth::auth {

// The registry a request addresses (today the default one; later chosen by Host).
using RegistryResolver = std::function<Result<meta::RegistrySettings>(const http::Request&)>;

// Workload identity federation (POST /oauth2/exchange): the verifier of outside ID tokens,
// and the registry a `service` names (its login server or, on the management host, its name).
struct ExchangeDeps {
  OidcVerifier* verifier = nullptr;  // null: the exchange is not offered
  std::function<Result<std::optional<meta::RegistrySettings>>(std::string_view service)>
      registryOfService;
};

class TokenEndpoint final : public http::Application {
 public:
  TokenEndpoint(Authenticator& authenticator, RegistryResolver resolver, ExchangeDeps exchange = {})
      : auth_(authenticator), resolve_(std::move(resolver)), exchange_(std::move(exchange)) {}

  http::Dispatch dispatch(http::Request& request) override;

 private:
  http::Response getToken(http::Request& req, const meta::RegistrySettings& registry);
  http::Response postToken(http::Request& req, const meta::RegistrySettings& registry,
                           const std::string& body);
  http::Response grant(const http::Request& req, const meta::RegistrySettings& registry,
                       const AuthResult& auth, const std::vector<std::string>& scopes, bool offline,
                       std::optional<std::string> refreshToken);

  // grant_type=access_token: an OpenID Connect ID token for a refresh token of the service
  // principal whose federated credential it matches (ACR's exchange).
  http::Response exchange(http::Request& req, const meta::RegistrySettings& host,
                          const std::string& body);

  Authenticator& auth_;
  RegistryResolver resolve_;
  ExchangeDeps exchange_;
};

// 429 with Retry-After, for a caller over the failed-login limit.
http::Response throttled(const AuthResult& auth);

// The access a caller gets for the scopes it asked: their intersection with what it may do.
std::vector<ResourceAccess> grantAccess(const Identity& identity, bool anonymousPull,
                                        const std::vector<std::string>& scopeParams);

}  // namespace berth::auth
