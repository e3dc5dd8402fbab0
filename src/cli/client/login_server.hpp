#pragma once
#include <string>
#include <vector>

#include "cli/client/config.hpp"
#include "cli/client/http.hpp"

namespace berth::cli::client {

// A registry's login server (`myregistry.registry.example:5000`), reached without DNS: libcurl
// connects to the configured server's address (CURLOPT_CONNECT_TO) while the Host header and
// the TLS server name stay the login server's, which is how berth tells its registries apart.
class LoginServer {
 public:
  LoginServer(const Endpoint& endpoint, std::string loginServer);

  const std::string& name() const { return loginServer_; }
  // The login server's URL for `path`, in the configured server's scheme.
  std::string url(const std::string& path) const;
  // GET `url`, any host in it sent to the configured server.
  HttpResponse get(HttpClient& http, const std::string& url,
                   std::vector<std::string> headers) const;

 private:
  std::string loginServer_;
  std::string caFile_;
  UrlParts server_;
};

// "Basic base64(user:password)".
std::string basicAuthorization(const std::string& user, const std::string& password);
std::string base64(std::string_view data);

}  // namespace berth::cli::client
