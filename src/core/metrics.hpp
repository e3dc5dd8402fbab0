#pragma once
// Prometheus metrics: one process-wide registry of prometheus-cpp instruments, served as text
// at /metrics. Label values come from small fixed sets (planes, route templates, operation and
// cache names): never a repository, a user or a raw path.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace berth::metrics {

// Off: nothing is recorded and /metrics is not served (the benchmark compares both).
bool enabled();
void setEnabled(bool on);

prometheus::Registry& registry();

// Families by name, created on first use (a second call with the same name returns the first).
prometheus::Family<prometheus::Counter>& counters(const std::string& name, const std::string& help);
prometheus::Family<prometheus::Gauge>& gauges(const std::string& name, const std::string& help);
prometheus::Family<prometheus::Histogram>& histograms(const std::string& name,
                                                      const std::string& help);

// Bucket bounds, in seconds: of whole requests (which include uploads), and of store calls.
const prometheus::Histogram::BucketBoundaries& requestBuckets();
const prometheus::Histogram::BucketBoundaries& operationBuckets();

// One kind of call into a store: its latency and its failures.
class Operation {
 public:
  Operation(prometheus::Histogram& latency, prometheus::Counter& errors)
      : latency_(&latency), errors_(&errors) {}
  void record(std::chrono::steady_clock::duration took, bool ok) const {
    if (!enabled()) return;
    latency_->Observe(std::chrono::duration<double>(took).count());
    if (!ok) errors_->Increment();
  }

 private:
  prometheus::Histogram* latency_;
  prometheus::Counter* errors_;
};

// berth_<store>_operation_duration_seconds{op} and berth_<store>_operation_errors_total{op},
// for store "blob_store" or "metadata"; the same object for the same arguments.
const Operation& operation(std::string_view store, std::string_view op);

// The name of the function a std::source_location's function_name() describes:
// "berth::Result<int> berth::meta::Store::count(int) const" -> "count".
std::string_view functionName(std::string_view signature);

// Hits and misses of the caches named `name` (all instances with one name count together).
class CacheCounters {
 public:
  explicit CacheCounters(std::string_view name);
  void hit() const {
    if (enabled()) hits_->Increment();
  }
  void miss() const {
    if (enabled()) misses_->Increment();
  }

 private:
  prometheus::Counter* hits_;
  prometheus::Counter* misses_;
};

// Values read when /metrics is scraped (connections, process figures, ...): each source adds
// gauges or counters to the families it is given. Returns a handle that unregisters on
// destruction, so that a source dies before what it reads.
class Source {
 public:
  using Collect = std::function<void(std::vector<prometheus::MetricFamily>&)>;
  explicit Source(Collect collect);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

 private:
  uint64_t id_;
};

// One family of a single unlabelled or labelled value, for sources.
prometheus::MetricFamily gaugeFamily(std::string name, std::string help);
prometheus::MetricFamily counterFamily(std::string name, std::string help);
void addValue(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels = {});

// The text exposition of every instrument and source.
std::string exposition();

}  // namespace berth::metrics
