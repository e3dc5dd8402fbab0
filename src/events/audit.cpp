#include "events/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "storage/object/signing.hpp"

namespace berth::events {
namespace {

constexpr size_t kBatch = 512;
constexpr auto kLinger = std::chrono::milliseconds(200);

metrics::Counter& audited(std::string_view what) {
  static auto& family = metrics::counters(
      "berth_audit_records_total",
      "Audit records by fate: written, dropped (the queue was full) or lost (the store failed)",
      {"fate"});
  return family.with({std::string(what)});
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string auditLine(const meta::AuditRecord& r) {
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(r.timeMs % 1000));
  const auto time =
      storage::signing::utcTime(static_cast<std::time_t>(r.timeMs / 1000), "%Y-%m-%dT%H:%M:%S") +
      fraction;
  boost::json::object o{{"time", time},
                        {"registry", r.registry},
                        {"identity", r.identity},
                        {"source", r.source},
                        {"userAgent", r.userAgent},
                        {"action", r.action},
                        {"target", r.target},
                        {"outcome", r.outcome},
                        {"status", r.status},
                        {"requestId", r.requestId}};
  return boost::json::serialize(o);
}

AuditLog::AuditLog(meta::EventStore& store, AuditOptions options)
    : store_(store), options_(std::move(options)) {}

AuditLog::~AuditLog() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void AuditLog::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AuditLog::record(meta::AuditRecord record) {
  if (record.timeMs == 0) record.timeMs = nowMs();
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= options_.queue) {
      audited("dropped").add();
      static std::atomic<int64_t> lastWarning{0};
      const auto now = nowMs();
      if (now - lastWarning.exchange(now) > 10000) {
        log::warn("audit queue full: records dropped", {{"queue", options_.queue}});
      }
      return;
    }
    queue_.push_back(std::move(record));
    ++queued_;
    if (queue_.size() < kBatch) return;
  }
  wake_.notify_all();
}

void AuditLog::flush() {
  std::unique_lock lock(mutex_);
  const auto target = queued_;
  wake_.notify_all();
  written_.wait_for(lock, std::chrono::seconds(30), [&] { return settled_ >= target; });
}

void AuditLog::loop() {
  for (;;) {
    std::vector<meta::AuditRecord> batch;
    bool last = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kLinger, [&] { return stopping_ || queue_.size() >= kBatch; });
      batch.swap(queue_);
      last = stopping_;
    }
    if (!batch.empty()) write(batch);
    if (last) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - lastPrune_ >= std::chrono::hours(1)) {
      lastPrune_ = now;
      const auto before =
          nowMs() - std::chrono::duration_cast<std::chrono::milliseconds>(options_.keep).count();
      if (auto pruned = store_.pruneAudit(before); pruned && *pruned > 0) {
        log::info("audit records pruned", {{"records", *pruned}});
      }
    }
  }
}

void AuditLog::write(std::vector<meta::AuditRecord>& batch) {
  exportLines(batch);
  if (auto r = store_.appendAudit(batch); r) {
    audited("written").add(batch.size());
  } else {
    audited("lost").add(batch.size());
    log::error("audit records not stored",
               {{"records", batch.size()}, {"error", r.error().detail}});
  }
  {
    std::lock_guard lock(mutex_);
    settled_ += batch.size();
  }
  written_.notify_all();
}

void AuditLog::exportLines(const std::vector<meta::AuditRecord>& batch) {
  if (options_.file.empty()) return;
  std::string text;
  for (const auto& r : batch) {
    text += auditLine(r);
    text += '\n';
  }
  int fd = STDERR_FILENO;
  if (options_.file != "-") {
    // Opened again when the file was moved away (log rotation) or removed.
    struct stat byPath {
    }, byFd{};
    if (fd_ >= 0 && (::stat(options_.file.c_str(), &byPath) != 0 || ::fstat(fd_, &byFd) != 0 ||
                     byPath.st_ino != byFd.st_ino || byPath.st_dev != byFd.st_dev)) {
      ::close(fd_);
      fd_ = -1;
    }
    if (fd_ < 0) {
      fd_ = ::open(options_.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
      if (fd_ < 0) {
        log::error("cannot open the audit file",
                   {{"path", options_.file}, {"error", std::strerror(errno)}});
        return;
      }
    }
    fd = fd_;
  }
  for (size_t at = 0; at < text.size();) {
    const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::error("cannot write the audit file",
                 {{"path", options_.file}, {"error", std::strerror(errno)}});
      return;
    }
    at += static_cast<size_t>(n);
  }
}

}  // namespace berth::events
