#include "events/webhooks.hpp"

#include <strings.h>

#include <algorithm>
#include <map>
#include <optional>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/version.hpp"
#include "events/webhook_rules.hpp"
#include "storage/object/http_client.hpp"

namespace berth::events {
namespace {

constexpr std::string_view kConsumer = "webhooks";
constexpr size_t kFanOutBatch = 256;
constexpr size_t kResponseExcerpt = 1024;
constexpr auto kPoll = std::chrono::milliseconds(200);
constexpr auto kPruneEvery = std::chrono::hours(1);

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string keyOf(const meta::Delivery& d) { return std::to_string(d.registry) + "/" + d.webhook; }

metrics::Counter& attempts(std::string_view outcome) {
  static auto& family = metrics::counters(
      "berth_webhook_attempts_total",
      "Webhook delivery attempts by outcome: delivered, retry (to be tried again) or failed",
      {"outcome"});
  return family.with({std::string(outcome)});
}

bool hasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return true;
  }
  return false;
}

}  // namespace

struct WebhookDispatcher::Sender {
  storage::object::HttpClient http;
  explicit Sender(storage::object::HttpOptions o) : http(std::move(o)) {}
};

WebhookDispatcher::WebhookDispatcher(meta::EventStore& store, const SecretBox& secrets,
                                     WebhookOptions options)
    : store_(store), secrets_(secrets), options_(std::move(options)) {
  storage::object::HttpOptions http;
  http.connectTimeout = std::chrono::duration_cast<std::chrono::seconds>(
      std::max(options_.timeout, std::chrono::milliseconds(1000)));
  http.totalTimeout = options_.timeout;
  http.lowSpeedBytes = 0;  // the total timeout bounds an attempt
  http.maxAttempts = 1;    // attempts are spaced out here, over minutes, not in the client
  http.idleHandles = options_.senders;
  http.caFile = options_.caFile;
  http.peer = "webhook receiver";
  if (!options_.allowLoopback) {
    http.allowAddress = [](const sockaddr* address) { return !refusedAddress(address); };
  }
  sender_ = std::make_unique<Sender>(std::move(http));
  if (options_.senders == 0) options_.senders = 1;
}

WebhookDispatcher::~WebhookDispatcher() { stop(); }

void WebhookDispatcher::start() {
  std::lock_guard lock(mutex_);
  if (dispatcher_.joinable()) return;
  stopping_ = false;
  for (size_t i = 0; i < options_.senders; ++i) senders_.emplace_back([this] { senderLoop(); });
  dispatcher_ = std::thread([this] { loop(); });
}

void WebhookDispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  work_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& t : senders_) t.join();
  senders_.clear();
  recordFinished();  // the attempts that ended after the dispatcher's last pass
}

void WebhookDispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

size_t WebhookDispatcher::fanOut() {
  auto pending = store_.eventsAfterCursor(kConsumer, kFanOutBatch);
  if (!pending) return 0;  // logged by the store; tried again at the next poll
  auto& [cursor, events] = *pending;
  if (events.empty()) return 0;
  std::map<meta::RegistryId, std::vector<meta::Webhook>> hooks;
  std::vector<meta::Delivery> deliveries;
  const auto now = nowMs();
  for (const auto& e : events) {
    auto it = hooks.find(e.registry);
    if (it == hooks.end()) {
      auto listed = store_.webhooks(e.registry);
      if (!listed) return 0;
      it = hooks.emplace(e.registry, std::move(*listed)).first;
    }
    std::optional<std::string> payload;
    for (const auto& w : it->second) {
      if (!w.enabled) continue;
      if (std::find(w.actions.begin(), w.actions.end(), e.action) == w.actions.end()) continue;
      if (!scopeMatches(w.scopes, e.repository, e.tag)) continue;
      if (!payload) payload = payloadOf(e);
      meta::Delivery d;
      d.registry = e.registry;
      d.webhook = w.name;
      d.eventId = e.id;
      d.action = e.action;
      d.payload = *payload;
      d.createdMs = now;
      d.nextAttemptMs = now;
      deliveries.push_back(std::move(d));
    }
  }
  auto moved = store_.advanceCursor(kConsumer, cursor, events.back().id, deliveries);
  if (!moved || !*moved) return 0;
  return events.size();
}

std::vector<meta::Delivery> WebhookDispatcher::claim(size_t limit) {
  std::vector<std::string> busy;
  {
    std::lock_guard lock(mutex_);
    busy.assign(busy_.begin(), busy_.end());
  }
  const auto now = nowMs();
  // Not due again until well after an attempt must have ended: should this process die with
  // the delivery in hand, another attempt follows then.
  const auto lease = now + options_.timeout.count() + 30000;
  auto claimed = store_.claimDeliveries(now, lease, limit, busy);
  if (!claimed) return {};
  return std::move(*claimed);
}

std::optional<meta::AttemptOutcome> WebhookDispatcher::attempt(const meta::Delivery& d) {
  const auto started = std::chrono::steady_clock::now();
  meta::AttemptOutcome outcome;
  outcome.delivery = d.id;
  auto record = [&](meta::AttemptOutcome& o) -> std::optional<meta::AttemptOutcome> {
    o.durationMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count();
    const auto now = nowMs();
    if (o.state == "pending") {
      const auto next = now + backoffMs(d.attempts + 1, options_.backoffCap.count());
      if (next - d.createdMs > options_.retryFor.count()) {
        o.state = "failed";
      } else {
        o.nextAttemptMs = next;
      }
    }
    if (o.state != "pending") o.finishedMs = now;
    attempts(o.state == "pending" ? "retry" : o.state).add();
    return std::move(o);
  };
  auto hook = store_.webhook(d.registry, d.webhook);
  // The store failing: the lease runs out and the delivery comes back. Deleted: with its
  // deliveries.
  if (!hook || !*hook) return std::nullopt;
  if (!(*hook)->enabled) {
    outcome.state = "failed";
    outcome.error = "the webhook is disabled";
    return record(outcome);
  }
  auto secret = secrets_.unseal((*hook)->sealedSecret);
  if (!secret) {
    outcome.state = "failed";
    outcome.error = secret.error().detail;
    return record(outcome);
  }
  storage::object::HttpRequest request;
  request.method = "POST";
  request.url = (*hook)->uri;
  for (const auto& header : (*hook)->headers) request.headers.push_back(header);
  if (!hasHeader(request.headers, "content-type")) {
    request.headers.emplace_back("Content-Type", "application/json");
  }
  if (!hasHeader(request.headers, "user-agent")) {
    request.headers.emplace_back("User-Agent", "berth-webhook/" + std::string(version()));
  }
  request.headers.emplace_back(std::string(kSignatureHeader), signatureOf(*secret, d.payload));
  request.headers.emplace_back("X-Berth-Event", d.action);
  request.headers.emplace_back("X-Berth-Delivery", std::to_string(d.id));
  request.body = d.payload;
  std::string excerpt;
  request.onData = [&](const char* data, size_t size) {
    if (excerpt.size() < kResponseExcerpt) {
      excerpt.append(data, std::min(size, kResponseExcerpt - excerpt.size()));
    }
    return true;
  };
  request.responseLimit = 64 * 1024;
  auto answer = sender_->http.perform(std::move(request));
  if (!answer) {
    outcome.state = "pending";
    outcome.error = answer.error().detail;
    return record(outcome);
  }
  outcome.status = static_cast<int>(answer->status);
  if (answer->status < 200 || answer->status >= 300) {
    excerpt = answer->body.substr(0, kResponseExcerpt);
    outcome.state = retryable(outcome.status) ? "pending" : "failed";
    outcome.error = "the receiver answered " + std::to_string(answer->status);
  } else {
    outcome.state = "delivered";
  }
  outcome.response = std::move(excerpt);
  return record(outcome);
}

void WebhookDispatcher::senderLoop() {
  for (;;) {
    meta::Delivery d;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      d = std::move(queue_.front());
      queue_.pop_front();
    }
    auto outcome = attempt(d);
    {
      std::lock_guard lock(mutex_);
      if (outcome) finished_.push_back(std::move(*outcome));
      busy_.erase(keyOf(d));
      --inFlight_;
      woken_ = true;
    }
    wake_.notify_all();
  }
}

void WebhookDispatcher::recordFinished() {
  std::vector<meta::AttemptOutcome> outcomes;
  {
    std::lock_guard lock(mutex_);
    outcomes.swap(finished_);
  }
  if (outcomes.empty()) return;
  // Should this fail, each delivery's lease runs out and it is attempted again.
  if (auto r = store_.recordAttempts(outcomes); !r) {
    log::warn("webhook attempts not recorded",
              {{"attempts", outcomes.size()}, {"error", r.error().detail}});
  }
}

void WebhookDispatcher::prune() {
  const auto now = std::chrono::steady_clock::now();
  if (now - lastPrune_ < kPruneEvery) return;
  lastPrune_ = now;
  auto pruned = store_.pruneEvents(nowMs() - options_.keep.count());
  if (pruned && *pruned > 0) log::info("webhook history pruned", {{"rows", *pruned}});
}

void WebhookDispatcher::loop() {
  for (;;) {
    // The attempts that ended since the last pass, in one write: under load each delivery
    // would otherwise cost the database a transaction of its own, next to the pushes'.
    recordFinished();
    while (fanOut() == kFanOutBatch) {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    size_t free = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      free = options_.senders - inFlight_;
    }
    if (free > 0) {
      auto claimed = claim(free);
      if (!claimed.empty()) {
        std::lock_guard lock(mutex_);
        for (auto& d : claimed) {
          busy_.insert(keyOf(d));
          ++inFlight_;
          queue_.push_back(std::move(d));
        }
      }
      work_.notify_all();
    }
    prune();
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, kPoll, [&] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

size_t WebhookDispatcher::runOnce() {
  while (fanOut() == kFanOutBatch) {
  }
  auto claimed = claim(options_.senders);
  for (const auto& d : claimed) {
    if (auto outcome = attempt(d)) {
      std::lock_guard lock(mutex_);
      finished_.push_back(std::move(*outcome));
    }
  }
  recordFinished();
  return claimed.size();
}

}  // namespace berth::events
