#include "cli/client/control.hpp"

#include <set>

namespace berth::cli::client {
namespace json = boost::json;
namespace {

// A single line: an error message must not break the one-line contract of stderr.
std::string oneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text;
}

json::value parseBody(const HttpResponse& response, const std::string& path) {
  if (response.body.empty()) return nullptr;
  json::error_code ec;
  json::value value = json::parse(response.body, ec);
  if (ec) throw ClientError("the server's reply to " + path + " is not JSON");
  return value;
}

// The target of `Link: <...>; rel="next"`, if any.
std::optional<std::string> nextLink(const HttpResponse& response) {
  const auto link = response.header("link");
  if (!link || link->find("rel=\"next\"") == std::string::npos) return std::nullopt;
  const auto open = link->find('<');
  const auto close = link->find('>', open);
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  return link->substr(open + 1, close - open - 1);
}

}  // namespace

std::string errorMessage(const HttpResponse& response) {
  json::error_code ec;
  const json::value value = json::parse(response.body, ec);
  if (!ec && value.is_object()) {
    const auto* error = value.as_object().if_contains("error");
    if (error != nullptr && error->is_object()) {
      const auto* code = error->as_object().if_contains("code");
      const auto* message = error->as_object().if_contains("message");
      std::string text;
      if (message != nullptr && message->is_string()) text = message->as_string();
      if (code != nullptr && code->is_string()) {
        if (!text.empty()) text += ' ';
        text.append("(").append(code->as_string()).append(")");
      }
      if (!text.empty()) return oneLine(text);
    }
  }
  return "the server answered HTTP " + std::to_string(response.status);
}

ControlClient::ControlClient(Endpoint endpoint) : endpoint_(std::move(endpoint)) {
  parseUrl(endpoint_.server, "the server");
}

ControlClient ControlClient::open() { return ControlClient(resolveEndpoint()); }

HttpResponse ControlClient::call(const std::string& method, const std::string& path,
                                 const std::optional<json::value>& body) {
  HttpRequest request;
  request.method = method;
  request.url = endpoint_.server + path;
  request.caFile = endpoint_.caFile;
  if (!endpoint_.sessionCookie.empty()) {
    // Signed in by `berth login --user`; the header is the session's CSRF guard.
    request.headers = {"Cookie: berth_session=" + endpoint_.sessionCookie, "X-Berth-Request: cli",
                       "Accept: application/json"};
  } else if (!endpoint_.operatorToken.empty()) {
    request.headers = {"Authorization: Bearer " + endpoint_.operatorToken,
                       "Accept: application/json"};
  } else {
    throw ClientError(
        "not signed in: run `berth login --user NAME`, or give the operator token with `berth "
        "configure --operator-token-file FILE` or BERTH_OPERATOR_TOKEN");
  }
  if (body) {
    request.body = json::serialize(*body);
    request.headers.push_back("Content-Type: application/json");
  }
  HttpResponse response = http_.send(request);
  if (response.status == 401 && !endpoint_.sessionCookie.empty()) {
    throw ClientError(errorMessage(response) + "; sign in again with `berth login --user " +
                      endpoint_.sessionIdentity + "`, or `berth logout`");
  }
  if (response.status < 200 || response.status >= 300) {
    throw ClientError(errorMessage(response));
  }
  return response;
}

json::value ControlClient::get(const std::string& path) {
  return parseBody(call("GET", path, std::nullopt), path);
}

json::array ControlClient::getAllPages(const std::string& path, std::optional<size_t> limit) {
  json::array all;
  std::set<std::string> seen;
  std::optional<std::string> next = path;
  while (next && (!limit || all.size() < *limit)) {
    // A server that points back at a page it sent must not keep the CLI going round.
    if (!seen.insert(*next).second) {
      throw ClientError("the server's next-page link repeats " + *next);
    }
    const HttpResponse response = call("GET", *next, std::nullopt);
    json::value page = parseBody(response, *next);
    if (!page.is_array()) throw ClientError("the server's reply to " + *next + " is not a list");
    for (auto& item : page.as_array()) all.push_back(std::move(item));
    next = nextLink(response);
    // The operator token goes to the configured server only.
    if (next && next->starts_with(endpoint_.server + "/")) {
      next = next->substr(endpoint_.server.size());
    }
    if (next && !next->starts_with("/")) {
      throw ClientError("the server's next-page link leaves " + endpoint_.server);
    }
  }
  if (limit && all.size() > *limit) all.resize(*limit);
  return all;
}

json::value ControlClient::post(const std::string& path, const json::value& body) {
  return parseBody(call("POST", path, body), path);
}

json::value ControlClient::post(const std::string& path) {
  return parseBody(call("POST", path, std::nullopt), path);
}

json::value ControlClient::patch(const std::string& path, const json::value& body) {
  return parseBody(call("PATCH", path, body), path);
}

json::value ControlClient::remove(const std::string& path) {
  return parseBody(call("DELETE", path, std::nullopt), path);
}

std::string registriesPath() { return "/api/v1/registries"; }

std::string registryPath(std::string_view registry) {
  return registriesPath() + "/" + escapePath(registry);
}

std::string repositoryPath(std::string_view registry, std::string_view repository) {
  return registryPath(registry) + "/repositories/" + escapePath(repository, "/");
}

std::string tagPath(std::string_view registry, std::string_view repository, std::string_view tag) {
  return repositoryPath(registry, repository) + "/_tags/" + escapePath(tag);
}

std::string manifestPath(std::string_view registry, std::string_view repository,
                         std::string_view digest) {
  return repositoryPath(registry, repository) + "/_manifests/" + escapePath(digest, ":");
}

std::string scopeMapPath(std::string_view registry, std::string_view name) {
  return registryPath(registry) + "/scope-maps/" + escapePath(name);
}

std::string tokenPath(std::string_view registry, std::string_view name) {
  return registryPath(registry) + "/tokens/" + escapePath(name);
}

}  // namespace berth::cli::client
