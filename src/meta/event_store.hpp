#pragma once
// EventStore: the outbox of changes others must hear of, the webhooks that hear of them with
// their deliveries, and the audit log. Outbox rows are written by the MetadataStore in the
// transaction of the change itself (a pushed or deleted manifest, a tag moved or deleted);
// everything here reads them later, off the request path.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "meta/metadata_store.hpp"

namespace berth::meta {

// One change, as ACR's webhook payload describes it.
struct OutboxEvent {
  int64_t id = 0;  // increasing: the outbox's order
  RegistryId registry = 0;
  std::string uid;     // the event's id in payloads (a UUID)
  int64_t timeMs = 0;  // milliseconds since the epoch
  std::string action;  // "push" or "delete"
  std::string repository;
  std::string tag;  // empty when the change named no tag
  std::string digest;
  std::string mediaType;
  uint64_t size = 0;
  std::string requestId, host, method, userAgent;
  std::string identity, source;
};

struct Webhook {
  RegistryId registry = 0;
  std::string name;
  std::string uri;
  std::vector<std::string> actions;  // "push", "delete"
  std::vector<std::string> scopes;   // "repo[:tag]" patterns; none: every event
  std::vector<std::pair<std::string, std::string>> headers;
  bool enabled = true;
  std::string sealedSecret;  // the signing secret, encrypted (events/secret_box.hpp)
  int64_t created = 0;
};

// One event (or ping) to one webhook, and how its delivery went.
struct Delivery {
  int64_t id = 0;
  RegistryId registry = 0;
  std::string webhook;
  int64_t eventId = 0;  // 0 for a ping
  std::string action;
  std::string payload;            // the JSON body sent
  std::string state = "pending";  // pending, delivered, failed
  uint32_t attempts = 0;
  int64_t createdMs = 0;
  int64_t nextAttemptMs = 0;  // while pending
  int64_t finishedMs = 0;     // delivered or failed
  int status = 0;             // the last answer's HTTP status, 0 for none
  std::string error;          // why the last attempt failed
  std::string response;       // the first bytes of the last answer's body
  int64_t durationMs = 0;     // of the last attempt
};

struct AttemptOutcome {
  int64_t delivery = 0;
  std::string state;  // pending (again at nextAttemptMs), delivered, failed
  int64_t nextAttemptMs = 0;
  int64_t finishedMs = 0;
  int status = 0;
  std::string error;
  std::string response;
  int64_t durationMs = 0;
};

// One audited action.
struct AuditRecord {
  int64_t id = 0;
  int64_t timeMs = 0;
  std::string registry;  // empty for the deployment (registry create, list)
  std::string identity;  // "admin", "token:<name>", "operator", "anonymous", or the user tried
  std::string source;    // the client's address
  std::string userAgent;
  std::string action;   // "manifest.push", "login", "token.create", ...
  std::string target;   // "repo:tag", "repo@digest", a token's name, ...
  std::string outcome;  // "success", "failure"
  int status = 0;       // the HTTP status answered
  std::string requestId;
};

struct AuditQuery {
  std::string registry;  // empty: every registry and the deployment
  int64_t sinceMs = 0;
  std::string identity;
  std::string action;    // an action, or a family ("manifest" matches "manifest.push")
  int64_t beforeId = 0;  // 0: from the newest
  size_t limit = 100;
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // CONFLICT when the name is taken.
  virtual Result<void> createWebhook(const Webhook& webhook) = 0;
  virtual Result<std::optional<Webhook>> webhook(RegistryId registry, std::string_view name) = 0;
  // By name.
  virtual Result<std::vector<Webhook>> webhooks(RegistryId registry) = 0;
  // Replaces everything but `created` of the webhook named `webhook.name`; false when none.
  virtual Result<bool> updateWebhook(const Webhook& webhook) = 0;
  // With its deliveries; false when there is none.
  virtual Result<bool> deleteWebhook(RegistryId registry, std::string_view name) = 0;

  // The outbox. A consumer ("webhooks", later replication) keeps a cursor: the events after
  // it, oldest first, at most `limit`, and the cursor they follow.
  virtual Result<std::pair<int64_t, std::vector<OutboxEvent>>> eventsAfterCursor(
      std::string_view consumer, size_t limit) = 0;
  // Moves the consumer's cursor from `from` to `to` and records `deliveries` (their ids
  // ignored), in one transaction. False, changing nothing, when the cursor is no longer at
  // `from` (another process took those events).
  virtual Result<bool> advanceCursor(std::string_view consumer, int64_t from, int64_t to,
                                     const std::vector<Delivery>& deliveries) = 0;
  // A delivery outside the outbox (a ping); its id.
  virtual Result<int64_t> addDelivery(const Delivery& delivery) = 0;
  // Takes up to `limit` pending deliveries due at `nowMs`, oldest due first, skipping those of
  // the webhooks in `busy` ("<registry id>/<name>"); each is not due again before `leaseMs`
  // (should the taker die, another attempt follows then).
  virtual Result<std::vector<Delivery>> claimDeliveries(int64_t nowMs, int64_t leaseMs,
                                                        size_t limit,
                                                        const std::vector<std::string>& busy) = 0;
  // The attempts' outcomes, in one transaction (the senders' results since the last write).
  virtual Result<void> recordAttempts(const std::vector<AttemptOutcome>& outcomes) = 0;
  // The webhook's deliveries, newest first: ids below `beforeId` (0: from the newest).
  virtual Result<std::vector<Delivery>> deliveries(RegistryId registry, std::string_view webhook,
                                                   int64_t beforeId, size_t limit) = 0;
  // When the next pending delivery is due, if any.
  virtual Result<std::optional<int64_t>> nextDue() = 0;
  // Forgets outbox events every consumer has passed that are older than `beforeMs`, and
  // finished deliveries older than it; how many rows went.
  virtual Result<uint64_t> pruneEvents(int64_t beforeMs) = 0;

  virtual Result<void> appendAudit(const std::vector<AuditRecord>& records) = 0;
  // Newest first.
  virtual Result<std::vector<AuditRecord>> audit(const AuditQuery& query) = 0;
  virtual Result<uint64_t> pruneAudit(int64_t beforeMs) = 0;
};
using EventStorePtr = std::unique_ptr<EventStore>;

}  // namespace berth::meta
