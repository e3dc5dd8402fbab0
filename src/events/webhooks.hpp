#pragma once
// Webhook delivery: a dispatcher thread moves new outbox events into deliveries for the
// webhooks whose actions and scopes match them, then hands due deliveries to a fixed set of
// sender threads. An attempt that gets no answer, 408, 429 or 5xx is tried again after an
// exponential backoff with jitter until `retryFor` has passed since the event, then the
// delivery is failed; every attempt is recorded (list-events). Nothing here runs on a request
// thread: a push writes its outbox row and returns.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/secret_box.hpp"
#include "meta/event_store.hpp"

namespace berth::events {

struct WebhookOptions {
  size_t senders = 8;                              // deliveries in flight at once
  std::chrono::milliseconds timeout{10000};        // one attempt, connection to last byte
  std::chrono::milliseconds retryFor{86400000};    // from the event; then the delivery fails
  std::chrono::milliseconds backoffCap{300000};    // the longest wait between two attempts
  std::chrono::milliseconds keep{7 * 86400000LL};  // finished deliveries and passed events
  bool allowLoopback = false;                      // tests and single-host setups only
  std::string caFile;                              // for https receivers ("": the system's)
};

class WebhookDispatcher {
 public:
  WebhookDispatcher(meta::EventStore& store, const SecretBox& secrets, WebhookOptions options);
  ~WebhookDispatcher();  // stops
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  void start();
  // Stops taking deliveries and waits for the attempts in flight (each bounded by the timeout).
  void stop();
  // Something was written to the outbox or a ping was queued: look now rather than at the next
  // poll.
  void wake();

  // One pass of the dispatcher, for tests: fans new events out, then sends what is due and
  // waits for those attempts. How many attempts were made.
  size_t runOnce();

 private:
  struct Sender;
  void loop();
  size_t fanOut();
  std::vector<meta::Delivery> claim(size_t limit);
  // Sends one delivery; its outcome to record, none when its webhook is gone or the store
  // fails (the delivery's lease then runs out and it comes back).
  std::optional<meta::AttemptOutcome> attempt(const meta::Delivery& delivery);
  void recordFinished();
  void senderLoop();
  void prune();

  meta::EventStore& store_;
  const SecretBox& secrets_;
  WebhookOptions options_;
  std::unique_ptr<Sender> sender_;

  std::mutex mutex_;
  std::condition_variable wake_;  // the dispatcher's
  std::condition_variable work_;  // the senders'
  std::deque<meta::Delivery> queue_;
  std::vector<meta::AttemptOutcome> finished_;  // attempts ended, not yet recorded
  std::set<std::string> busy_;  // "<registry>/<name>" of webhooks with an attempt in flight
  size_t inFlight_ = 0;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread dispatcher_;
  std::vector<std::thread> senders_;
  std::chrono::steady_clock::time_point lastPrune_{};
};

}  // namespace berth::events
