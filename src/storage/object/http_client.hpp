#pragma once
// HTTP for the object store drivers, over libcurl: connections kept and reused, every request
// bounded in time, and transient failures (5xx, 429, transport errors) retried with
// exponential backoff and jitter. Requests sign themselves before each attempt, since a
// signature carries the time. Calls block: drivers run on the server's blocking pool.
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace berth::storage::object {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Pairs headers;
  // The body, at most one of: bytes in memory, or a range of an open file (read again for a
  // retry).
  std::string_view body;
  int bodyFd = -1;
  uint64_t bodyOffset = 0;
  uint64_t bodyLength = 0;
  // The response body of a 2xx goes to onData when set (return false to stop), else into
  // HttpResponse::body up to responseLimit bytes. Error bodies always go into body.
  std::function<bool(const char*, size_t)> onData;
  // With onData: called once before its first call, with the body's Content-Length (-1 when
  // the answer gives none).
  std::function<void(int64_t)> onLength;
  size_t responseLimit = 4 << 20;
  // When set, the request ends (an error) soon after this turns true, wherever it is:
  // resolving, connecting, waiting for an answer or between attempts.
  const std::atomic<bool>* stop = nullptr;
};

struct HttpResponse {
  long status = 0;
  Pairs headers;  // names lower-cased
  std::string body;
  std::optional<std::string> header(std::string_view lowerName) const;
};

struct HttpOptions {
  std::chrono::seconds connectTimeout{10};
  // A transfer slower than lowSpeedBytes per second for lowSpeedSeconds is given up.
  uint32_t lowSpeedBytes = 1024;
  std::chrono::seconds lowSpeedSeconds{30};
  unsigned maxAttempts = 4;
  std::chrono::milliseconds backoff{100};  // doubled per attempt, with jitter
  // A 429 or 503 that names a later time in Retry-After is tried again then, if that is no
  // further away than this; otherwise it is the answer.
  std::chrono::seconds maxRetryAfter{30};
  size_t idleHandles = 32;  // connections kept for reuse
  std::string caFile;       // PEM certificates HTTPS stores are checked against ("": the system's)
  // Every attempt ends after this long, whatever the pace (0: no such bound).
  std::chrono::milliseconds totalTimeout{0};
  // When set, a connection is opened only to an address it accepts (the others fail as
  // unreachable): a check made on the address actually dialled, after DNS.
  std::function<bool(const struct sockaddr*)> allowAddress;
  // What the peer is, in the error of a transport failure ("storage unreachable: ...").
  std::string peer = "storage";
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request`, signed by `sign` before each attempt, retrying transient failures. A
  // transport failure after the last attempt is an error naming the store's address; an HTTP
  // answer, even 4xx or 5xx, is a response.
  Result<HttpResponse> perform(HttpRequest request,
                               const std::function<void(HttpRequest&)>& sign = {});

  // Whether a status is worth another attempt.
  static bool transient(long status) { return status == 429 || status >= 500; }
  // How long a response's Retry-After asks to wait (seconds or an HTTP date), if it does.
  static std::optional<std::chrono::seconds> retryAfter(const HttpResponse& response);

 private:
  struct Easy;
  Result<HttpResponse> once(const HttpRequest& request, bool& retryable, bool& delivered);
  std::unique_ptr<Easy> take();
  void give(std::unique_ptr<Easy> easy);

  HttpOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Easy>> idle_;
};

}  // namespace berth::storage::object
