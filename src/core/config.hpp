#pragma once
// The server's settings: defaults, then a JSON config file, then command-line flags.
#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace berth {

struct ServeConfig {
  std::string listen = "127.0.0.1:5000";
  std::string dataDir = "./data";
  std::string logLevel = "info";
  unsigned threads = 0;  // 0: one per core
  uint32_t idleTimeoutSeconds = 60;
  uint32_t manifestCacheEntries = 4096;
  // Blobs each registry keeps open after a read, for the next one (a descriptor each).
  uint32_t openBlobCacheEntries = 256;
  uint32_t tokenLifetimeSeconds = 300;
  std::string tlsCert;  // PEM files; both set: the listener serves HTTPS
  std::string tlsKey;
  // Registry <name> answers at <name>.<domain> (the domain may end in the port clients use).
  // Empty: "localhost:<listen port>".
  std::string domain;
  std::string operatorTokenFile;  // empty: <data>/operator-token
  // Space kept free on the data file system for deleting and starting up when it is full.
  uint64_t diskReserveBytes = 64ull << 20;
  // Open connections at most, in all and from one client address (0: no per-client limit);
  // beyond them a connection is answered 503 and closed.
  uint32_t maxConnections = 10000;
  uint32_t maxConnectionsPerClient = 512;
  // A request body or a download slower than this (bytes per second, averaged from the start)
  // is cut off once idle_timeout_seconds have passed; 0: no minimum.
  uint32_t minTransferRate = 1024;
  // The request line and header fields together; a larger head is answered 431.
  uint32_t maxHeaderBytes = 16 * 1024;
  // Garbage collection: a pass over every registry this often (0: never; `berth admin gc`
  // runs one by hand); unreferenced blobs are kept this long after their last use; upload
  // sessions nothing writes to are removed after this long.
  uint32_t gcIntervalSeconds = 60;
  uint32_t gcGraceSeconds = 3600;
  uint32_t uploadExpirySeconds = 86400;
  // After SIGTERM, how long /readyz answers 503 while requests are still served, before the
  // listener closes.
  uint32_t shutdownDelaySeconds = 0;
  // How often due purge schedules are looked for (retention runs hourly).
  uint32_t lifecycleIntervalSeconds = 30;
  // Changes of tags are kept this long (berth repository tag-history).
  uint32_t tagHistoryDays = 90;
};

// Reads a JSON object such as {"listen": "0.0.0.0:5000", "data": "/var/lib/berth"}.
// Unknown keys are an error, so that a typo does not pass silently.
Result<ServeConfig> loadConfigFile(const std::string& path, ServeConfig base = {});

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
Result<HostPort> parseHostPort(const std::string& text);

}  // namespace berth
