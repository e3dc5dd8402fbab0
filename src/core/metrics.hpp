#pragma once
// Prometheus metrics: one process-wide registry of instruments, served as text at /metrics.
// Label values come from small fixed sets (planes, route templates, operation and cache names):
// never a repository, a user or a raw path.
//
// The instruments are striped: each thread adds to a slot of its own, on its own cache line,
// and a scrape sums the slots. The request path touches several counters and a histogram per
// request; shared atomics (prometheus-cpp's own instruments) would bounce their cache lines
// between the cores on every one of them. prometheus-cpp provides the data model and the text
// exposition format.
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace berth::metrics {

// Off: nothing is recorded and /metrics is not served (the benchmark compares both).
bool enabled();
void setEnabled(bool on);

namespace detail {
inline constexpr size_t kStripes = 8;
// This thread's stripe: threads take stripes in turn as they first record something.
size_t stripe();
}  // namespace detail

// A monotonic count.
class Counter {
 public:
  void add(uint64_t n = 1) {
    if (enabled()) stripes_[detail::stripe()].value.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const;

 private:
  struct alignas(64) Stripe {
    std::atomic<uint64_t> value{0};
  };
  std::array<Stripe, detail::kStripes> stripes_;
};

// A value that goes up and down (not striped: for what changes a few times per request at most).
class Gauge {
 public:
  void add(int64_t n) {
    if (enabled()) value_.fetch_add(n, std::memory_order_relaxed);
  }
  void set(int64_t v) {
    if (enabled()) value_.store(v, std::memory_order_relaxed);
  }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Durations in buckets (upper bounds in seconds, at most kMaxBuckets), with their count and sum.
class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 16;
  explicit Histogram(const std::vector<double>& bounds);
  void observe(std::chrono::steady_clock::duration took);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    uint64_t count = 0;
    double sumSeconds = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  struct alignas(64) Stripe {
    std::array<std::atomic<uint64_t>, kMaxBuckets + 1> buckets{};
    std::atomic<uint64_t> sumNanos{0};
  };
  std::vector<double> bounds_;
  std::vector<int64_t> boundNanos_;
  std::unique_ptr<Stripe[]> stripes_;
};

// A named family of instruments with the same label names; an instrument per label values,
// made on first use and kept for the life of the process (so references to it stay valid).
template <class T>
class Family;

Family<Counter>& counters(const std::string& name, const std::string& help,
                          std::vector<std::string> labelNames = {});
Family<Gauge>& gauges(const std::string& name, const std::string& help,
                      std::vector<std::string> labelNames = {});
Family<Histogram>& histograms(const std::string& name, const std::string& help,
                              std::vector<std::string> labelNames, std::vector<double> bounds);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> labelNames)
      : name_(std::move(name)), help_(std::move(help)), labelNames_(std::move(labelNames)) {}
  virtual ~FamilyBase() = default;
  virtual void collect(std::vector<prometheus::MetricFamily>& out) const = 0;

 protected:
  std::vector<prometheus::ClientMetric::Label> labels(const std::vector<std::string>& values) const;
  std::string name_, help_;
  std::vector<std::string> labelNames_;
};

template <class T>
class Family final : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  // The instrument for these label values, in the order of the family's label names.
  T& with(const std::vector<std::string>& values = {});
  void collect(std::vector<prometheus::MetricFamily>& out) const override;
  // Histograms: the bucket bounds of every member (the first call decides).
  void setBounds(std::vector<double> bounds) {
    std::lock_guard lock(mutex_);
    if (bounds_.empty()) bounds_ = std::move(bounds);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::vector<std::string>, std::unique_ptr<T>>> members_;
  std::vector<double> bounds_;  // histograms only
};

// Bucket bounds, in seconds: of whole requests (which include uploads), and of store calls.
const std::vector<double>& requestBuckets();
const std::vector<double>& operationBuckets();

// One kind of call into a store: its latency and its failures.
class Operation {
 public:
  Operation(Histogram& latency, Counter& errors) : latency_(&latency), errors_(&errors) {}
  void record(std::chrono::steady_clock::duration took, bool ok) const {
    if (!enabled()) return;
    latency_->observe(took);
    if (!ok) errors_->add();
  }

 private:
  Histogram* latency_;
  Counter* errors_;
};

// berth_<store>_operation_duration_seconds{op} and berth_<store>_operation_errors_total{op},
// for store "blob_store" or "metadata" (the same instruments for the same arguments; callers
// keep the handle rather than look it up per call).
Operation operation(std::string_view store, std::string_view op);

// The name of the function a std::source_location's function_name() describes:
// "berth::Result<int> berth::meta::Store::count(int) const" -> "count"; a bare name stays.
std::string_view functionName(std::string_view signature);

// Hits and misses of the caches named `name` (all instances with one name count together).
class CacheCounters {
 public:
  explicit CacheCounters(std::string_view name);
  void hit() const { hits_->add(); }
  void miss() const { misses_->add(); }

 private:
  Counter* hits_;
  Counter* misses_;
};

// Values read when /metrics is scraped (connections, ...): each source appends families.
// Unregisters on destruction, so that a source dies before what it reads.
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

// One family of plain values, for sources.
prometheus::MetricFamily gaugeFamily(std::string name, std::string help);
prometheus::MetricFamily counterFamily(std::string name, std::string help);
void addValue(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels = {});

// The text exposition of every instrument and source, and of the process.
std::string exposition();

}  // namespace berth::metrics
