#include "upstream/client.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <cctype>

#include "auth/base64url.hpp"
#include "core/reference.hpp"
#include "upstream/challenge.hpp"

namespace berth::upstream {
namespace json = boost::json;
using storage::object::HttpRequest;
using storage::object::HttpResponse;

namespace {

constexpr std::string_view kManifestTypes =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr size_t kErrorBodyLimit = 64 * 1024;
constexpr int kRefused = 424;  // the upstream refused us: Failed Dependency

bool isHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
         c == '[' || c == ']';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error upstreamError(ApiCode code, int status, std::string text) {
  Error e = explainedError(code, std::move(text));
  e.status = status;
  return e;
}

// "scheme://host:port" of a URL, to tell where credentials may go.
std::string originOf(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return {};
  return lower(u->scheme()) + "://" + lower(u->encoded_host_and_port());
}

// Text an upstream chose, fit for a log line, a header or a message: control characters become
// spaces, and it stops after 300 bytes.
std::string printable(std::string text) {
  if (text.size() > 300) text.resize(300);
  for (auto& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The first error of an OCI error body, "CODE: message", or the start of any other body.
std::string reasonOf(const HttpResponse& response) {
  boost::system::error_code ec;
  auto doc = json::parse(response.body, ec);
  if (!ec && doc.is_object()) {
    const auto* errors = doc.as_object().if_contains("errors");
    if (errors && errors->is_array() && !errors->as_array().empty() &&
        errors->as_array()[0].is_object()) {
      const auto& first = errors->as_array()[0].as_object();
      std::string out;
      if (const auto* c = first.if_contains("code"); c && c->is_string()) out = c->as_string();
      if (const auto* m = first.if_contains("message"); m && m->is_string()) {
        if (!out.empty()) out += ": ";
        out += m->as_string();
      }
      if (!out.empty()) return printable(std::move(out));
    }
  }
  return printable(response.body.substr(0, 200));
}

std::string mediaTypeOf(const HttpResponse& response, std::string_view body) {
  std::string type = response.header("content-type").value_or("");
  if (const auto semi = type.find(';'); semi != type.npos) type.resize(semi);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (!type.empty() && type != "application/json" && type != "application/octet-stream") {
    return type;
  }
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  if (!ec && doc.is_object()) {
    if (const auto* m = doc.as_object().if_contains("mediaType"); m && m->is_string()) {
      return std::string(m->as_string());
    }
  }
  return type;
}

bool isRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string encoded(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 15];
      out += kHex[static_cast<unsigned char>(c) & 15];
    }
  }
  return out;
}

}  // namespace

std::string ImageRef::str() const {
  std::string out = host + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<ImageRef> parseImageRef(std::string_view text) {
  auto bad = [&](std::string why) {
    return explainedError(
        ApiCode::NameInvalid,
        "invalid image reference \"" + std::string(text.substr(0, 300)) + "\": " + why);
  };
  if (text.empty() || text.size() > 1024) return bad("empty or too long");
  ImageRef ref;
  std::string_view rest = text;
  if (const auto at = rest.find('@'); at != rest.npos) {
    auto digest = Digest::parse(rest.substr(at + 1));
    if (!digest) return bad("the digest is not one");
    ref.digest = digest->str();
    rest = rest.substr(0, at);
  }
  const auto slash = rest.find('/');
  if (slash != rest.npos) {
    const auto first = rest.substr(0, slash);
    if (first.find_first_of(".:") != first.npos || first == "localhost") {
      if (!std::all_of(first.begin(), first.end(), isHostChar)) return bad("the host is not one");
      ref.host = lower(first);
      rest = rest.substr(slash + 1);
    }
  }
  if (ref.host.empty()) ref.host = "docker.io";
  if (ref.host == "index.docker.io" || ref.host == "registry-1.docker.io") ref.host = "docker.io";
  if (const auto colon = rest.rfind(':');
      colon != rest.npos && rest.find('/', colon) == rest.npos) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!isValidTag(ref.tag)) return bad("the tag is not one");
  }
  ref.repository = std::string(rest);
  if (ref.host == "docker.io" && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }
  if (!isValidRepositoryName(ref.repository)) return bad("the repository name is not one");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string apiHost(std::string_view host) {
  return host == "docker.io" ? "registry-1.docker.io" : std::string(host);
}

bool unavailable(const Error& error) {
  const int s = error.httpStatus();
  return s == 429 || s == 502 || s == 503 || s == 504;
}

Client::Client(std::string host, Credentials credentials,
               std::shared_ptr<storage::object::HttpClient> http, ClientOptions options,
               const std::atomic<bool>* stop)
    : host_(std::move(host)),
      credentials_(std::move(credentials)),
      http_(std::move(http)),
      options_(std::move(options)),
      stop_(stop) {
  // An entry names the host and port, or the host alone (then every port of it).
  const auto colon = host_.rfind(':');
  const std::string hostOnly =
      colon != std::string::npos && host_.find(']', colon) == std::string::npos
          ? host_.substr(0, colon)
          : host_;
  const bool plain =
      std::any_of(options_.insecureRegistries.begin(), options_.insecureRegistries.end(),
                  [&](const std::string& entry) { return entry == host_ || entry == hostOnly; });
  base_ = (plain ? "http://" : "https://") + apiHost(host_);
}

Error Client::failure(std::string_view what, const HttpResponse& response) const {
  std::string text =
      "upstream " + host_ + ": " + std::string(what) + ": HTTP " + std::to_string(response.status);
  if (const auto reason = reasonOf(response); !reason.empty()) text += " " + reason;
  if (response.status == 429) return upstreamError(ApiCode::TooManyRequests, 429, text);
  if (response.status >= 500) return upstreamError(ApiCode::Unknown, 502, text);
  // What the same request would be refused again for: the operation, or the content.
  if (response.status == 405) return upstreamError(ApiCode::Unsupported, kRefused, text);
  if (response.status == 400 || response.status == 413 || response.status == 415 ||
      response.status == 422) {
    return upstreamError(ApiCode::ManifestInvalid, kRefused, text);
  }
  return upstreamError(ApiCode::Denied, kRefused, text);
}

Result<HttpResponse> Client::follow(const Call& call, const std::string& authorization) {
  std::string url = call.path.starts_with("/") ? base_ + call.path : call.path;
  const std::string origin = originOf(base_ + "/");
  std::string method = call.method;
  for (unsigned hop = 0;; ++hop) {
    HttpRequest request;
    request.method = method;
    request.url = url;
    request.headers = call.headers;
    if (method == call.method) {  // a 303 leads to a GET without the body
      request.body = call.body;
      request.bodyFd = call.bodyFd;
      request.bodyOffset = call.bodyOffset;
      request.bodyLength = call.bodyLength;
    }
    if (!authorization.empty() && originOf(url) == origin) {
      request.headers.emplace_back("Authorization", authorization);
    }
    request.onData = call.onData;
    request.onLength = call.onLength;
    request.responseLimit = call.responseLimit;
    request.stop = stop_;
    auto response = http_->perform(std::move(request));
    if (!response) {
      // "upstream unreachable: why" from a client whose peer is "upstream": name which.
      std::string detail = response.error().detail;
      if (detail.starts_with("upstream ")) detail.erase(0, 9);
      return upstreamError(ApiCode::Unknown, 503, "upstream " + host_ + " " + detail);
    }
    if (!isRedirect(response->status)) return response;
    const auto location = response->header("location");
    if (!location) return response;
    if (hop >= options_.maxRedirects) {
      return upstreamError(ApiCode::Unknown, kRefused,
                           "upstream " + host_ + ": more than " +
                               std::to_string(options_.maxRedirects) + " redirects");
    }
    auto reference = boost::urls::parse_uri_reference(*location);
    boost::urls::url next(url);
    if (!reference || next.resolve(*reference).has_error() ||
        (next.scheme() != "http" && next.scheme() != "https")) {
      return upstreamError(ApiCode::Unknown, kRefused,
                           "upstream " + host_ + ": a redirect to an invalid location");
    }
    url = std::string(next.buffer());
    if (response->status == 303 && method != "HEAD") method = "GET";
  }
}

std::string Client::authorizationFor(const std::string& scope) {
  std::lock_guard lock(mutex_);
  if (scheme_ == Scheme::Basic) {
    return "Basic " + auth::base64Encode(credentials_.username + ":" + credentials_.password);
  }
  if (scheme_ == Scheme::Bearer) {
    auto it = tokens_.find(scope);
    if (it != tokens_.end() && it->second.expires > std::chrono::steady_clock::now()) {
      return "Bearer " + it->second.value;
    }
  }
  return {};
}

Result<std::string> Client::fetchToken(const std::string& realm, const std::string& service,
                                       const std::string& scope) {
  auto parsed = boost::urls::parse_absolute_uri(realm);
  if (!parsed || (parsed->scheme() != "https" && parsed->scheme() != "http")) {
    return upstreamError(ApiCode::Denied, kRefused,
                         "upstream " + host_ + ": its token realm is not an http(s) URL");
  }
  // Credentials go over plain HTTP only to an upstream reached over plain HTTP itself.
  if (parsed->scheme() == "http" && base_.starts_with("https:")) {
    return upstreamError(ApiCode::Denied, kRefused,
                         "upstream " + host_ + ": its token realm " + realm +
                             " is plain http; berth sends credentials over https only");
  }
  std::string url = realm;
  url += realm.find('?') == std::string::npos ? '?' : '&';
  if (!service.empty()) url += "service=" + encoded(service) + "&";
  url += "scope=" + encoded(scope);
  HttpRequest request;
  request.url = url;
  request.responseLimit = 1 << 20;
  request.stop = stop_;
  if (!credentials_.empty()) {
    request.headers.emplace_back(
        "Authorization",
        "Basic " + auth::base64Encode(credentials_.username + ":" + credentials_.password));
  }
  auto response = http_->perform(std::move(request));
  if (!response) {
    return upstreamError(ApiCode::Unknown, 503,
                         "upstream " + host_ + "'s token service: " + response.error().detail);
  }
  if (response->status == 401 || response->status == 403) {
    return upstreamError(ApiCode::Denied, kRefused,
                         "upstream " + host_ + " refused the credentials" +
                             (credentials_.empty() ? std::string(" (none were given)")
                                                   : " of " + credentials_.username) +
                             " at its token service");
  }
  if (response->status != 200) return failure("its token service", *response);
  boost::system::error_code ec;
  auto doc = json::parse(response->body, ec);
  std::string token;
  int64_t lifetime = 60;
  if (!ec && doc.is_object()) {
    const auto& o = doc.as_object();
    for (const char* key : {"token", "access_token"}) {
      if (const auto* t = o.if_contains(key); t && t->is_string() && token.empty()) {
        token = t->as_string();
      }
    }
    if (const auto* e = o.if_contains("expires_in"); e && e->is_int64()) {
      lifetime = std::clamp<int64_t>(e->as_int64(), 1, 86400);
    }
  }
  if (token.empty()) {
    return upstreamError(ApiCode::Denied, kRefused,
                         "upstream " + host_ + "'s token service answered without a token");
  }
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (tokens_.size() >= options_.maxTokens) {
    std::erase_if(tokens_, [&](const auto& entry) { return entry.second.expires <= now; });
    if (tokens_.size() >= options_.maxTokens) tokens_.clear();
  }
  // Used until shortly before it ends, so that none expires on its way.
  const auto margin = std::chrono::seconds(std::min<int64_t>(10, lifetime / 4));
  tokens_[scope] = Token{token, now + std::chrono::seconds(lifetime) - margin};
  return token;
}

Result<HttpResponse> Client::send(Call call, std::string_view repository,
                                  std::string_view actions) {
  const std::string scope = "repository:" + std::string(repository) + ":" + std::string(actions);
  for (bool answered = false;; answered = true) {
    auto response = follow(call, authorizationFor(scope));
    if (!response || response->status != 401) return response;
    const auto challenge = preferredChallenge(response->header("www-authenticate").value_or(""));
    if (answered || !challenge) {
      if (!challenge && !answered) {
        return upstreamError(ApiCode::Denied, kRefused,
                             "upstream " + host_ + " answered 401 without a challenge to answer");
      }
      return upstreamError(
          ApiCode::Denied, kRefused,
          "upstream " + host_ + " refused " +
              (credentials_.empty() ? std::string("anonymous access")
                                    : "the credentials of " + credentials_.username) +
              " to " + std::string(repository) + " (" + reasonOf(*response) + ")");
    }
    if (challenge->scheme == "basic") {
      if (credentials_.empty()) {
        return upstreamError(ApiCode::Denied, kRefused,
                             "upstream " + host_ + " requires credentials (none were given)");
      }
      std::lock_guard lock(mutex_);
      scheme_ = Scheme::Basic;
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      scheme_ = Scheme::Bearer;
    }
    auto token = fetchToken(challenge->param("realm"), challenge->param("service"), scope);
    if (!token) return token.takeError();
  }
}

Result<Manifest> Client::manifest(std::string_view repository, std::string_view reference) {
  Call call;
  call.path = "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  call.headers.emplace_back("Accept", std::string(kManifestTypes));
  std::string body;
  bool tooLarge = false;
  call.onData = [&](const char* data, size_t size) {
    if (body.size() + size > options_.maxManifestBytes) {
      tooLarge = true;
      return false;
    }
    body.append(data, size);
    return true;
  };
  call.responseLimit = kErrorBodyLimit;
  const std::string what = std::string(repository) + ":" + std::string(reference);
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (tooLarge) {
    return upstreamError(ApiCode::ManifestInvalid, kRefused,
                         "upstream " + host_ + ": the manifest " + what + " is larger than " +
                             std::to_string(options_.maxManifestBytes) + " bytes");
  }
  if (response->status == 404) {
    return upstreamError(ApiCode::ManifestUnknown, 404,
                         "upstream " + host_ + " has no manifest " + what);
  }
  if (response->status != 200) return failure("manifest " + what, *response);
  auto asked = Digest::parse(reference);
  Manifest m;
  if (asked) {
    auto algorithm = Hasher::forName(asked->algorithm());
    if (!algorithm) {
      return upstreamError(ApiCode::DigestInvalid, kRefused,
                           "unsupported digest algorithm " + std::string(asked->algorithm()));
    }
    Hasher hasher(*algorithm);
    hasher.update(body);
    m.digest = hasher.finish();
    if (m.digest != asked->str()) {
      return upstreamError(
          ApiCode::DigestInvalid, kRefused,
          "upstream " + host_ + " sent a manifest for " + what + " whose digest is " + m.digest);
    }
  } else {
    m.digest = sha256Digest(body);
    const auto said = response->header("docker-content-digest");
    if (said && said->starts_with("sha256:") && *said != m.digest) {
      return upstreamError(ApiCode::DigestInvalid, kRefused,
                           "upstream " + host_ + " named the manifest " + what + " " + *said +
                               " and sent bytes whose digest is " + m.digest);
    }
  }
  m.mediaType = mediaTypeOf(*response, body);
  m.body = std::move(body);
  return m;
}

Result<std::optional<ManifestHead>> Client::headManifest(std::string_view repository,
                                                         std::string_view reference) {
  Call call;
  call.method = "HEAD";
  call.path = "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  call.headers.emplace_back("Accept", std::string(kManifestTypes));
  const std::string what = std::string(repository) + ":" + std::string(reference);
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (response->status == 404) return std::optional<ManifestHead>();
  if (response->status != 200) return failure("manifest " + what, *response);
  ManifestHead head;
  const auto digest = Digest::parse(response->header("docker-content-digest").value_or(""));
  if (!digest) {
    // Not every registry says the digest on HEAD: the body then.
    auto m = manifest(repository, reference);
    if (!m) return m.takeError();
    return std::optional<ManifestHead>(ManifestHead{m->mediaType, m->digest, m->body.size()});
  }
  head.digest = digest->str();
  head.mediaType = mediaTypeOf(*response, "");
  const auto length = response->header("content-length").value_or("0");
  head.size = std::strtoull(length.c_str(), nullptr, 10);
  return std::optional<ManifestHead>(std::move(head));
}

Result<uint64_t> Client::blob(std::string_view repository, const Digest& digest,
                              const std::function<bool(const char*, size_t)>& onData,
                              const std::function<void(int64_t)>& onLength) {
  Call call;
  call.onLength = onLength;
  call.path = "/v2/" + std::string(repository) + "/blobs/" + digest.str();
  uint64_t size = 0;
  bool stopped = false;
  call.onData = [&](const char* data, size_t n) {
    if (!onData(data, n)) {
      stopped = true;
      return false;
    }
    size += n;
    return true;
  };
  call.responseLimit = kErrorBodyLimit;
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (stopped) {
    return makeError(ApiCode::Unknown, "the download of " + digest.str() + " was stopped");
  }
  if (response->status == 404) {
    return upstreamError(
        ApiCode::BlobUnknown, 404,
        "upstream " + host_ + " has no blob " + digest.str() + " in " + std::string(repository));
  }
  if (response->status != 200) return failure("blob " + digest.str(), *response);
  return size;
}

Result<std::vector<std::string>> Client::tags(std::string_view repository, size_t limit) {
  std::vector<std::string> out;
  std::string path = "/v2/" + std::string(repository) + "/tags/list?n=1000";
  while (!path.empty() && out.size() < limit) {
    Call call;
    call.path = path;
    call.responseLimit = 16 << 20;
    auto response = send(std::move(call), repository, actions());
    if (!response) return response.takeError();
    if (response->status == 404) {
      return upstreamError(ApiCode::NameUnknown, 404,
                           "upstream " + host_ + " has no repository " + std::string(repository));
    }
    if (response->status != 200) return failure("tags of " + std::string(repository), *response);
    boost::system::error_code ec;
    auto doc = json::parse(response->body, ec);
    if (ec || !doc.is_object()) {
      return upstreamError(ApiCode::Unknown, kRefused,
                           "upstream " + host_ + ": the tag list is not JSON");
    }
    if (const auto* t = doc.as_object().if_contains("tags"); t && t->is_array()) {
      for (const auto& tag : t->as_array()) {
        if (tag.is_string() && out.size() < limit) out.emplace_back(tag.as_string());
      }
    }
    // Link: </v2/…/tags/list?n=1000&last=x>; rel="next"
    path.clear();
    const auto link = response->header("link").value_or("");
    const auto open = link.find('<'), close = link.find('>');
    if (open != link.npos && close != link.npos && close > open &&
        link.find("rel=\"next\"") != link.npos) {
      path = link.substr(open + 1, close - open - 1);
      if (!path.starts_with("/v2/")) path.clear();  // only paths on the same registry
    }
  }
  return out;
}

Result<std::optional<std::string>> Client::referrers(std::string_view repository,
                                                     const Digest& digest) {
  Call call;
  call.path = "/v2/" + std::string(repository) + "/referrers/" + digest.str();
  call.headers.emplace_back("Accept", "application/vnd.oci.image.index.v1+json");
  call.responseLimit = options_.maxManifestBytes;
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (response->status == 404) return std::optional<std::string>();
  if (response->status != 200) return failure("referrers of " + digest.str(), *response);
  return std::optional<std::string>(std::move(response->body));
}

}  // namespace berth::upstream

namespace berth::upstream {

Result<bool> Client::hasBlob(std::string_view repository, const Digest& digest) {
  Call call;
  call.method = "HEAD";
  call.path = "/v2/" + std::string(repository) + "/blobs/" + digest.str();
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (response->status == 404) return false;
  if (response->status != 200) return failure("blob " + digest.str(), *response);
  return true;
}

Result<std::string> Client::startUpload(std::string_view repository, const Digest& digest) {
  Call call;
  call.method = "POST";
  call.path = "/v2/" + std::string(repository) + "/blobs/uploads/";
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (response->status != 202) {
    return failure("an upload of " + digest.str() + " to " + std::string(repository), *response);
  }
  return locationOf(*response, "an upload of " + digest.str());
}

Result<std::string> Client::locationOf(const HttpResponse& response, std::string_view what) {
  const auto location = response.header("location").value_or("");
  auto reference = boost::urls::parse_uri_reference(location);
  boost::urls::url next(base_ + "/");
  if (location.empty() || !reference || next.resolve(*reference).has_error() ||
      originOf(std::string(next.buffer())) != originOf(base_ + "/")) {
    return upstreamError(ApiCode::Unknown, kRefused,
                         "upstream " + host_ + ": " + std::string(what) +
                             " answered without a location on the same registry");
  }
  return std::string(next.buffer());
}

Result<void> Client::pushBlob(std::string_view repository, const Digest& digest,
                              const storage::BlobReader& blob) {
  auto location = startUpload(repository, digest);
  if (!location) return location.takeError();
  const std::string what = "the upload of " + digest.str();
  auto withDigest = [&](std::string url) {
    url += url.find('?') == std::string::npos ? '?' : '&';
    return url + "digest=" + encoded(digest.str());
  };
  Call put;
  put.method = "PUT";
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  if (blob.fd) {
    put.path = withDigest(*location);
    put.bodyFd = blob.fd->get();
    put.bodyLength = blob.size;
  } else {
    // From an object store: PATCHes of a chunk each, the chunk the only copy in memory.
    std::string chunk;
    for (uint64_t offset = 0; offset < blob.size;) {
      const uint64_t length = std::min<uint64_t>(options_.chunkBytes, blob.size - offset);
      chunk.clear();
      auto read = storage::readBlob(blob, offset, length, [&](const char* data, size_t n) {
        chunk.append(data, n);
        return true;
      });
      if (!read) return read.takeError();
      Call patch;
      patch.method = "PATCH";
      patch.path = *location;
      patch.headers.emplace_back("Content-Type", "application/octet-stream");
      patch.headers.emplace_back(
          "Content-Range", std::to_string(offset) + "-" + std::to_string(offset + length - 1));
      patch.body = chunk;
      auto response = send(std::move(patch), repository, actions());
      if (!response) return response.takeError();
      if (response->status != 202) return failure(what, *response);
      location = locationOf(*response, what);
      if (!location) return location.takeError();
      offset += length;
    }
    put.path = withDigest(*location);
  }
  auto response = send(std::move(put), repository, actions());
  if (!response) return response.takeError();
  if (response->status != 201) return failure(what, *response);
  return {};
}

Result<void> Client::putManifest(std::string_view repository, std::string_view reference,
                                 std::string_view mediaType, std::string_view body) {
  Call call;
  call.method = "PUT";
  call.path = "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  call.headers.emplace_back("Content-Type", std::string(mediaType));
  call.body = body;
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (response->status != 201 && response->status != 200) {
    return failure("storing the manifest " + std::string(repository) + ":" + std::string(reference),
                   *response);
  }
  return {};
}

Result<bool> Client::deleteManifest(std::string_view repository, std::string_view reference) {
  Call call;
  call.method = "DELETE";
  call.path = "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  auto response = send(std::move(call), repository, actions());
  if (!response) return response.takeError();
  if (response->status == 404) return false;
  if (response->status < 200 || response->status > 299) {
    return failure("deleting " + std::string(repository) + (Digest::parse(reference) ? "@" : ":") +
                       std::string(reference),
                   *response);
  }
  return true;
}

}  // namespace berth::upstream
