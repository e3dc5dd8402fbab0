#include "portal/portal.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace berth::portal {
namespace {

constexpr std::string_view kPrefix = "/portal/";

// Scripts, styles, images and fonts from this origin only; requests to this origin only; no
// inline script or style, no plugins, no framing, no form posts elsewhere.
constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

bool acceptsGzip(const http::Request& request) {
  const auto accept = request.header("Accept-Encoding");
  if (!accept) return false;
  // "gzip", "gzip;q=0.8", "br, gzip"; "gzip;q=0" refuses it.
  const auto at = accept->find("gzip");
  if (at == std::string_view::npos) return false;
  const auto rest = accept->substr(at + 4);
  const auto q = rest.find_first_not_of(' ');
  return !(q != std::string_view::npos && rest.substr(q).starts_with(";q=0") &&
           !rest.substr(q).starts_with(";q=0."));
}

void secure(http::Response& resp) {
  resp.headers.add("Content-Security-Policy", std::string(kPolicy));
  resp.headers.add("X-Content-Type-Options", "nosniff");
  resp.headers.add("X-Frame-Options", "DENY");
  resp.headers.add("Referrer-Policy", "no-referrer");
  resp.headers.add("Cross-Origin-Opener-Policy", "same-origin");
  resp.headers.add("Cross-Origin-Resource-Policy", "same-origin");
}

const Asset* find(std::string_view name) {
  const auto all = assets();
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const Asset& a) { return a.name == name; });
  return it == all.end() ? nullptr : &*it;
}

}  // namespace

bool isPortalPath(std::string_view path) {
  return path == "/" || path == "/index.html" || path.starts_with(kPrefix);
}

http::Response serve(const http::Request& request) {
  const bool head = request.method == http::Method::Head;
  if (request.method != http::Method::Get && !head) {
    auto refused = http::Response::error(makeError(ApiCode::Unsupported, "use GET", 405));
    refused.headers.add("Allow", "GET, HEAD");
    return refused;
  }
  const std::string_view path = request.path;
  const std::string_view name =
      path.starts_with(kPrefix) ? path.substr(kPrefix.size()) : std::string_view("index.html");
  const Asset* asset = name.find('/') == std::string_view::npos ? find(name) : nullptr;
  if (asset == nullptr) {
    auto missing = http::Response::error(
        makeError(ApiCode::NotFound, "no such file of the portal: " + std::string(path), 404));
    secure(missing);
    return missing;
  }
  http::Response resp;
  secure(resp);
  resp.headers.add("ETag", std::string(asset->etag));
  // Always asked again, answered 304 while unchanged: a new berth serves its new portal at
  // once.
  resp.headers.add("Cache-Control", "no-cache");
  resp.headers.add("Vary", "Accept-Encoding");
  if (request.header("If-None-Match") == asset->etag) {
    resp.status = 304;
    return resp;
  }
  resp.headers.add("Content-Type", std::string(asset->contentType));
  const bool gzip = acceptsGzip(request);
  if (gzip) resp.headers.add("Content-Encoding", "gzip");
  const auto body = gzip ? asset->gzip : asset->body;
  if (head) {
    resp.contentLength = body.size();
  } else {
    resp.body = std::string(body);
  }
  return resp;
}

}  // namespace berth::portal
