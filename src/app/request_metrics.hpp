#pragma once
// Requests at /metrics: berth_http_requests_total and berth_http_request_duration_seconds by
// plane, route template, method and status class, and berth_http_{request,response}_bytes_total
// by plane; each with a registry label only when the operator asks for one.
#include <string>

#include "core/metrics.hpp"
#include "http/message.hpp"

namespace berth::app {

class RequestMetrics {
 public:
  explicit RequestMetrics(bool registryLabel) : registryLabel_(registryLabel) {}
  void record(const http::Exchange& exchange);

 private:
  bool registryLabel_;
};

}  // namespace berth::app
