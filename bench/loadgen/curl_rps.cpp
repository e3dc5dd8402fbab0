#include "curl_rps.hpp"

#include <curl/curl.h>

#include <stdexcept>

#include "util.hpp"

namespace lg {
namespace {

struct Easy {
  CURL* handle = nullptr;
  curl_slist* headers = nullptr;
  size_t next = 0;
  double started = 0;
  uint64_t bytes = 0;
};

size_t discard(char*, size_t size, size_t n, void* user) {
  static_cast<Easy*>(user)->bytes += size * n;
  return size * n;
}

}  // namespace

RateResult curlRate(const RateOptions& o) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(o.conns));
  std::vector<Easy> easies(static_cast<size_t>(o.conns));
  RateResult result;
  const double start = now();
  const double windowStart = start + o.warmup;
  const double windowEnd = windowStart + o.duration;
  bool inWindow = false;
  bool closed = false;
  double cpu0 = 0, server0 = 0, machine0 = 0;

  int inflight = 0;
  auto issue = [&](Easy& e) {
    ++inflight;
    const auto& path = o.paths[e.next++ % o.paths.size()];
    curl_easy_setopt(e.handle, CURLOPT_URL, (o.baseUrl + path).c_str());
    e.started = now();
    e.bytes = 0;
    curl_multi_add_handle(multi, e.handle);
  };
  for (size_t i = 0; i < easies.size(); ++i) {
    auto& e = easies[i];
    e.handle = curl_easy_init();
    e.next = i;
    for (const auto& [name, value] : o.headers) {
      e.headers = curl_slist_append(e.headers, (name + ": " + value).c_str());
    }
    curl_easy_setopt(e.handle, CURLOPT_HTTPHEADER, e.headers);
    curl_easy_setopt(e.handle, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e.handle, CURLOPT_WRITEDATA, &e);
    curl_easy_setopt(e.handle, CURLOPT_PRIVATE, &e);
    curl_easy_setopt(e.handle, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e.handle, CURLOPT_USERAGENT, "berth-loadgen-curl");
    if (o.head) curl_easy_setopt(e.handle, CURLOPT_NOBODY, 1L);
    if (o.follow) curl_easy_setopt(e.handle, CURLOPT_FOLLOWLOCATION, 1L);
    issue(e);
  }
  int running = 0;
  while (inflight > 0) {
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Easy* e = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&e));
      const double t = now();
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      curl_off_t length = -1;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi, msg->easy_handle);
      --inflight;
      if (t >= windowStart && t <= windowEnd) {
        bool ok = code == CURLE_OK && status == 200;
        if (ok && o.expectSize >= 0) {
          ok = o.head ? length == o.expectSize : static_cast<int64_t>(e->bytes) == o.expectSize;
        }
        if (!ok) {
          if (result.errors++ == 0) {
            result.firstError = "status " + std::to_string(status) + " " + curl_easy_strerror(code);
          }
        } else {
          ++result.requests;
          result.bytes += e->bytes;
          result.latencies.push_back(t - e->started);
        }
      }
      if (t < windowEnd) issue(*e);
    }
    const double t = now();
    if (!inWindow && t >= windowStart) {
      inWindow = true;
      cpu0 = selfCpu();
      server0 = procCpu(o.pids);
      machine0 = machineBusyCpu();
    }
    if (inWindow && !closed && t >= windowEnd) {
      closed = true;
      result.loadgenCpu = selfCpu() - cpu0;
      result.serverCpu = o.pids.empty() ? -1 : procCpu(o.pids) - server0;
      result.machineCpu = machineBusyCpu() - machine0;
    }
    if (inflight > 0) curl_multi_poll(multi, nullptr, 0, 20, nullptr);
  }
  result.window = o.duration;
  for (auto& e : easies) {
    curl_easy_cleanup(e.handle);
    curl_slist_free_all(e.headers);
  }
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return result;
}

}  // namespace lg
