#pragma once
// The audit log: who did what to what, from where, and how it ended. The planes say what a
// request did (http::Request's audit fields); the node hands each audited request here when
// its answer has gone out. Records wait in a bounded queue and a background thread writes
// them in batches to the metadata store (berth audit list) and, when configured, as JSON lines
// to a file or stderr for any log shipper. A request never waits for the log: when the queue
// is full the record is dropped and counted (berth_audit_dropped_total), and a warning logged.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "meta/event_store.hpp"

namespace berth::events {

struct AuditOptions {
  size_t queue = 10000;              // records waiting to be written
  std::string file;                  // "": none; "-": stderr; else a path, appended to
  std::chrono::hours keep{90 * 24};  // records older than this are pruned (hourly)
};

// One record as a JSON line (without the newline): the export format.
std::string auditLine(const meta::AuditRecord& record);

class AuditLog {
 public:
  AuditLog(meta::EventStore& store, AuditOptions options);
  ~AuditLog();  // writes what is queued, then stops
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void start();
  void stop();
  // Never blocks on the store or the file.
  void record(meta::AuditRecord record);
  // Waits until everything recorded so far is written (tests, shutdown).
  void flush();

 private:
  void loop();
  void write(std::vector<meta::AuditRecord>& batch);
  void exportLines(const std::vector<meta::AuditRecord>& batch);

  meta::EventStore& store_;
  AuditOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::vector<meta::AuditRecord> queue_;
  uint64_t queued_ = 0;   // records ever queued
  uint64_t settled_ = 0;  // records ever written (or given up)
  bool stopping_ = false;
  std::thread thread_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point lastPrune_{};
};

}  // namespace berth::events
