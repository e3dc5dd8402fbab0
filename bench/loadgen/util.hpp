// Helpers of the load generator: clocks, CPU accounting, deterministic data, SHA-256, statistics
// and the one-line JSON report.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lg {

double now();  // CLOCK_MONOTONIC, seconds

// CPU seconds (user + system) this process has used.
double selfCpu();
// CPU seconds (utime + stime from /proc/<pid>/stat) summed over pids; -1 if none can be read.
double procCpu(const std::vector<pid_t>& pids);

// CPU seconds the whole machine spent busy (all cores, /proc/stat), to show how much CPU went
// to neither the server nor the load generator: other processes, interrupts.
double machineBusyCpu();

// Fills buf with a deterministic pseudo-random stream (splitmix64) seeded by seed.
void fillRandom(char* buf, size_t len, uint64_t seed);

// "sha256:<hex>" of the bytes.
std::string sha256Digest(const void* data, size_t len);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t len);
  std::string finish();  // "sha256:<hex>"; the object is reset

 private:
  void* ctx_;
};

// p in [0, 1]; sorts the samples.
double percentile(std::vector<double>& samples, double p);
double median(std::vector<double> samples);

// A flat JSON object printed on one line.
class JsonOut {
 public:
  void str(std::string_view key, std::string_view value);
  void num(std::string_view key, double value);
  void integer(std::string_view key, int64_t value);
  void boolean(std::string_view key, bool value);
  void raw(std::string_view key, std::string_view json);
  std::string text() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

std::string jsonEscape(std::string_view s);

// Writes a file, creating its parent directories.
void writeFile(const std::string& path, const void* data, size_t len);

}  // namespace lg
