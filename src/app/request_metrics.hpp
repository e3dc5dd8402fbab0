#pragma once
// Requests at /metrics: berth_http_requests_total and berth_http_request_duration_seconds by
// plane, route template, method and status class, and berth_http_{request,response}_bytes_total
// by plane; each with a registry label only when the operator asks for one.
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/metrics.hpp"
#include "http/message.hpp"

namespace berth::app {

class RequestMetrics {
 public:
  explicit RequestMetrics(bool registryLabel) : registryLabel_(registryLabel) {}
  void record(const http::Exchange& exchange);

 private:
  struct Key {
    std::string_view plane;  // static strings, set by the planes
    std::string_view route;
    http::Method method;
    int statusClass;
    std::string registry;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Series {
    prometheus::Counter* requests;
    prometheus::Histogram* latency;
    prometheus::Counter* bytesIn;
    prometheus::Counter* bytesOut;
  };
  Series create(const Key& key);

  bool registryLabel_;
  std::mutex mutex_;
  std::unordered_map<Key, Series, KeyHash> series_;
};

}  // namespace berth::app
