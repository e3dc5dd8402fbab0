#pragma once
// Replication: every push and delete of a registry that matches a replication's scopes is
// copied to another registry (another berth, a distribution, any OCI registry). A dispatcher
// thread moves new outbox events (meta/event_store.hpp) into tasks of the replications they
// match, in the transaction that moves its cursor, and hands due tasks to a fixed set of
// workers. Changes to one repository are copied in order, one at a time; repositories and
// replications go in parallel. A task that fails is tried again after an exponential backoff
// (capped) until `retryFor` has passed since the change, then given up and counted; a target
// that was down is caught up when it answers again. Claimed tasks carry a lease, so that with
// several nodes each task runs on one, and a dead node's tasks come back. Nothing here runs on a
// request thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "events/secret_box.hpp"
#include "meta/event_store.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/upstream_store.hpp"
#include "upstream/client.hpp"
#include "upstream/importer.hpp"

namespace berth::upstream {

struct ReplicationOptions {
  size_t workers = 4;     // tasks copied at once
  size_t queue = 100000;  // changes waiting per replication; beyond, counted as dropped
  std::chrono::milliseconds backoffCap{300000};        // the longest wait between two attempts
  std::chrono::milliseconds retryFor{7 * 86400000LL};  // from the change; then it is given up
  std::chrono::milliseconds lease{600000};  // a claimed task not finished by then comes back
  std::chrono::milliseconds poll{250};      // how often the outbox is looked at
};

// Where a replication copies to: https://HOST[:PORT][/PREFIX] (http:// for a registry
// without TLS). Repositories land under PREFIX when one is given.
struct ReplicationTarget {
  std::string host;    // host[:port]
  std::string prefix;  // repository path prefix, without slashes at its ends; may be empty
  bool plain = false;  // http
  std::string url() const;
  std::string repository(std::string_view local) const;
};
Result<ReplicationTarget> parseReplicationTarget(std::string_view url);
// A replication's scope as a webhook's ("repo:tag" patterns, events/webhook_rules.hpp): one
// without a tag means every tag.
std::string replicationScope(std::string_view scope);

class Replicator {
 public:
  Replicator(meta::MetadataStore& meta, meta::IdentityStore& identities, meta::EventStore& events,
             meta::UpstreamStore& store, ImportTarget& blobs, const events::SecretBox& secrets,
             std::shared_ptr<storage::object::HttpClient> http, ClientOptions clientOptions,
             ReplicationOptions options);
  ~Replicator();  // stops
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  void start();
  // Stops claiming and waits for the copies in flight; each stops at its next request.
  void stop();
  // Something changed (a push, a sync asked for): look now rather than at the next poll.
  void wake();
  // A replication changed or went: its client (target, credentials) is made again.
  void forget(meta::RegistryId registry, std::string_view name);

 private:
  struct Attempt;
  void loop();
  void fanOut();
  void syncs();
  void dispatch();
  void recordFinished();
  // Every third of a lease, the leases of the tasks being copied are extended.
  void keepLeases();
  void workerLoop();
  meta::TaskOutcome attempt(const meta::ReplicationTask& task);
  Result<void> copy(Client& client, const ReplicationTarget& target,
                    const meta::ReplicationTask& task);
  Result<std::shared_ptr<Client>> clientFor(const meta::Replication& replication,
                                            ReplicationTarget& target);

  meta::MetadataStore& meta_;
  meta::IdentityStore& identities_;
  meta::EventStore& events_;
  meta::UpstreamStore& store_;
  ImportTarget& blobs_;
  const events::SecretBox& secrets_;
  std::shared_ptr<storage::object::HttpClient> http_;
  ClientOptions clientOptions_;
  ReplicationOptions options_;
  std::atomic<bool> stopFlag_{false};  // ends the clients' requests

  std::mutex mutex_;
  std::condition_variable wake_;  // the dispatcher's
  std::condition_variable work_;  // the workers'
  std::deque<meta::ReplicationTask> queue_;
  std::vector<meta::TaskOutcome> finished_;
  std::set<std::string> busy_;  // "<registry>/<replication>/<repository>" in flight
  std::set<int64_t> copying_;   // ids of the tasks being copied, whose leases are kept
  std::chrono::steady_clock::time_point leasesExtended_{};
  size_t inFlight_ = 0;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;

  struct CachedClient {
    std::string fingerprint;  // target and credentials it was made for
    std::shared_ptr<Client> client;
  };
  std::mutex clientsMutex_;
  std::map<std::string, CachedClient> clients_;  // by "<registry>/<name>"
};

}  // namespace berth::upstream
