#include "core/metrics.hpp"

#include <dirent.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>

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

struct Operations {
  std::mutex mutex;
  std::map<std::pair<std::string, std::string>, Operation, std::less<>> all;
};
Operations& operations() {
  static Operations o;
  return o;
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
      std::ifstream uptimeFile("/proc/stat");
      std::string key;
      double bootTime = 0;
      while (uptimeFile >> key) {
        if (key == "btime") {
          uptimeFile >> bootTime;
          break;
        }
      }
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

prometheus::Registry& registry() {
  static prometheus::Registry r;
  return r;
}

prometheus::Family<prometheus::Counter>& counters(const std::string& name,
                                                  const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry());
}

prometheus::Family<prometheus::Gauge>& gauges(const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry());
}

prometheus::Family<prometheus::Histogram>& histograms(const std::string& name,
                                                      const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry());
}

const prometheus::Histogram::BucketBoundaries& requestBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return b;
}

const prometheus::Histogram::BucketBoundaries& operationBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return b;
}

const Operation& operation(std::string_view store, std::string_view op) {
  auto& ops = operations();
  std::lock_guard lock(ops.mutex);
  auto key = std::make_pair(std::string(store), std::string(op));
  auto it = ops.all.find(key);
  if (it != ops.all.end()) return it->second;
  const std::string prefix = "berth_" + key.first;
  auto& latency = histograms(prefix + "_operation_duration_seconds",
                             "Calls into the " + key.first + ", by operation, in seconds.")
                      .Add({{"op", key.second}}, operationBuckets());
  auto& errors = counters(prefix + "_operation_errors_total",
                          "Calls into the " + key.first + " that failed, by operation.")
                     .Add({{"op", key.second}});
  return ops.all.emplace(std::move(key), Operation(latency, errors)).first->second;
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
  return "unknown";
}

CacheCounters::CacheCounters(std::string_view name) {
  const std::string label(name);
  hits_ = &counters("berth_cache_hits_total", "Lookups a cache answered, by cache.")
               .Add({{"cache", label}});
  misses_ = &counters("berth_cache_misses_total", "Lookups a cache could not answer, by cache.")
                 .Add({{"cache", label}});
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
  auto families = registry().Collect();
  collectProcess(families);
  {
    auto& s = sources();
    std::lock_guard lock(s.mutex);
    for (auto& [id, collect] : s.all) collect(families);
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace berth::metrics
