#pragma once
// Runs imports off the request path: a bounded queue and a fixed number of workers. Each job is
// a row of the UpstreamStore, updated as it goes (at most once a second) and on a heartbeat, so
// that any node can report it and a job whose node died reads as failed.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "meta/upstream_store.hpp"
#include "upstream/importer.hpp"

namespace berth::upstream {

struct ImportRunnerOptions {
  size_t workers = 2;
  size_t queue = 100;  // jobs waiting for a worker, beyond which submit refuses
  std::chrono::milliseconds heartbeat{15000};
};

class ImportRunner {
 public:
  ImportRunner(meta::UpstreamStore& store, Importer& importer, ImportRunnerOptions options);
  ~ImportRunner();
  ImportRunner(const ImportRunner&) = delete;
  ImportRunner& operator=(const ImportRunner&) = delete;

  // Records `job` (its id, registry, source, targets and identity set) as queued and queues it.
  // TOO_MANY_REQUESTS when the queue is full; nothing is recorded then.
  Result<meta::ImportJob> submit(ImportRequest request, meta::ImportJob job);
  // Ends the workers: a running import stops at its next step and fails, queued ones fail.
  void stop();

  // A job not updated for this long was running on a node that stopped.
  static constexpr int64_t kStaleMs = 120000;
  // The job as a reader should see it: failed when its node stopped updating it.
  static meta::ImportJob observed(meta::ImportJob job, int64_t nowMs);

 private:
  struct Tracked {
    std::mutex mutex;
    ImportRequest request;
    meta::ImportJob job;
    int64_t writtenMs = 0;
  };
  void work();
  void beat();
  void execute(Tracked& t);
  void save(Tracked& t, bool force);

  meta::UpstreamStore& store_;
  Importer& importer_;
  ImportRunnerOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Tracked>> queue_;
  std::map<std::string, std::shared_ptr<Tracked>> running_;
  std::vector<std::thread> workers_;
  std::thread heartbeat_;
};

}  // namespace berth::upstream
