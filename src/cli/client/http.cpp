#include "cli/client/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace berth::cli::client {
namespace {

// A reply larger than this is not something the control API or /v2/ sends to the CLI.
constexpr size_t kMaxBody = 64u << 20;

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

SlistPtr makeList(const std::vector<std::string>& items) {
  curl_slist* list = nullptr;
  for (const auto& item : items) {
    curl_slist* grown = curl_slist_append(list, item.c_str());
    if (grown == nullptr) {
      curl_slist_free_all(list);
      throw ClientError("out of memory building a request");
    }
    list = grown;
  }
  return SlistPtr(list);
}

void initialiseCurl() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) throw ClientError("cannot initialise libcurl");
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * count;
  if (body->size() + n > kMaxBody) return 0;  // makes curl fail with CURLE_WRITE_ERROR
  body->append(data, n);
  return n;
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  // A new status line starts a new response (after 100 Continue): forget the earlier headers.
  if (line.starts_with("HTTP/")) {
    headers->clear();
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  headers->emplace_back(std::move(name), std::string(value));
  return n;
}

bool isTlsFailure(CURLcode rc) {
  switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return true;
    default:
      return false;
  }
}

std::string urlPart(CURLU* url, CURLUPart part, unsigned flags) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || raw == nullptr) return {};
  std::unique_ptr<char, CurlStringDeleter> owned(raw);
  return std::string(raw);
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      found = value;
    }
  }
  return found;
}

struct HttpClient::Handle {
  std::unique_ptr<CURL, CurlDeleter> curl;
};

HttpClient::HttpClient() : handle_(std::make_unique<Handle>()) {
  initialiseCurl();
  handle_->curl.reset(curl_easy_init());
  if (!handle_->curl) throw ClientError("cannot initialise libcurl");
}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResponse HttpClient::send(const HttpRequest& request) {
  CURL* c = handle_->curl.get();
  // reset keeps the connection cache, so the next request to the same server reuses it.
  curl_easy_reset(c);
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-cli/0.1");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);

  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body->size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body->data());
  } else if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  }

  auto headers = makeList(request.headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  auto connectTo = makeList(request.connectTo);
  curl_easy_setopt(c, CURLOPT_CONNECT_TO, connectTo.get());
  if (!request.caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.caFile.c_str());

  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string detail = error[0] != '\0' ? error : curl_easy_strerror(rc);
    throw TransportError("cannot reach " + request.url + ": " + detail, isTlsFailure(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

UrlParts parseUrl(const std::string& url, std::string_view what) {
  initialiseCurl();
  std::unique_ptr<CURLU, UrlDeleter> parsed(curl_url());
  if (!parsed) throw ClientError("out of memory parsing a URL");
  const auto bad = [&] {
    return ClientError(std::string(what) + " \"" + url + "\" is not an http:// or https:// URL");
  };
  if (curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) throw bad();
  UrlParts parts{urlPart(parsed.get(), CURLUPART_SCHEME, 0),
                 urlPart(parsed.get(), CURLUPART_HOST, 0),
                 urlPart(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT)};
  if ((parts.scheme != "http" && parts.scheme != "https") || parts.host.empty()) throw bad();
  return parts;
}

std::string escapePath(std::string_view text, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string escapeQuery(std::string_view text) { return escapePath(text); }

}  // namespace berth::cli::client
