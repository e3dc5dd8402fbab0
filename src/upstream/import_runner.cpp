#include "upstream/import_runner.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"

namespace berth::upstream {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

metrics::Counter& finished(std::string_view outcome) {
  static auto& family = metrics::counters(
      "berth_imports_total", "Imports finished, by outcome: succeeded or failed", {"outcome"});
  return family.with({std::string(outcome)});
}

metrics::Counter& copiedBytes() {
  static auto& c = metrics::counters("berth_import_bytes_total",
                                     "Bytes of blobs imports fetched from upstream registries")
                       .with();
  return c;
}

metrics::Gauge& runningGauge() {
  static auto& g =
      metrics::gauges("berth_imports_running", "Imports running now on this node").with();
  return g;
}

// What a reader of an error sees: its message when it has one.
std::string reasonOf(const Error& e) { return e.message.empty() ? e.detail : e.message; }

}  // namespace

ImportRunner::ImportRunner(meta::UpstreamStore& store, Importer& importer,
                           ImportRunnerOptions options)
    : store_(store), importer_(importer), options_(options) {
  if (options_.workers == 0) options_.workers = 1;
  for (size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  heartbeat_ = std::thread([this] { beat(); });
}

ImportRunner::~ImportRunner() { stop(); }

meta::ImportJob ImportRunner::observed(meta::ImportJob job, int64_t now) {
  if ((job.state == "running" || job.state == "queued") && now - job.updatedMs > kStaleMs) {
    job.state = "failed";
    job.error = "interrupted: the node running it stopped";
    job.finishedMs = job.updatedMs;
  }
  return job;
}

Result<meta::ImportJob> ImportRunner::submit(ImportRequest request, meta::ImportJob job) {
  auto t = std::make_shared<Tracked>();
  job.state = "queued";
  job.createdMs = job.updatedMs = nowMs();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return makeError(ApiCode::Unknown, "the server is stopping", 503);
    if (queue_.size() >= options_.queue) {
      return explainedError(
          ApiCode::TooManyRequests,
          std::to_string(queue_.size()) + " imports are waiting already; try again later");
    }
  }
  if (auto r = store_.createImportJob(job); !r) return r.takeError();
  t->request = std::move(request);
  t->job = job;
  t->writtenMs = job.updatedMs;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(t);
  }
  wake_.notify_all();
  return job;
}

void ImportRunner::stop() {
  std::deque<std::shared_ptr<Tracked>> left;
  {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true)) return;
    left.swap(queue_);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
  if (heartbeat_.joinable()) heartbeat_.join();
  for (auto& t : left) {
    t->job.state = "failed";
    t->job.error = "the server stopped before the import began";
    t->job.finishedMs = t->job.updatedMs = nowMs();
    (void)store_.updateImportJob(t->job);
    finished("failed").add();
  }
}

void ImportRunner::work() {
  for (;;) {
    std::shared_ptr<Tracked> t;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      t = queue_.front();
      queue_.pop_front();
      running_[t->job.id] = t;
    }
    runningGauge().add(1);
    execute(*t);
    runningGauge().add(-1);
    std::lock_guard lock(mutex_);
    running_.erase(t->job.id);
  }
}

void ImportRunner::save(Tracked& t, bool force) {
  // Written under the job's lock: a heartbeat's copy never lands after the final state.
  std::lock_guard lock(t.mutex);
  const int64_t now = nowMs();
  if (!force && now - t.writtenMs < 1000) return;
  t.job.updatedMs = t.writtenMs = now;
  if (auto r = store_.updateImportJob(t.job); !r) {
    log::warn("import progress not recorded", {{"job", t.job.id}, {"error", r.error().detail}});
  }
}

void ImportRunner::execute(Tracked& t) {
  {
    std::lock_guard lock(t.mutex);
    t.job.state = "running";
  }
  save(t, true);
  // The importer counts into its own copy; progress() publishes it under the lock.
  meta::ImportJob working;
  {
    std::lock_guard lock(t.mutex);
    working = t.job;
  }
  uint64_t bytesSeen = 0;
  auto progress = [&] {
    copiedBytes().add(working.bytesCopied - bytesSeen);
    bytesSeen = working.bytesCopied;
    {
      std::lock_guard lock(t.mutex);
      const auto state = t.job.state;
      t.job = working;
      t.job.state = state;
    }
    save(t, false);
  };
  auto outcome = importer_.run(t.request, working, progress, stopping_);
  progress();
  {
    std::lock_guard lock(t.mutex);
    t.job.state = outcome ? "succeeded" : "failed";
    if (!outcome) t.job.error = reasonOf(outcome.error());
    t.job.finishedMs = nowMs();
  }
  save(t, true);
  finished(outcome ? "succeeded" : "failed").add();
  log::info("import finished", {{"job", t.job.id},
                                {"registry", t.request.registry.name},
                                {"source", t.job.source},
                                {"outcome", t.job.state},
                                {"error", t.job.error},
                                {"manifests", static_cast<int64_t>(t.job.manifests)},
                                {"blobs_copied", static_cast<int64_t>(t.job.blobsCopied)},
                                {"bytes", static_cast<int64_t>(t.job.bytesCopied)}});
}

void ImportRunner::beat() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.heartbeat, [&] { return stopping_.load(); });
    if (stopping_) return;
    std::vector<std::shared_ptr<Tracked>> all(queue_.begin(), queue_.end());
    for (auto& [id, t] : running_) all.push_back(t);
    lock.unlock();
    for (auto& t : all) save(*t, true);
    lock.lock();
  }
}

}  // namespace berth::upstream
