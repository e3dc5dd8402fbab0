#include "core/metrics.hpp"

#include <dirent.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace berth::metrics {
namespace {

std::atomic<bool> gEnabled{true};

struct Sources {
  std::mutex mutex;
  uint64_t next = 0;
  std::map<uint64_t, Source::Collect> all;
};
Sources& sources() {
  static Sources s;
  return s;
}

struct Registry {
  std::mutex mutex;
  std::vector<std::unique_ptr<FamilyBase>> families;
  std::map<std::string, FamilyBase*, std::less<>> byName;
};
Registry& registry() {
  static Registry r;
  return r;
}

template <class T>
Family<T>& family(const std::string& name, const std::string& help,
                  std::vector<std::string> labelNames) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (auto it = r.byName.find(name); it != r.byName.end()) {
    auto* existing = dynamic_cast<Family<T>*>(it->second);
    if (existing == nullptr) throw std::logic_error("metric " + name + " has another type");
    return *existing;
  }
  auto made = std::make_unique<Family<T>>(name, help, std::move(labelNames));
  auto* raw = made.get();
  r.families.push_back(std::move(made));
  r.byName.emplace(name, raw);
  return *raw;
}
// The process figures Prometheus' own clients export, from /proc/self.
void collectProcess(std::vector<prometheus::MetricFamily>& out) {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  std::ifstream statFile("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const auto close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                               std::istream_iterator<std::string>()};
    // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
    if (f.size() > 21) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks);
      auto cpuFamily =
          counterFamily("process_cpu_seconds_total", "User and system CPU time spent, in seconds.");
      addValue(cpuFamily, cpu);
      out.push_back(std::move(cpuFamily));
      auto vsize = gaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.");
      addValue(vsize, std::stod(f[20]));
      out.push_back(std::move(vsize));
      auto rss = gaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.");
      addValue(rss, std::stod(f[21]) * static_cast<double>(page));
      out.push_back(std::move(rss));
      // The boot time does not change: read once.
      static const double bootTime = [] {
        std::ifstream file("/proc/stat");
        std::string key;
        double value = 0;
        while (file >> key) {
          if (key == "btime") {
            file >> value;
            break;
          }
        }
        return value;
      }();
      if (bootTime > 0) {
        auto start = gaugeFamily("process_start_time_seconds",
                                 "Start time of the process since the Unix epoch, in seconds.");
        addValue(start, bootTime + std::stod(f[19]) / static_cast<double>(ticks));
        out.push_back(std::move(start));
      }
    }
  }
  double open = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++open;
    }
    ::closedir(dir);
    open -= 1;  // the directory's own descriptor
  }
  auto fds = gaugeFamily("process_open_fds", "Number of open file descriptors.");
  addValue(fds, open);
  out.push_back(std::move(fds));
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    auto max = gaugeFamily("process_max_fds", "Maximum number of open file descriptors.");
    addValue(max, static_cast<double>(limit.rlim_cur));
    out.push_back(std::move(max));
  }
}

}  // namespace

bool enabled() { return gEnabled.load(std::memory_order_relaxed); }
void setEnabled(bool on) { gEnabled.store(on, std::memory_order_relaxed); }

size_t detail::stripe() {
  static std::atomic<size_t> next{0};
  thread_local const size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return mine;
}

uint64_t Counter::value() const {
  uint64_t total = 0;
  for (const auto& s : stripes_) total += s.value.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), stripes_(std::make_unique<Stripe[]>(detail::kStripes)) {
  if (bounds_.size() > kMaxBuckets) throw std::logic_error("too many histogram buckets");
  for (double b : bounds_) boundNanos_.push_back(static_cast<int64_t>(b * 1e9));
}

void Histogram::observe(std::chrono::steady_clock::duration took) {
  if (!enabled()) return;
  const int64_t nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(boundNanos_.begin(), boundNanos_.end(), nanos) - boundNanos_.begin());
  auto& s = stripes_[detail::stripe()];
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  s.sumNanos.fetch_add(static_cast<uint64_t>(std::max<int64_t>(nanos, 0)),
                       std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  out.cumulative.assign(bounds_.size() + 1, 0);
  uint64_t sumNanos = 0;
  for (size_t i = 0; i < detail::kStripes; ++i) {
    const auto& s = stripes_[i];
    for (size_t b = 0; b <= bounds_.size(); ++b) {
      out.cumulative[b] += s.buckets[b].load(std::memory_order_relaxed);
    }
    sumNanos += s.sumNanos.load(std::memory_order_relaxed);
  }
  for (size_t b = 1; b < out.cumulative.size(); ++b) out.cumulative[b] += out.cumulative[b - 1];
  out.count = out.cumulative.back();
  out.sumSeconds = static_cast<double>(sumNanos) / 1e9;
  return out;
}

std::vector<prometheus::ClientMetric::Label> FamilyBase::labels(
    const std::vector<std::string>& values) const {
  std::vector<prometheus::ClientMetric::Label> out;
  for (size_t i = 0; i < labelNames_.size() && i < values.size(); ++i) {
    out.push_back({labelNames_[i], values[i]});
  }
  // The exposition lists labels by name.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

template <class T>
T& Family<T>::with(const std::vector<std::string>& values) {
  if (values.size() != labelNames_.size()) {
    throw std::logic_error("metric " + name_ + ": wrong number of label values");
  }
  std::lock_guard lock(mutex_);
  for (auto& [v, member] : members_) {
    if (v == values) return *member;
  }
  std::unique_ptr<T> made;
  if constexpr (std::is_same_v<T, Histogram>) {
    made = std::make_unique<Histogram>(bounds_);
  } else {
    made = std::make_unique<T>();
  }
  auto& added = *made;
  members_.emplace_back(values, std::move(made));
  return added;
}

template <class T>
void Family<T>::collect(std::vector<prometheus::MetricFamily>& out) const {
  prometheus::MetricFamily f;
  f.name = name_;
  f.help = help_;
  f.type = std::is_same_v<T, Counter> ? prometheus::MetricType::Counter
           : std::is_same_v<T, Gauge> ? prometheus::MetricType::Gauge
                                      : prometheus::MetricType::Histogram;
  std::lock_guard lock(mutex_);
  if (members_.empty()) return;
  for (const auto& [values, member] : members_) {
    prometheus::ClientMetric m;
    m.label = labels(values);
    if constexpr (std::is_same_v<T, Counter>) {
      m.counter.value = static_cast<double>(member->value());
    } else if constexpr (std::is_same_v<T, Gauge>) {
      m.gauge.value = static_cast<double>(member->value());
    } else {
      const auto snap = member->snapshot();
      m.histogram.sample_count = snap.count;
      m.histogram.sample_sum = snap.sumSeconds;
      const auto& bounds = member->bounds();
      for (size_t b = 0; b < bounds.size(); ++b) {
        m.histogram.bucket.push_back({snap.cumulative[b], bounds[b]});
      }
      m.histogram.bucket.push_back({snap.count, std::numeric_limits<double>::infinity()});
    }
    f.metric.push_back(std::move(m));
  }
  out.push_back(std::move(f));
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& counters(const std::string& name, const std::string& help,
                          std::vector<std::string> labelNames) {
  return family<Counter>(name, help, std::move(labelNames));
}

Family<Gauge>& gauges(const std::string& name, const std::string& help,
                      std::vector<std::string> labelNames) {
  return family<Gauge>(name, help, std::move(labelNames));
}

Family<Histogram>& histograms(const std::string& name, const std::string& help,
                              std::vector<std::string> labelNames, std::vector<double> bounds) {
  auto& f = family<Histogram>(name, help, std::move(labelNames));
  f.setBounds(std::move(bounds));
  return f;
}

const std::vector<double>& requestBuckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
  return b;
}

const std::vector<double>& operationBuckets() {
  static const std::vector<double> b{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  1,      5};
  return b;
}

Operation operation(std::string_view store, std::string_view op) {
  const std::string name(store);
  const std::string label(op);
  auto& latency = histograms("berth_" + name + "_operation_duration_seconds",
                             "Calls into the " + name + ", by operation, in seconds.", {"op"},
                             operationBuckets())
                      .with({label});
  auto& errors = counters("berth_" + name + "_operation_errors_total",
                          "Calls into the " + name + " that failed, by operation.", {"op"})
                     .with({label});
  return Operation(latency, errors);
}

std::string_view functionName(std::string_view signature) {
  // The parameter list is the first "(" that follows a name; the name runs back to a space,
  // a ':' or a '<'/'>' of a template.
  size_t open = signature.find('(');
  while (open != std::string_view::npos && open > 0) {
    size_t start = open;
    while (start > 0) {
      const char c = signature[start - 1];
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) break;
      --start;
    }
    if (start < open) return signature.substr(start, open - start);
    open = signature.find('(', open + 1);
  }
  // A bare name, as __builtin_FUNCTION() gives it.
  const bool bare =
      !signature.empty() && std::all_of(signature.begin(), signature.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      });
  return bare ? signature : "unknown";
}

CacheCounters::CacheCounters(std::string_view name) {
  const std::string label(name);
  hits_ = &counters("berth_cache_hits_total", "Lookups a cache answered, by cache.", {"cache"})
               .with({label});
  misses_ = &counters("berth_cache_misses_total", "Lookups a cache could not answer, by cache.",
                      {"cache"})
                 .with({label});
}

Source::Source(Collect collect) {
  auto& s = sources();
  std::lock_guard lock(s.mutex);
  id_ = ++s.next;
  s.all.emplace(id_, std::move(collect));
}

Source::~Source() {
  auto& s = sources();
  std::lock_guard lock(s.mutex);
  s.all.erase(id_);
}

prometheus::MetricFamily gaugeFamily(std::string name, std::string help) {
  return prometheus::MetricFamily{
      std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
}

prometheus::MetricFamily counterFamily(std::string name, std::string help) {
  return prometheus::MetricFamily{
      std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
}

void addValue(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

std::string exposition() {
  std::vector<prometheus::MetricFamily> families;
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    for (const auto& f : r.families) f->collect(families);
  }
  collectProcess(families);
  {
    auto& s = sources();
    std::lock_guard lock(s.mutex);
    for (auto& [id, collect] : s.all) collect(families);
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace berth::metrics
