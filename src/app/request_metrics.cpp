#include "app/request_metrics.hpp"

#include <functional>
#include <unordered_map>

namespace berth::app {
namespace {

struct Key {
  std::string_view plane;  // static strings, set by the planes
  std::string_view route;
  http::Method method;
  int statusClass;
  bool labelled;  // with a registry label
  std::string registry;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::hash<std::string_view>()(k.route);
    h = h * 31 + std::hash<std::string_view>()(k.plane);
    h = h * 31 + static_cast<size_t>(k.method);
    h = h * 31 + static_cast<size_t>(k.statusClass) * 2 + (k.labelled ? 1 : 0);
    return h * 31 + std::hash<std::string>()(k.registry);
  }
};

struct Series {
  metrics::Counter* requests;
  metrics::Histogram* latency;
  metrics::Counter* bytesIn;
  metrics::Counter* bytesOut;
};

// The label names are the same for every series of a process: with the registry first when
// metrics_registry_label is on.
Series create(const Key& key) {
  std::vector<std::string> names{"plane", "route", "method", "status"};
  std::vector<std::string> planeNames{"plane"};
  std::vector<std::string> labels{std::string(key.plane), std::string(key.route),
                                  std::string(http::methodName(key.method)),
                                  std::to_string(key.statusClass) + "xx"};
  std::vector<std::string> planeLabels{std::string(key.plane)};
  if (key.labelled) {
    names.insert(names.begin(), "registry");
    planeNames.insert(planeNames.begin(), "registry");
    labels.insert(labels.begin(), key.registry);
    planeLabels.insert(planeLabels.begin(), key.registry);
  }
  auto& requests = metrics::counters(
      "berth_http_requests_total",
      "Requests answered, by plane, route template, method and status class.", names);
  auto& latency = metrics::histograms(
      "berth_http_request_duration_seconds",
      "Time from a request's head to the end of its reply, in seconds, by plane, route template, "
      "method and status class.",
      names, metrics::requestBuckets());
  auto& bytesIn = metrics::counters("berth_http_request_bytes_total",
                                    "Request body bytes read, by plane.", planeNames);
  auto& bytesOut =
      metrics::counters("berth_http_response_bytes_total",
                        "Response bytes written, head and body, by plane.", planeNames);
  return Series{&requests.with(labels), &latency.with(labels), &bytesIn.with(planeLabels),
                &bytesOut.with(planeLabels)};
}

}  // namespace

void RequestMetrics::record(const http::Exchange& exchange) {
  if (!metrics::enabled()) return;
  const auto& req = exchange.request;
  // Each thread keeps the series it has used: the instruments live as long as the process, so
  // the pointers stay valid, and no lock is taken once a series is known.
  thread_local std::unordered_map<Key, Series, KeyHash> known;
  Key key{req.plane,      req.route,
          req.method,     exchange.status / 100,
          registryLabel_, registryLabel_ ? req.registry : std::string()};
  auto it = known.find(key);
  if (it == known.end()) {
    if (known.size() >= 4096) known.clear();  // bounded: series are found again on demand
    it = known.emplace(key, create(key)).first;
  }
  const Series& series = it->second;
  series.requests->add();
  series.latency->observe(exchange.took);
  if (exchange.bytesIn > 0) series.bytesIn->add(exchange.bytesIn);
  series.bytesOut->add(exchange.bytesOut);
}

}  // namespace berth::app
