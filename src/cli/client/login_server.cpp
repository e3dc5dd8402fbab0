#include "cli/client/login_server.hpp"

#include <openssl/evp.h>

namespace berth::cli::client {

LoginServer::LoginServer(const Endpoint& endpoint, std::string loginServer)
    : loginServer_(std::move(loginServer)),
      caFile_(endpoint.caFile),
      server_(parseUrl(endpoint.server, "the server")) {
  // Rejects a login server that is not a plain host[:port].
  if (loginServer_.find_first_of("/?#@ ") != std::string::npos) {
    throw ClientError("the server gave an invalid login server \"" + loginServer_ + "\"");
  }
  parseUrl(url("/"), "the login server");
}

std::string LoginServer::url(const std::string& path) const {
  return server_.scheme + "://" + loginServer_ + path;
}

HttpResponse LoginServer::get(HttpClient& http, const std::string& url,
                              std::vector<std::string> headers) const {
  const UrlParts target = parseUrl(url, "the URL");
  if (target.scheme != server_.scheme) {
    throw ClientError("refusing to follow " + url + ": the server uses " + server_.scheme);
  }
  HttpRequest request;
  request.url = url;
  request.headers = std::move(headers);
  request.caFile = caFile_;
  // Whatever host the URL names, the connection goes to the configured server.
  request.connectTo = {target.host + ":" + target.port + ":" + server_.host + ":" + server_.port};
  return http.send(request);
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string basicAuthorization(const std::string& user, const std::string& password) {
  return "Basic " + base64(user + ":" + password);
}

}  // namespace berth::cli::client
