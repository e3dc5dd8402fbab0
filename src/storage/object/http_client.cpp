#include "storage/object/http_client.hpp"

#include <curl/curl.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>
#include <thread>

#include "core/log.hpp"

namespace berth::storage::object {
namespace {

constexpr long kStreamBuffer = 256 * 1024;

void initialiseCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  uint64_t sent = 0;       // of a file body
  bool delivered = false;  // bytes went to onData: the attempt cannot be repeated
  bool overflow = false;
};

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    t.response->headers.clear();  // a new response (after 100 Continue or a redirect)
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon != line.npos) {
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    t.response->headers.emplace_back(std::move(name), std::string(value));
  }
  return size * count;
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
  if (t.request->onData && status >= 200 && status < 300) {
    if (!t.delivered && t.request->onLength) {
      curl_off_t length = -1;
      curl_easy_getinfo(t.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      t.request->onLength(static_cast<int64_t>(length));
    }
    t.delivered = true;
    return t.request->onData(data, n) ? n : 0;
  }
  if (t.response->body.size() + n > t.request->responseLimit) {
    t.overflow = true;
    return 0;
  }
  t.response->body.append(data, n);
  return n;
}

size_t onRead(char* buffer, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const auto& r = *t.request;
  const uint64_t left = r.bodyLength - t.sent;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * count));
  if (want == 0) return 0;
  const ssize_t n = ::pread(r.bodyFd, buffer, want, static_cast<off_t>(r.bodyOffset + t.sent));
  if (n <= 0) return CURL_READFUNC_ABORT;
  t.sent += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

// Set when an attempt on this thread was kept from an address allowAddress refused, so that
// the error says so rather than "could not connect".
thread_local bool tAddressRefused = false;

// Progress callback of a request that may be stopped: non-zero aborts the transfer.
int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

curl_socket_t onOpenSocket(void* user, curlsocktype, struct curl_sockaddr* address) {
  const auto& allow = *static_cast<const std::function<bool(const sockaddr*)>*>(user);
  if (!allow(&address->addr)) {
    tAddressRefused = true;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

}  // namespace

struct HttpClient::Easy {
  CURL* curl = nullptr;
  Easy() : curl(curl_easy_init()) {}
  ~Easy() {
    if (curl) curl_easy_cleanup(curl);
  }
};

std::optional<std::string> HttpResponse::header(std::string_view lowerName) const {
  std::optional<std::string> found;
  for (const auto& [name, value] : headers) {
    if (name == lowerName) found = value;
  }
  return found;
}

std::optional<std::chrono::seconds> HttpClient::retryAfter(const HttpResponse& response) {
  if (response.status != 429 && response.status != 503) return std::nullopt;
  const auto value = response.header("retry-after");
  if (!value || value->empty()) return std::nullopt;
  if (std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value->size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stoll(*value));
  }
  const time_t when = curl_getdate(value->c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::chrono::seconds(std::max<int64_t>(0, when - std::time(nullptr)));
}

HttpClient::HttpClient(HttpOptions options) : options_(options) { initialiseCurl(); }
HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Easy> HttpClient::take() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto easy = std::move(idle_.back());
      idle_.pop_back();
      return easy;
    }
  }
  return std::make_unique<Easy>();
}

void HttpClient::give(std::unique_ptr<Easy> easy) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.idleHandles) idle_.push_back(std::move(easy));
}

Result<HttpResponse> HttpClient::once(const HttpRequest& request, bool& retryable,
                                      bool& delivered) {
  auto easy = take();
  CURL* c = easy->curl;
  if (!c) return makeError(ApiCode::Unknown, "cannot initialise libcurl", 503);
  curl_easy_reset(c);  // keeps the connection cache
  HttpResponse response;
  Transfer t{c, &request, &response};
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connectTimeout.count() * 1000));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.lowSpeedBytes));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.lowSpeedSeconds.count()));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "berth");
  if (options_.totalTimeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.totalTimeout.count()));
  }
  if (options_.allowAddress) {
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, onOpenSocket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &options_.allowAddress);
  }
  if (!options_.caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.caFile.c_str());
  if (request.stop) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, request.stop);
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  // A body streamed on (a blob read) arrives in pieces of up to this size rather than 16 KiB:
  // fewer calls and fewer copies per byte.
  if (request.onData) curl_easy_setopt(c, CURLOPT_BUFFERSIZE, kStreamBuffer);

  struct curl_slist* headers = nullptr;
  bool typed = false;
  for (const auto& [name, value] : request.headers) {
    // libcurl sends the body's length itself; a signer may have needed it among the headers.
    if (strcasecmp(name.c_str(), "content-length") == 0) continue;
    typed = typed || strcasecmp(name.c_str(), "content-type") == 0;
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  // Nothing unsigned of libcurl's own: no Expect, no default Content-Type.
  headers = curl_slist_append(headers, "Expect:");
  if (!typed) headers = curl_slist_append(headers, "Content-Type:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST" || request.method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    if (request.method != "PUT") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (request.bodyFd >= 0) {
      curl_easy_setopt(c, CURLOPT_READFUNCTION, onRead);
      curl_easy_setopt(c, CURLOPT_READDATA, &t);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.bodyLength));
    } else {
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(
          c, CURLOPT_READFUNCTION, +[](char* buffer, size_t size, size_t count, void* user) {
            auto& t = *static_cast<Transfer*>(user);
            const auto body = t.request->body;
            const size_t n = std::min<size_t>(body.size() - t.sent, size * count);
            std::copy_n(body.data() + t.sent, n, buffer);
            t.sent += n;
            return n;
          });
      curl_easy_setopt(c, CURLOPT_READDATA, &t);
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  tAddressRefused = false;
  const CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(headers);
  delivered = t.delivered;
  if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && !t.overflow && t.delivered)) {
    retryable = !t.delivered;
    give(std::move(easy));
    std::string why = error[0] ? error : curl_easy_strerror(code);
    if (t.overflow) why = "answer larger than expected";
    if (code == CURLE_ABORTED_BY_CALLBACK) {
      retryable = false;
      return makeError(ApiCode::Unknown, "the server is stopping", 503);
    }
    if (tAddressRefused) why = "its address is not allowed (loopback or link-local)";
    return makeError(ApiCode::Unknown, options_.peer + " unreachable: " + why, 503);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  give(std::move(easy));
  retryable = transient(response.status) && !t.delivered;
  return response;
}

Result<HttpResponse> HttpClient::perform(HttpRequest request,
                                         const std::function<void(HttpRequest&)>& sign) {
  thread_local std::minstd_rand jitter{std::random_device{}()};
  const auto unsigned_ = request.headers;
  for (unsigned attempt = 1;; ++attempt) {
    request.headers = unsigned_;
    if (sign) sign(request);
    bool retryable = false, delivered = false;
    auto response = once(request, retryable, delivered);
    if (!retryable || attempt >= std::max(1u, options_.maxAttempts)) return response;
    if (request.stop && request.stop->load()) return response;
    const auto base = options_.backoff * (1u << std::min(attempt - 1, 10u));
    auto wait = std::chrono::milliseconds(
        base.count() / 2 +
        static_cast<int64_t>(jitter() % static_cast<uint64_t>(base.count() + 1)));
    if (response) {
      if (const auto asked = retryAfter(*response)) {
        if (*asked > options_.maxRetryAfter) return response;
        wait = std::max<std::chrono::milliseconds>(wait, *asked);
      }
    }
    log::warn(options_.peer + " request retried",
              {{"method", request.method},
               {"status", response ? static_cast<int64_t>(response->status) : int64_t{0}},
               {"error", response ? std::string() : response.error().detail},
               {"attempt", static_cast<int64_t>(attempt)},
               {"wait_ms", static_cast<int64_t>(wait.count())}});
    // The wait, in steps a stop can end.
    for (auto left = wait; left.count() > 0; left -= std::chrono::milliseconds(50)) {
      if (request.stop && request.stop->load()) return response;
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(50)));
    }
  }
}

}  // namespace berth::storage::object
