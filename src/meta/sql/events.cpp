// The EventStore (the outbox, webhooks and their deliveries, the audit log), in the same
// database as the metadata, and recordEvent(), which the MetadataStore calls inside the
// transaction of each change.

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "core/random.hpp"
#include "meta/sql/database.hpp"
#include "meta/sql/json_columns.hpp"
#include "meta/sql/store_impl.hpp"

namespace berth::meta {
namespace {

using sql::listFrom;
using sql::listJson;
using sql::run;
using sql::Stmt;
using sql::Transaction;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string headersJson(const std::vector<std::pair<std::string, std::string>>& headers) {
  boost::json::array a;
  for (const auto& [name, value] : headers) a.push_back(boost::json::array{name, value});
  return boost::json::serialize(a);
}

std::vector<std::pair<std::string, std::string>> headersFrom(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    const auto* pair = item.if_array();
    if (!pair || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string()) continue;
    out.emplace_back(std::string((*pair)[0].as_string()), std::string((*pair)[1].as_string()));
  }
  return out;
}

Webhook webhookFrom(Stmt& s) {
  Webhook w;
  w.name = s.text(0);
  w.uri = s.text(1);
  w.actions = listFrom(s.text(2));
  w.scopes = listFrom(s.text(3));
  w.headers = headersFrom(s.text(4));
  w.enabled = s.integer(5) != 0;
  w.sealedSecret = s.text(6);
  w.created = s.integer(7);
  w.registry = s.integer(8);
  return w;
}

Delivery deliveryFrom(Stmt& s) {
  Delivery d;
  d.id = s.integer(0);
  d.registry = s.integer(1);
  d.webhook = s.text(2);
  d.eventId = s.integer(3);
  d.action = s.text(4);
  d.payload = s.text(5);
  d.state = s.text(6);
  d.attempts = static_cast<uint32_t>(s.integer(7));
  d.createdMs = s.integer(8);
  d.nextAttemptMs = s.integer(9);
  d.finishedMs = s.integer(10);
  d.status = static_cast<int>(s.integer(11));
  d.error = s.text(12);
  d.response = s.text(13);
  d.durationMs = s.integer(14);
  return d;
}

#define BERTH_DELIVERY_COLUMNS                                                         \
  "id, registry_id, webhook, event_id, action, payload, state, attempts, created_ms, " \
  "next_attempt_ms, finished_ms, status, error, response, duration_ms"

// Inserts a delivery; its id.
Result<int64_t> insertDelivery(sql::Connection& c, const Delivery& d) {
  auto s = c.prepare(
      "INSERT INTO deliveries(registry_id, webhook, event_id, action, payload, state, attempts, "
      "created_ms, next_attempt_ms, finished_ms, status, error, response, duration_ms) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!s) return s.takeError();
  (*s)->bind(1, d.registry).bind(2, d.webhook).bind(3, d.eventId).bind(4, d.action);
  (*s)->bind(5, d.payload).bind(6, d.state).bind(7, static_cast<int64_t>(d.attempts));
  (*s)->bind(8, d.createdMs).bind(9, d.nextAttemptMs).bind(10, d.finishedMs);
  (*s)->bind(11, static_cast<int64_t>(d.status)).bind(12, d.error).bind(13, d.response);
  (*s)->bind(14, d.durationMs);
  auto id = sql::insertedId(c, **s);
  if (!id) return id.takeError();
  if (!*id) return c.fail("insert delivery");
  return **id;
}

class SqlEventStore final : public EventStore {
 public:
  explicit SqlEventStore(std::shared_ptr<sql::Database> db) : db_(std::move(db)) {}

  Result<void> createWebhook(const Webhook& w) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "INSERT INTO webhooks(registry_id, name, uri, actions, scopes, headers, "
        "enabled, sealed_secret, created) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO "
        "NOTHING");
    if (!s) return s.takeError();
    const auto actions = listJson(w.actions);
    const auto scopes = listJson(w.scopes);
    const auto headers = headersJson(w.headers);
    (*s)->bind(1, w.registry).bind(2, w.name).bind(3, w.uri).bind(4, actions).bind(5, scopes);
    (*s)->bind(6, headers).bind(7, int64_t{w.enabled ? 1 : 0}).bind(8, w.sealedSecret);
    (*s)->bind(9, sql::nowSeconds());
    if (auto r = run(**c, **s); !r) return r;
    if ((*c)->changes() == 0) {
      return makeError(ApiCode::Conflict, "webhook " + w.name + " already exists");
    }
    return {};
  }

  Result<std::optional<Webhook>> webhook(RegistryId registry, std::string_view name) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "SELECT name, uri, actions, scopes, headers, enabled, sealed_secret, created, "
        "registry_id FROM webhooks WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    const int rc = (*s)->step();
    if (rc == sql::kDone) return std::optional<Webhook>();
    if (rc != sql::kRow) return (*c)->fail("select webhook");
    return std::optional<Webhook>(webhookFrom(**s));
  }

  Result<std::vector<Webhook>> webhooks(RegistryId registry) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "SELECT name, uri, actions, scopes, headers, enabled, sealed_secret, created, "
        "registry_id FROM webhooks WHERE registry_id = ? ORDER BY name");
    if (!s) return s.takeError();
    (*s)->bind(1, registry);
    std::vector<Webhook> out;
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select webhooks");
      out.push_back(webhookFrom(**s));
    }
    return out;
  }

  Result<bool> updateWebhook(const Webhook& w) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "UPDATE webhooks SET uri = ?, actions = ?, scopes = ?, headers = ?, enabled = ?, "
        "sealed_secret = ? WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    const auto actions = listJson(w.actions);
    const auto scopes = listJson(w.scopes);
    const auto headers = headersJson(w.headers);
    (*s)->bind(1, w.uri).bind(2, actions).bind(3, scopes).bind(4, headers);
    (*s)->bind(5, int64_t{w.enabled ? 1 : 0}).bind(6, w.sealedSecret);
    (*s)->bind(7, w.registry).bind(8, w.name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return (*c)->changes() > 0;
  }

  Result<bool> deleteWebhook(RegistryId registry, std::string_view name) override {
    return db_->freeing([&]() -> Result<bool> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      Transaction tx(**c);
      if (auto r = tx.begin(); !r) return r.takeError();
      bool existed = false;
      static constexpr const char* kDeletes[] = {
          "DELETE FROM deliveries WHERE registry_id = ? AND webhook = ?",
          "DELETE FROM webhooks WHERE registry_id = ? AND name = ?",
      };
      for (const char* sql : kDeletes) {
        auto s = (*c)->prepare(sql);
        if (!s) return s.takeError();
        (*s)->bind(1, registry).bind(2, name);
        if (auto r = run(**c, **s); !r) return r.takeError();
        existed = (*c)->changes() > 0;
      }
      if (auto r = tx.commit(); !r) return r.takeError();
      return existed;
    });
  }

  Result<std::pair<int64_t, std::vector<OutboxEvent>>> eventsAfterCursor(std::string_view consumer,
                                                                         size_t limit) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    int64_t cursor = 0;
    {
      auto s = (*c)->prepare("SELECT position FROM event_cursors WHERE consumer = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, consumer);
      const int rc = (*s)->step();
      if (rc == sql::kRow) {
        cursor = (*s)->integer(0);
      } else if (rc != sql::kDone) {
        return (*c)->fail("select cursor");
      }
    }
    auto s = (*c)->prepare(
        "SELECT id, registry_id, uid, time_ms, action, repository, tag, digest, media_type, "
        "size, request_id, host, method, user_agent, identity, source FROM events "
        "WHERE id > ? ORDER BY id LIMIT ?");
    if (!s) return s.takeError();
    (*s)->bind(1, cursor).bind(2, static_cast<int64_t>(limit));
    std::vector<OutboxEvent> out;
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select events");
      OutboxEvent e;
      e.id = (*s)->integer(0);
      e.registry = (*s)->integer(1);
      e.uid = (*s)->text(2);
      e.timeMs = (*s)->integer(3);
      e.action = (*s)->text(4);
      e.repository = (*s)->text(5);
      e.tag = (*s)->text(6);
      e.digest = (*s)->text(7);
      e.mediaType = (*s)->text(8);
      e.size = static_cast<uint64_t>((*s)->integer(9));
      e.requestId = (*s)->text(10);
      e.host = (*s)->text(11);
      e.method = (*s)->text(12);
      e.userAgent = (*s)->text(13);
      e.identity = (*s)->text(14);
      e.source = (*s)->text(15);
      out.push_back(std::move(e));
    }
    return std::pair(cursor, std::move(out));
  }

  Result<bool> advanceCursor(std::string_view consumer, int64_t from, int64_t to,
                             const std::vector<Delivery>& deliveries) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    auto moved = moveEventCursor(**c, consumer, from, to);
    if (!moved || !*moved) return moved;
    for (const auto& d : deliveries) {
      if (auto r = insertDelivery(**c, d); !r) return r.takeError();
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return true;
  }

  Result<int64_t> addDelivery(const Delivery& d) override {
    auto c = db_->writer();
    if (!c) return c.takeError();
    return insertDelivery(**c, d);
  }

  Result<std::vector<Delivery>> claimDeliveries(int64_t now, int64_t lease, size_t limit,
                                                const std::vector<std::string>& busy) override {
    std::vector<Delivery> out;
    if (limit == 0) return out;
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    {
      // The oldest due delivery of each webhook, found by one seek per webhook in the index of
      // pending deliveries: a webhook with a long backlog (its receiver slow or down) hides no
      // other webhook's delivery behind it.
      auto s = (*c)->prepare(
          "SELECT " BERTH_DELIVERY_COLUMNS
          " FROM deliveries WHERE id IN (SELECT (SELECT d.id FROM deliveries d "
          "WHERE d.state = 'pending' AND d.registry_id = w.registry_id AND d.webhook = w.name "
          "AND d.next_attempt_ms <= ?1 ORDER BY d.id LIMIT 1) FROM webhooks w) "
          "ORDER BY next_attempt_ms, id");
      if (!s) return s.takeError();
      (*s)->bind(1, now);
      for (int rc; out.size() < limit && (rc = (*s)->step()) != sql::kDone;) {
        if (rc != sql::kRow) return (*c)->fail("select deliveries");
        auto d = deliveryFrom(**s);
        const auto key = std::to_string(d.registry) + "/" + d.webhook;
        if (std::find(busy.begin(), busy.end(), key) != busy.end()) continue;
        out.push_back(std::move(d));  // one delivery per webhook: none hogs the senders
      }
    }
    for (const auto& d : out) {
      auto s = (*c)->prepare("UPDATE deliveries SET next_attempt_ms = ? WHERE id = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, lease).bind(2, d.id);
      if (auto r = run(**c, **s); !r) return r.takeError();
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return out;
  }

  Result<void> recordAttempts(const std::vector<AttemptOutcome>& outcomes) override {
    if (outcomes.empty()) return {};
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    for (const auto& o : outcomes) {
      auto s = (*c)->prepare(
          "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_ms = ?, "
          "finished_ms = ?, status = ?, error = ?, response = ?, duration_ms = ? WHERE id = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, o.state).bind(2, o.nextAttemptMs).bind(3, o.finishedMs);
      (*s)->bind(4, static_cast<int64_t>(o.status)).bind(5, o.error).bind(6, o.response);
      (*s)->bind(7, o.durationMs).bind(8, o.delivery);
      if (auto r = run(**c, **s); !r) return r.takeError();
    }
    return tx.commit();
  }

  Result<std::vector<Delivery>> deliveries(RegistryId registry, std::string_view webhook,
                                           int64_t beforeId, size_t limit) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT " BERTH_DELIVERY_COLUMNS
                           " FROM deliveries WHERE registry_id = ? AND webhook = ? AND id < ? "
                           "ORDER BY id DESC LIMIT ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, webhook);
    (*s)->bind(3, beforeId > 0 ? beforeId : INT64_MAX).bind(4, static_cast<int64_t>(limit));
    std::vector<Delivery> out;
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select deliveries");
      out.push_back(deliveryFrom(**s));
    }
    return out;
  }

  Result<std::optional<int64_t>> nextDue() override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("SELECT MIN(next_attempt_ms) FROM deliveries WHERE state = 'pending'");
    if (!s) return s.takeError();
    const int rc = (*s)->step();
    if (rc != sql::kRow) return (*c)->fail("select due");
    if ((*s)->isNull(0)) return std::optional<int64_t>();
    return std::optional<int64_t>((*s)->integer(0));
  }

  Result<uint64_t> pruneEvents(int64_t before) override {
    return db_->freeing([&]() -> Result<uint64_t> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      uint64_t removed = 0;
      static constexpr const char* kPrunes[] = {
          // Only what every consumer has passed: the least cursor (none yet: nothing passed).
          "DELETE FROM events WHERE time_ms < ?1 AND id <= "
          "COALESCE((SELECT MIN(position) FROM event_cursors), 0)",
          "DELETE FROM deliveries WHERE state <> 'pending' AND finished_ms < ?1",
      };
      for (const char* sql : kPrunes) {
        auto s = (*c)->prepare(sql);
        if (!s) return s.takeError();
        (*s)->bind(1, before);
        if (auto r = run(**c, **s); !r) return r.takeError();
        removed += static_cast<uint64_t>((*c)->changes());
      }
      return removed;
    });
  }

  Result<void> appendAudit(const std::vector<AuditRecord>& records) override {
    if (records.empty()) return {};
    auto c = db_->writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r;
    for (const auto& a : records) {
      auto s = (*c)->prepare(
          "INSERT INTO audit(time_ms, registry, identity, source, user_agent, action, target, "
          "outcome, status, request_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!s) return s.takeError();
      (*s)->bind(1, a.timeMs).bind(2, a.registry).bind(3, a.identity).bind(4, a.source);
      (*s)->bind(5, a.userAgent).bind(6, a.action).bind(7, a.target).bind(8, a.outcome);
      (*s)->bind(9, static_cast<int64_t>(a.status)).bind(10, a.requestId);
      if (auto r = run(**c, **s); !r) return r;
    }
    return tx.commit();
  }

  Result<std::vector<AuditRecord>> audit(const AuditQuery& q) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    // Empty filters match everything; an action filter matches the action or its family.
    auto s = (*c)->prepare(
        "SELECT id, time_ms, registry, identity, source, user_agent, action, target, outcome, "
        "status, request_id FROM audit WHERE id < ?1 AND time_ms >= ?2 "
        "AND (?3 = '' OR registry = ?3) AND (?4 = '' OR identity = ?4) "
        "AND (?5 = '' OR action = ?5 OR substr(action, 1, length(?5) + 1) = ?5 || '.') "
        "ORDER BY id DESC LIMIT ?6");
    if (!s) return s.takeError();
    (*s)->bind(1, q.beforeId > 0 ? q.beforeId : INT64_MAX).bind(2, q.sinceMs);
    (*s)->bind(3, q.registry).bind(4, q.identity).bind(5, q.action);
    (*s)->bind(6, static_cast<int64_t>(q.limit));
    std::vector<AuditRecord> out;
    for (int rc; (rc = (*s)->step()) != sql::kDone;) {
      if (rc != sql::kRow) return (*c)->fail("select audit");
      AuditRecord a;
      a.id = (*s)->integer(0);
      a.timeMs = (*s)->integer(1);
      a.registry = (*s)->text(2);
      a.identity = (*s)->text(3);
      a.source = (*s)->text(4);
      a.userAgent = (*s)->text(5);
      a.action = (*s)->text(6);
      a.target = (*s)->text(7);
      a.outcome = (*s)->text(8);
      a.status = static_cast<int>((*s)->integer(9));
      a.requestId = (*s)->text(10);
      out.push_back(std::move(a));
    }
    return out;
  }

  Result<uint64_t> pruneAudit(int64_t before) override {
    return db_->freeing([&]() -> Result<uint64_t> {
      auto c = db_->writer();
      if (!c) return c.takeError();
      auto s = (*c)->prepare("DELETE FROM audit WHERE time_ms < ?");
      if (!s) return s.takeError();
      (*s)->bind(1, before);
      if (auto r = run(**c, **s); !r) return r.takeError();
      return static_cast<uint64_t>((*c)->changes());
    });
  }

 private:
  std::shared_ptr<sql::Database> db_;
};

}  // namespace

Result<bool> moveEventCursor(sql::Connection& c, std::string_view consumer, int64_t from,
                             int64_t to) {
  auto s = c.prepare(
      "INSERT INTO event_cursors(consumer, position) VALUES(?1, ?3) "
      "ON CONFLICT(consumer) DO UPDATE SET position = ?3 WHERE event_cursors.position = ?2");
  if (!s) return s.takeError();
  (*s)->bind(1, consumer).bind(2, from).bind(3, to);
  if (auto r = run(c, **s); !r) return r.takeError();
  return c.changes() > 0;
}

Result<void> recordEvent(sql::Connection& c, RepositoryId repository, std::string_view action,
                         std::string_view digest, std::string_view tag, const Actor& actor) {
  auto s = c.prepare(
      "INSERT INTO events(registry_id, uid, time_ms, action, repository, tag, digest, "
      "media_type, size, request_id, host, method, user_agent, identity, source) "
      "SELECT r.registry_id, ?2, ?3, ?4, r.name, ?5, ?6, COALESCE(m.media_type, ''), "
      "COALESCE(m.size, 0), ?7, ?8, ?9, ?10, ?11, ?12 FROM repositories r "
      "LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = ?6 WHERE r.id = ?1");
  if (!s) return s.takeError();
  const auto uid = newUuid();
  (*s)->bind(1, repository).bind(2, uid).bind(3, nowMs()).bind(4, action).bind(5, tag);
  (*s)->bind(6, digest).bind(7, actor.requestId).bind(8, actor.host).bind(9, actor.method);
  (*s)->bind(10, actor.userAgent).bind(11, actor.identity).bind(12, actor.source);
  if (auto r = run(c, **s); !r) return r;
  // Every change recorded here is one of the repository's content.
  return repositoryChanged(c, repository);
}

EventStorePtr makeSqlEventStore(sql::DatabasePtr db) {
  return EventStorePtr(new SqlEventStore(std::move(db)));
}

}  // namespace berth::meta
