#include "app/request_metrics.hpp"

#include <functional>

namespace berth::app {

size_t RequestMetrics::KeyHash::operator()(const Key& k) const {
  size_t h = std::hash<std::string_view>()(k.route);
  h = h * 31 + std::hash<std::string_view>()(k.plane);
  h = h * 31 + static_cast<size_t>(k.method);
  h = h * 31 + static_cast<size_t>(k.statusClass);
  return h * 31 + std::hash<std::string>()(k.registry);
}

RequestMetrics::Series RequestMetrics::create(const Key& key) {
  static auto& requests =
      metrics::counters("berth_http_requests_total",
                        "Requests answered, by plane, route template, method and status class.");
  static auto& latency = metrics::histograms(
      "berth_http_request_duration_seconds",
      "Time from a request's head to the end of its reply, in seconds, by plane, route template, "
      "method and status class.");
  static auto& bytesIn =
      metrics::counters("berth_http_request_bytes_total", "Request body bytes read, by plane.");
  static auto& bytesOut = metrics::counters("berth_http_response_bytes_total",
                                            "Response bytes written, head and body, by plane.");
  const std::string status = std::to_string(key.statusClass) + "xx";
  std::map<std::string, std::string> labels{{"plane", std::string(key.plane)},
                                            {"route", std::string(key.route)},
                                            {"method", std::string(http::methodName(key.method))},
                                            {"status", status}};
  std::map<std::string, std::string> planeLabels{{"plane", std::string(key.plane)}};
  if (registryLabel_) {
    labels.emplace("registry", key.registry);
    planeLabels.emplace("registry", key.registry);
  }
  return Series{&requests.Add(labels), &latency.Add(labels, metrics::requestBuckets()),
                &bytesIn.Add(planeLabels), &bytesOut.Add(planeLabels)};
}

void RequestMetrics::record(const http::Exchange& exchange) {
  if (!metrics::enabled()) return;
  const auto& req = exchange.request;
  Key key{req.plane, req.route, req.method, exchange.status / 100,
          registryLabel_ ? req.registry : std::string()};
  Series series;
  {
    std::lock_guard lock(mutex_);
    auto it = series_.find(key);
    if (it == series_.end()) it = series_.emplace(key, create(key)).first;
    series = it->second;
  }
  series.requests->Increment();
  series.latency->Observe(std::chrono::duration<double>(exchange.took).count());
  if (exchange.bytesIn > 0) series.bytesIn->Increment(static_cast<double>(exchange.bytesIn));
  series.bytesOut->Increment(static_cast<double>(exchange.bytesOut));
}

}  // namespace berth::app
