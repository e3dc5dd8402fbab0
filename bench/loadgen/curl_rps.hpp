// The same request-rate loop as `rps`, driven by libcurl's multi interface instead of the
// epoll client: kept to measure which of the two is cheaper per request (`--engine curl`).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lg {

struct RateOptions {
  std::string baseUrl;  // http://127.0.0.1:PORT
  std::vector<std::string> paths;
  std::vector<std::pair<std::string, std::string>> headers;
  bool head = false;
  int conns = 64;
  double warmup = 0.5;
  double duration = 3;
  std::vector<pid_t> pids;
  int64_t expectSize = -1;
  bool follow = false;  // follow redirects (to an object store)
};

struct RateResult {
  uint64_t requests = 0;  // completed inside the measured window
  uint64_t bytes = 0;
  uint64_t errors = 0;
  std::string firstError;
  std::vector<double> latencies;
  double window = 0;
  double loadgenCpu = 0;
  double serverCpu = -1;
  double machineCpu = -1;
};

RateResult curlRate(const RateOptions& options);

}  // namespace lg
