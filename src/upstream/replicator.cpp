#include "upstream/replicator.hpp"

#include <algorithm>
#include <boost/url.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/reference.hpp"
#include "events/webhook_rules.hpp"
#include "registry/manifest_parse.hpp"

namespace berth::upstream {
namespace {

constexpr std::string_view kConsumer = "replication";
constexpr size_t kFanOutBatch = 256;
constexpr size_t kMaxDepth = 4;  // an index of indexes of ...: deeper is refused
constexpr auto kDisabledWait = std::chrono::minutes(1);
constexpr size_t kMaxPrefix = 64;  // leaves most of a repository name's 255 bytes to the name

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string keyOf(meta::RegistryId registry, std::string_view name) {
  return std::to_string(registry) + "/" + std::string(name);
}
std::string keyOf(const meta::ReplicationTask& t) {
  return keyOf(t.registry, t.replication) + "/" + t.repository;
}

metrics::Counter& tasksCounted(std::string_view outcome) {
  static auto& family = metrics::counters(
      "berth_replication_tasks_total",
      "Replication attempts by outcome: done (copied), retry (to be tried again), failed (given "
      "up) or dropped (not queued: the replication's queue was full)",
      {"outcome"});
  return family.with({std::string(outcome)});
}

std::vector<std::string> withTags(const std::vector<std::string>& scopes) {
  std::vector<std::string> out;
  for (const auto& s : scopes) out.push_back(replicationScope(s));
  return out;
}

// What the target's refusal means: the same answer would come again (the content or the
// operation is refused), so the change is given up rather than retried.
bool refusedForGood(const Error& error) {
  return error.code == ApiCode::Unsupported || error.code == ApiCode::ManifestInvalid;
}

}  // namespace

std::string replicationScope(std::string_view scope) {
  return scope.find(':') == std::string_view::npos ? std::string(scope) + ":*" : std::string(scope);
}

std::string ReplicationTarget::url() const {
  return (plain ? "http://" : "https://") + host + (prefix.empty() ? "" : "/" + prefix);
}

std::string ReplicationTarget::repository(std::string_view local) const {
  return prefix.empty() ? std::string(local) : prefix + "/" + std::string(local);
}

Result<ReplicationTarget> parseReplicationTarget(std::string_view text) {
  auto bad = [&](std::string why) {
    return explainedError(
        ApiCode::NameInvalid,
        "invalid replication target \"" + std::string(text.substr(0, 300)) + "\": " + why);
  };
  if (text.size() > 2048) return bad("longer than 2048 bytes");
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return bad("give https://HOST[:PORT][/PREFIX]");
  ReplicationTarget t;
  if (parsed->scheme() == "http") {
    t.plain = true;
  } else if (parsed->scheme() != "https") {
    return bad("the scheme must be https or http");
  }
  if (parsed->has_userinfo()) return bad("credentials go in a credential set, not the URL");
  if (parsed->has_query() || parsed->has_fragment()) return bad("no query or fragment");
  t.host = std::string(parsed->encoded_host_and_port());
  for (auto& c : t.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (parsed->encoded_host().empty()) return bad("no host");
  std::string path(parsed->encoded_path());
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (!path.empty() && !isValidRepositoryName(path)) {
    return bad("the path must be a repository prefix (lower-case path components)");
  }
  if (path.size() > kMaxPrefix) {
    return bad("the prefix is longer than " + std::to_string(kMaxPrefix) + " bytes");
  }
  t.prefix = path;
  return t;
}

Replicator::Replicator(meta::MetadataStore& meta, meta::IdentityStore& identities,
                       meta::EventStore& events, meta::UpstreamStore& store, ImportTarget& blobs,
                       const events::SecretBox& secrets,
                       std::shared_ptr<storage::object::HttpClient> http,
                       ClientOptions clientOptions, ReplicationOptions options)
    : meta_(meta),
      identities_(identities),
      events_(events),
      store_(store),
      blobs_(blobs),
      secrets_(secrets),
      http_(std::move(http)),
      clientOptions_(std::move(clientOptions)),
      options_(options) {
  clientOptions_.write = true;
  if (options_.workers == 0) options_.workers = 1;
}

Replicator::~Replicator() { stop(); }

void Replicator::start() {
  std::lock_guard lock(mutex_);
  if (dispatcher_.joinable()) return;
  stopping_ = false;
  stopFlag_ = false;
  for (size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { workerLoop(); });
  dispatcher_ = std::thread([this] { loop(); });
}

namespace {
// A task claimed and not attempted (the node stopping): due again at once, for any node.
meta::TaskOutcome released(const meta::ReplicationTask& t) {
  return {t.id, t.registry, t.replication, "release", nowMs(), nowMs(), ""};
}
}  // namespace

void Replicator::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (const auto& t : queue_) finished_.push_back(released(t));
    queue_.clear();
  }
  stopFlag_ = true;
  wake_.notify_all();
  work_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& t : workers_) t.join();
  workers_.clear();
  recordFinished();
}

void Replicator::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void Replicator::forget(meta::RegistryId registry, std::string_view name) {
  std::lock_guard lock(clientsMutex_);
  clients_.erase(keyOf(registry, name));
}

void Replicator::keepLeases() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mutex_);
    if (now - leasesExtended_ < options_.lease / 3) return;
    leasesExtended_ = now;
    ids.assign(copying_.begin(), copying_.end());
  }
  // Should this fail, the next pass tries again; a lease missed lets a second node copy the
  // change too, which the target takes as the same content twice.
  (void)store_.extendReplicationLeases(ids, nowMs() + options_.lease.count());
}

void Replicator::loop() {
  while (true) {
    fanOut();
    syncs();
    keepLeases();
    dispatch();
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.poll, [&] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

void Replicator::fanOut() {
  for (bool more = true; more;) {
    auto pending = events_.eventsAfterCursor(kConsumer, kFanOutBatch);
    if (!pending) return;  // logged by the store; tried again at the next poll
    auto& [cursor, events] = *pending;
    if (events.empty()) return;
    more = events.size() == kFanOutBatch;
    std::map<meta::RegistryId, std::vector<meta::Replication>> replications;
    std::map<std::string, uint64_t> queued, dropped;
    bool counted = false;
    std::vector<meta::ReplicationTask> tasks;
    for (const auto& e : events) {
      if (e.action != "push" && e.action != "delete") continue;
      auto it = replications.find(e.registry);
      if (it == replications.end()) {
        auto listed = store_.replications(e.registry);
        if (!listed) return;
        for (auto& r : *listed) r.scopes = withTags(r.scopes);
        it = replications.emplace(e.registry, std::move(*listed)).first;
      }
      for (const auto& r : it->second) {
        if (!r.enabled || !events::scopeMatches(r.scopes, e.repository, e.tag)) continue;
        if (!counted) {
          auto queues = store_.replicationQueues();
          if (!queues) return;
          queued.insert(queues->begin(), queues->end());
          counted = true;
        }
        const auto key = keyOf(r.registry, r.name);
        if (queued[key] >= options_.queue) {
          ++dropped[key];
          continue;
        }
        ++queued[key];
        meta::ReplicationTask t;
        t.registry = e.registry;
        t.replication = r.name;
        t.action = e.action;
        t.repository = e.repository;
        t.tag = e.tag;
        t.digest = e.digest;
        t.eventMs = e.timeMs;
        t.nextAttemptMs = 0;
        tasks.push_back(std::move(t));
      }
    }
    std::vector<std::pair<std::string, uint64_t>> droppedList(dropped.begin(), dropped.end());
    auto moved =
        store_.queueReplicationTasks(kConsumer, cursor, events.back().id, tasks, droppedList);
    if (!moved || !*moved) return;  // another node took these events
    for (const auto& [key, n] : droppedList) {
      tasksCounted("dropped").add(n);
      log::warn("replication queue full: changes not queued",
                {{"replication", key}, {"changes", std::to_string(n)}});
    }
  }
}

void Replicator::syncs() {
  auto requested = store_.syncsRequested();
  if (!requested || requested->empty()) return;
  auto queues = store_.replicationQueues();
  if (!queues) return;
  std::map<std::string, uint64_t> queued(queues->begin(), queues->end());
  for (const auto& r : *requested) {
    const auto scopes = withTags(r.scopes);
    const auto now = nowMs();
    uint64_t room = options_.queue - std::min(options_.queue, queued[keyOf(r.registry, r.name)]);
    std::vector<meta::ReplicationTask> tasks;
    auto add = [&](const std::string& repository, const std::string& tag,
                   const std::string& digest) {
      meta::ReplicationTask t;
      t.registry = r.registry;
      t.replication = r.name;
      t.action = "push";
      t.repository = repository;
      t.tag = tag;
      t.digest = digest;
      t.eventMs = now;
      tasks.push_back(std::move(t));
    };
    bool failed = false;
    std::string after;
    for (bool more = true; more && !failed && tasks.size() < room;) {
      auto page = meta_.listRepositories(r.registry, after, 1000);
      if (!page) {
        failed = true;
        break;
      }
      more = page->more;
      if (!page->items.empty()) after = page->items.back();
      for (const auto& repository : page->items) {
        auto id = meta_.findRepository(r.registry, repository);
        if (!id || !*id) continue;
        auto tags = meta_.tagInfos(**id);
        if (!tags) {
          failed = true;
          break;
        }
        std::sort(tags->begin(), tags->end(),
                  [](const auto& a, const auto& b) { return a.name < b.name; });
        std::set<std::string> digests;
        for (const auto& tag : *tags) {
          if (!events::scopeMatches(scopes, repository, tag.name)) continue;
          add(repository, tag.name, tag.digest);
          digests.insert(tag.digest);
        }
        // Their referrers (signatures, SBOMs), where the scope takes changes without a tag.
        if (!events::scopeMatches(scopes, repository, "")) continue;
        for (const auto& digest : digests) {
          auto referrers = meta_.referrers(**id, digest);
          if (!referrers) continue;
          for (const auto& m : *referrers) add(repository, "", m.digest);
        }
      }
    }
    if (failed) continue;  // the store answered an error (logged): the sync is asked again
    if (tasks.size() > room) {
      log::warn("replication sync: queue full, the rest is left for another sync",
                {{"replication", keyOf(r.registry, r.name)},
                 {"changes", std::to_string(tasks.size() - room)}});
      tasks.resize(room);
    }
    auto queuedNow = store_.queueSync(r.registry, r.name, tasks, now);
    if (!queuedNow || !*queuedNow) continue;  // failed (asked again), or another node queued it
    queued[keyOf(r.registry, r.name)] += tasks.size();
    log::info("replication sync queued", {{"replication", keyOf(r.registry, r.name)},
                                          {"changes", std::to_string(tasks.size())}});
  }
}

void Replicator::dispatch() {
  recordFinished();
  std::vector<std::string> busy;
  size_t room = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    room = options_.workers - std::min(options_.workers, inFlight_ + queue_.size());
    busy.assign(busy_.begin(), busy_.end());
  }
  if (room == 0) return;
  auto tasks = store_.claimReplicationTasks(nowMs(), options_.lease.count(), room, busy);
  if (!tasks || tasks->empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (auto& t : *tasks) {
      busy_.insert(keyOf(t));
      queue_.push_back(std::move(t));
    }
  }
  work_.notify_all();
}

void Replicator::recordFinished() {
  std::vector<meta::TaskOutcome> done;
  {
    std::lock_guard lock(mutex_);
    done.swap(finished_);
  }
  if (done.empty()) return;
  // Should this fail, the tasks' leases run out and they are tried again.
  (void)store_.recordReplicationOutcomes(done);
}

void Replicator::workerLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++inFlight_;
    copying_.insert(task.id);
    lock.unlock();
    auto outcome = attempt(task);
    lock.lock();
    --inFlight_;
    copying_.erase(task.id);
    busy_.erase(keyOf(task));
    // An attempt cut short by the stop is not held against the change.
    finished_.push_back(stopping_ && outcome.state == "retry" ? released(task)
                                                              : std::move(outcome));
    woken_ = true;  // the repository's next change may go now
    wake_.notify_all();
  }
}

meta::TaskOutcome Replicator::attempt(const meta::ReplicationTask& task) {
  meta::TaskOutcome o;
  o.task = task.id;
  o.registry = task.registry;
  o.replication = task.replication;
  const auto started = nowMs();
  auto replication = store_.replication(task.registry, task.replication);
  Result<void> result;
  if (!replication) {
    result = replication.takeError();
  } else if (!*replication) {
    o.state = "done";  // the replication went (its tasks with it): nothing to copy
    o.atMs = started;
    return o;
  } else if (!(*replication)->enabled) {
    o.state = "retry";
    o.nextAttemptMs = started + std::chrono::milliseconds(kDisabledWait).count();
    o.error = "the replication is disabled";
    o.atMs = started;
    return o;
  } else {
    ReplicationTarget target;
    auto client = clientFor(**replication, target);
    result = client ? copy(**client, target, task) : Result<void>(client.takeError());
  }
  o.atMs = nowMs();
  if (result) {
    o.state = "done";
    tasksCounted("done").add();
    return o;
  }
  o.error = result.error().message.empty() ? result.error().detail : result.error().message;
  const bool expired = o.atMs - task.eventMs > options_.retryFor.count();
  if (refusedForGood(result.error()) || expired) {
    o.state = "failed";
    tasksCounted("failed").add();
    log::warn("replication gave a change up",
              {{"replication", keyOf(task.registry, task.replication)},
               {"repository", task.repository},
               {"digest", task.digest},
               {"error", o.error}});
    return o;
  }
  o.state = "retry";
  o.nextAttemptMs = o.atMs + events::backoffMs(task.attempts + 1, options_.backoffCap.count());
  tasksCounted("retry").add();
  return o;
}

Result<std::shared_ptr<Client>> Replicator::clientFor(const meta::Replication& replication,
                                                      ReplicationTarget& target) {
  auto parsed = parseReplicationTarget(replication.target);
  if (!parsed) return parsed.takeError();
  target = *parsed;
  Credentials credentials;
  std::string fingerprint = replication.target + "\n" + replication.credentialSet;
  if (!replication.credentialSet.empty()) {
    auto set = store_.credentialSet(replication.registry, replication.credentialSet);
    if (!set) return set.takeError();
    if (!*set) {
      return explainedError(ApiCode::Denied,
                            "credential set " + replication.credentialSet + " not found");
    }
    auto password = secrets_.unseal((*set)->sealedPassword);
    if (!password) {
      return explainedError(ApiCode::Denied, "the password of credential set " +
                                                 replication.credentialSet + " cannot be read");
    }
    credentials = {(*set)->username, std::move(*password)};
    fingerprint += "\n" + std::to_string((*set)->updated) + "\n" + (*set)->sealedPassword;
  }
  const auto key = keyOf(replication.registry, replication.name);
  std::lock_guard lock(clientsMutex_);
  auto& cached = clients_[key];
  if (!cached.client || cached.fingerprint != fingerprint) {
    auto options = clientOptions_;
    if (target.plain) options.insecureRegistries.push_back(target.host);
    cached.fingerprint = fingerprint;
    cached.client = std::make_shared<Client>(target.host, std::move(credentials), http_,
                                             std::move(options), &stopFlag_);
  }
  return cached.client;
}

Result<void> Replicator::copy(Client& client, const ReplicationTarget& target,
                              const meta::ReplicationTask& task) {
  const auto remote = target.repository(task.repository);
  if (task.action == "delete") {
    auto deleted = client.deleteManifest(remote, task.tag.empty() ? task.digest : task.tag);
    if (!deleted && !task.tag.empty() && refusedForGood(deleted.error())) {
      // Registries before OCI 1.1 (distribution 2.x) delete manifests only, never a tag alone;
      // deleting the manifest would take its other tags too.
      auto e = deleted.takeError();
      e.message = "the target cannot delete the tag " + remote + ":" + task.tag +
                  " alone, so it stays there (" + e.message + ")";
      e.detail = e.message;
      return e;
    }
    if (!deleted) return deleted.takeError();
    return {};
  }
  auto settings = identities_.registrySettings(task.registry);
  if (!settings) return settings.takeError();
  if (!*settings) return {};  // the registry went: nothing to copy
  auto repository = meta_.findRepository(task.registry, task.repository);
  if (!repository) return repository.takeError();
  if (!*repository) return {};  // deleted since: its delete follows
  if (!task.tag.empty()) {
    // A tag that moved on or went since: the change that moved it comes next.
    auto now = meta_.resolveTag(**repository, task.tag);
    if (!now) return now.takeError();
    if (!*now || **now != task.digest) return {};
  }
  const std::string reference = task.tag.empty() ? task.digest : task.tag;
  auto there = client.headManifest(remote, reference);
  if (!there) return there.takeError();
  if (*there && (*there)->digest == task.digest) return {};

  std::shared_ptr<storage::BlobStore> store;
  // Copies a manifest's blobs (an index's children first, each stored by digest).
  std::function<Result<meta::ManifestRecord>(const std::string&, size_t)> prepare =
      [&](const std::string& digest, size_t depth) -> Result<meta::ManifestRecord> {
    if (depth > kMaxDepth) {
      return explainedError(ApiCode::ManifestInvalid,
                            "indexes nest deeper than " + std::to_string(kMaxDepth));
    }
    auto record = meta_.getManifest(**repository, digest);
    if (!record) return record.takeError();
    if (!*record) {
      return explainedError(
          ApiCode::ManifestUnknown,
          "manifest " + digest + " of " + task.repository + " is no longer stored here");
    }
    auto parsed = registry::parseManifest((*record)->mediaType, (*record)->payload);
    if (!parsed) return parsed.takeError();
    for (const auto& child : parsed->manifests) {
      auto has = client.headManifest(remote, child.digest);
      if (!has) return has.takeError();
      if (*has) continue;
      auto stored = prepare(child.digest, depth + 1);
      if (!stored) return stored.takeError();
      if (auto put = client.putManifest(remote, child.digest, stored->mediaType, stored->payload);
          !put) {
        return put.takeError();
      }
    }
    for (const auto& blob : parsed->blobs) {
      if (blob.external) continue;
      auto d = Digest::parse(blob.digest);
      if (!d) return explainedError(ApiCode::DigestInvalid, "invalid digest " + blob.digest);
      auto has = client.hasBlob(remote, *d);
      if (!has) return has.takeError();
      if (*has) continue;
      if (!store) {
        auto opened = blobs_.blobsOf(**settings);
        if (!opened) return opened.takeError();
        store = std::move(*opened);
      }
      auto reader = store->openSized(*d, blob.size);
      if (!reader) return reader.takeError();
      if (auto pushed = client.pushBlob(remote, *d, *reader); !pushed) return pushed.takeError();
    }
    return std::move(**record);
  };
  auto top = prepare(task.digest, 0);
  if (!top) return top.takeError();
  return client.putManifest(remote, reference, top->mediaType, top->payload);
}

}  // namespace berth::upstream
