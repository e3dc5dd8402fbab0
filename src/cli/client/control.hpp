#pragma once
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli/client/config.hpp"
#include "cli/client/http.hpp"

namespace berth::cli::client {

// The control API (/api/v1) as the operator sees it. Every failure becomes a ClientError whose
// message is the API's own, e.g. `registry "foo" not found (NOT_FOUND)`.
class ControlClient {
 public:
  explicit ControlClient(Endpoint endpoint);
  // Reads the configuration and the environment.
  static ControlClient open();

  boost::json::value get(const std::string& path);
  // Follows `Link: <...>; rel="next"` and concatenates the pages' arrays.
  // Stops once it has `limit` items, when given.
  boost::json::array getAllPages(const std::string& path,
                                 std::optional<size_t> limit = std::nullopt);
  boost::json::value post(const std::string& path, const boost::json::value& body);
  // A POST without a body.
  boost::json::value post(const std::string& path);
  boost::json::value patch(const std::string& path, const boost::json::value& body);
  // The reply body when there is one (null for 204).
  boost::json::value remove(const std::string& path);

  const Endpoint& endpoint() const { return endpoint_; }
  // For requests outside /api/v1 (health, the registry's login server).
  HttpClient& http() { return http_; }

 private:
  HttpResponse call(const std::string& method, const std::string& path,
                    const std::optional<boost::json::value>& body);

  Endpoint endpoint_;
  HttpClient http_;
};

// Paths of the control API, their variable parts percent-encoded.
std::string registriesPath();
std::string registryPath(std::string_view registry);
std::string repositoryPath(std::string_view registry, std::string_view repository);
std::string tagPath(std::string_view registry, std::string_view repository, std::string_view tag);
std::string manifestPath(std::string_view registry, std::string_view repository,
                         std::string_view digest);
std::string scopeMapPath(std::string_view registry, std::string_view name);
std::string tokenPath(std::string_view registry, std::string_view name);

// The message of an API error reply, `<message> (<code>)`, or a description of the status.
std::string errorMessage(const HttpResponse& response);

}  // namespace berth::cli::client
