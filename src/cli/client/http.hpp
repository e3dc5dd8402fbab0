#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/client/error.hpp"

namespace berth::cli::client {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::optional<std::string> body;
  std::string caFile;  // PEM bundle to verify the server with; empty: the system's
  // libcurl CONNECT_TO entries ("HOST:PORT:CONNECT-HOST:CONNECT-PORT"): reach a name without
  // resolving it, keeping it as Host and TLS SNI.
  std::vector<std::string> connectTo;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  // The last value of a header, by case-insensitive name.
  std::optional<std::string> header(std::string_view name) const;
};

// The request never reached an HTTP answer: refused, timed out, TLS failed.
class TransportError : public ClientError {
 public:
  TransportError(const std::string& message, bool tls) : ClientError(message), tls_(tls) {}
  // The failure was in the TLS handshake or certificate verification.
  bool tls() const { return tls_; }

 private:
  bool tls_;
};

// One libcurl easy handle, reused so that consecutive requests share a connection.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Throws TransportError when no HTTP response arrives.
  HttpResponse send(const HttpRequest& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

struct UrlParts {
  std::string scheme;  // "http" or "https"
  std::string host;    // IPv6 literals keep their brackets
  std::string port;    // always set: the scheme's default when the URL has none
};

// Splits an http(s) URL; throws ClientError naming `what` when it is not one.
UrlParts parseUrl(const std::string& url, std::string_view what);

// Percent-encodes a path segment; `keep` lists characters left as they are (e.g. "/" in
// repository names, ":" in digests).
std::string escapePath(std::string_view text, std::string_view keep = "");
// Percent-encodes a query parameter value.
std::string escapeQuery(std::string_view text);

}  // namespace berth::cli::client
