// Events: webhook payloads, scopes, signatures and the retry schedule; sealed secrets; the
// outbox as the SQLite store writes it inside each change; deliveries, claims and the audit
// records; the dispatcher against a receiver in this process; the audit log's queue and export.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "../api/webhook_receiver.hpp"
#include "core/random.hpp"
#include "events/audit.hpp"
#include "events/secret_box.hpp"
#include "events/webhook_rules.hpp"
#include "events/webhooks.hpp"
#include "meta/sqlite/identity_store.hpp"
#include "meta/sqlite/sqlite_events.hpp"
#include "meta/sqlite/sqlite_store.hpp"

namespace berth::events {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string digestOf(char c) { return "sha256:" + std::string(64, c); }

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- rules ----

TEST(WebhookRulesTest, PayloadHasAcrsFieldsAndLeavesOutEmptyOnes) {
  meta::OutboxEvent e;
  e.uid = "2f1a6b1e-0000-4000-8000-000000000001";
  e.timeMs = 1764979200123;  // 2025-12-06T00:00:00.123Z
  e.action = "push";
  e.repository = "team/app";
  e.tag = "v1";
  e.digest = digestOf('a');
  e.mediaType = "application/vnd.oci.image.manifest.v1+json";
  e.size = 524;
  e.requestId = "00000000000000ab";
  e.host = "myreg.example:5000";
  e.method = "PUT";
  e.userAgent = "skopeo/1.9";
  const auto v = json::parse(payloadOf(e)).as_object();
  EXPECT_EQ(v.at("id"), json::value(e.uid));
  EXPECT_EQ(v.at("timestamp"), json::value("2025-12-06T00:00:00.123Z"));
  EXPECT_EQ(v.at("action"), json::value("push"));
  const auto& t = v.at("target").as_object();
  EXPECT_EQ(t.at("mediaType"), json::value(e.mediaType));
  EXPECT_EQ(t.at("size").to_number<uint64_t>(), 524u);
  EXPECT_EQ(t.at("length").to_number<uint64_t>(), 524u);
  EXPECT_EQ(t.at("digest"), json::value(digestOf('a')));
  EXPECT_EQ(t.at("repository"), json::value("team/app"));
  EXPECT_EQ(t.at("tag"), json::value("v1"));
  const auto& r = v.at("request").as_object();
  EXPECT_EQ(r.at("id"), json::value("00000000000000ab"));
  EXPECT_EQ(r.at("host"), json::value("myreg.example:5000"));
  EXPECT_EQ(r.at("method"), json::value("PUT"));
  EXPECT_EQ(r.at("useragent"), json::value("skopeo/1.9"));

  // A delete by digest made by a job: no tag, no request.
  e.action = "delete";
  e.tag.clear();
  e.requestId = e.host = e.method = e.userAgent = "";
  const auto d = json::parse(payloadOf(e)).as_object();
  EXPECT_FALSE(d.at("target").as_object().contains("tag"));
  EXPECT_FALSE(d.contains("request"));

  const auto ping = json::parse(pingPayload("x", 0)).as_object();
  EXPECT_EQ(ping.at("action"), json::value("ping"));
  EXPECT_EQ(ping.at("timestamp"), json::value("1970-01-01T00:00:00.000Z"));
}

TEST(WebhookRulesTest, ScopesMatchAsAcrDoes) {
  EXPECT_TRUE(scopeMatches({}, "any/repo", "x"));
  EXPECT_TRUE(scopeMatches({"app:*"}, "app", "v1"));
  EXPECT_TRUE(scopeMatches({"app:*"}, "app", ""));  // a delete by digest
  EXPECT_FALSE(scopeMatches({"app:*"}, "app2", "v1"));
  EXPECT_TRUE(scopeMatches({"app"}, "app", "latest"));  // no tag: latest
  EXPECT_FALSE(scopeMatches({"app"}, "app", "v1"));
  EXPECT_FALSE(scopeMatches({"app"}, "app", ""));
  EXPECT_TRUE(scopeMatches({"team/*:v1"}, "team/a/b", "v1"));
  EXPECT_FALSE(scopeMatches({"team/*:v1"}, "other/a", "v1"));
  EXPECT_TRUE(scopeMatches({"*:release-*"}, "x", "release-2"));
  EXPECT_FALSE(scopeMatches({"*:release-*"}, "x", "dev-2"));
  EXPECT_TRUE(scopeMatches({"a:v1", "b:*"}, "b", "anything"));

  for (const char* good : {"app", "app:v1", "team/*", "team/*:*", "*:*", "*:v1.*", "a/b:latest"}) {
    EXPECT_TRUE(isValidScope(good)) << good;
  }
  for (const char* bad : {"", "App:v1", "app:", "app:*x*", ":v1", "app:v 1", "team/**:v1"}) {
    EXPECT_FALSE(isValidScope(bad)) << bad;
  }
}

TEST(WebhookRulesTest, SignatureIsHmacSha256OfTheBody) {
  // RFC 4231-style known answer (the widely published HMAC-SHA256 of this pair).
  EXPECT_EQ(signatureOf("key", "The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(WebhookRulesTest, BackoffDoublesUpToTheCapWithJitter) {
  for (int i = 0; i < 200; ++i) {
    const auto first = backoffMs(1, 300000);
    EXPECT_GE(first, 500);
    EXPECT_LT(first, 1500);
    const auto fourth = backoffMs(4, 300000);  // 8 s
    EXPECT_GE(fourth, 4000);
    EXPECT_LT(fourth, 12000);
    const auto late = backoffMs(40, 60000);  // capped
    EXPECT_GE(late, 30000);
    EXPECT_LT(late, 90000);
  }
  EXPECT_TRUE(retryable(0));
  EXPECT_TRUE(retryable(500));
  EXPECT_TRUE(retryable(503));
  EXPECT_TRUE(retryable(429));
  EXPECT_TRUE(retryable(408));
  EXPECT_FALSE(retryable(404));
  EXPECT_FALSE(retryable(301));
  EXPECT_FALSE(retryable(400));
}

sockaddr_storage address(const char* text) {
  sockaddr_storage out{};
  if (inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in*>(&out)->sin_addr) == 1) {
    out.ss_family = AF_INET;
  } else if (inet_pton(AF_INET6, text, &reinterpret_cast<sockaddr_in6*>(&out)->sin6_addr) == 1) {
    out.ss_family = AF_INET6;
  }
  return out;
}

TEST(WebhookRulesTest, LoopbackLinkLocalAndUnspecifiedAddressesAreRefused) {
  for (const char* refused : {"127.0.0.1", "127.9.9.9", "169.254.169.254", "0.0.0.0", "::1",
                              "::", "fe80::1", "::ffff:127.0.0.1", "::ffff:169.254.1.1"}) {
    auto a = address(refused);
    EXPECT_TRUE(refusedAddress(reinterpret_cast<sockaddr*>(&a))) << refused;
  }
  for (const char* allowed :
       {"10.0.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1", "::ffff:10.1.1.1"}) {
    auto a = address(allowed);
    EXPECT_FALSE(refusedAddress(reinterpret_cast<sockaddr*>(&a))) << allowed;
  }
}

TEST(WebhookRulesTest, UrisAreCheckedBeforeTheyAreStored) {
  EXPECT_TRUE(checkUri("https://ci.example/hook?x=1", false));
  EXPECT_TRUE(checkUri("http://10.1.2.3:8080/", false));
  for (const char* bad : {"ftp://x/", "not a uri", "http:///path", "https://u:p@host/",
                          "http://127.0.0.1/", "http://localhost:80/", "http://[::1]/",
                          "http://169.254.169.254/latest/meta-data", "http://api.localhost/"}) {
    EXPECT_FALSE(checkUri(bad, false)) << bad;
  }
  EXPECT_TRUE(checkUri("http://127.0.0.1:9000/", true));
  EXPECT_FALSE(checkUri("https://u:p@host/", true));
  EXPECT_FALSE(checkUri("http://h/" + std::string(3000, 'a'), true));
}

// ---- sealed secrets ----

class SecretBoxTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("berth-secret-" + newUuid());
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
};

// Nodes of a cluster share the key: given as text (BERTH_SECRET_KEY), it opens what the same
// bytes in a key file sealed; text that is not 32 bytes in base64 is refused.
TEST_F(SecretBoxTest, AKeyGivenAsTextOpensWhatTheSameKeyFileSealed) {
  const std::string bytes(32, '\x5a');
  {
    std::ofstream out(dir / "secret.key", std::ios::binary);
    out << bytes;
  }
  fs::permissions(dir / "secret.key", fs::perms::owner_read | fs::perms::owner_write);
  auto file = SecretBox::open(dir / "secret.key");
  ASSERT_TRUE(file) << file.error().detail;
  for (const char* text : {"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n",
                           "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo"}) {
    auto given = SecretBox::fromText(text);
    ASSERT_TRUE(given) << given.error().detail;
    EXPECT_EQ(*given->unseal(file->seal("webhook secret")), "webhook secret");
    EXPECT_EQ(*file->unseal(given->seal("upstream password")), "upstream password");
  }
  EXPECT_FALSE(SecretBox::fromText("c2hvcnQ="));
  EXPECT_FALSE(SecretBox::fromText("not base64 at all!"));
}

TEST_F(SecretBoxTest, SealsUnderAKeyThatOnlyTheOwnerReads) {
  auto box = SecretBox::open(dir / "secret.key");
  ASSERT_TRUE(box) << box.error().detail;
  struct stat st {};
  ASSERT_EQ(::stat((dir / "secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto sealed = box->seal("hunter2");
  EXPECT_EQ(sealed.find("hunter2"), std::string::npos);
  EXPECT_NE(box->seal("hunter2"), sealed);  // a fresh nonce each time
  EXPECT_EQ(*box->unseal(sealed), "hunter2");
  // The same key when opened again.
  auto again = SecretBox::open(dir / "secret.key");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again->unseal(sealed), "hunter2");
  // Altered or foreign text does not open.
  auto altered = sealed;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box->unseal(altered));
  EXPECT_FALSE(box->unseal("short"));
  auto other = SecretBox::open(dir / "other.key");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->unseal(sealed));
  EXPECT_NE(SecretBox::newSecret(), SecretBox::newSecret());
  EXPECT_EQ(SecretBox::newSecret().size(), 43u);
}

TEST_F(SecretBoxTest, RefusesAKeyOthersCanReadOrOfTheWrongSize) {
  ASSERT_TRUE(SecretBox::open(dir / "secret.key"));
  ::chmod((dir / "secret.key").c_str(), 0644);
  auto open = SecretBox::open(dir / "secret.key");
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().detail.find("readable by others"), std::string::npos);
  std::ofstream(dir / "short.key") << "abc";
  ::chmod((dir / "short.key").c_str(), 0600);
  EXPECT_FALSE(SecretBox::open(dir / "short.key"));
}

// ---- the store ----

class EventStoreTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("berth-events-" + newUuid());
  meta::MetadataStorePtr meta;
  meta::IdentityStorePtr identities;
  meta::EventStorePtr events;
  meta::RegistryId registry = 0;
  meta::RepositoryId repo = 0;
  meta::Actor actor{"admin", "10.0.0.7", "req-1", "reg.example", "PUT", "skopeo/1"};

  void SetUp() override {
    fs::create_directories(dir);
    meta = *meta::openSqliteStore(dir / "berth.db");
    identities = *meta::openSqliteIdentityStore(dir / "berth.db");
    events = *meta::openSqliteEventStore(dir / "berth.db");
    registry = *meta->ensureRegistry("default");
    repo = *meta->ensureRepository(registry, "team/app");
  }
  void TearDown() override { fs::remove_all(dir); }

  void put(char c, std::optional<std::string_view> tag) {
    meta::ManifestRecord m;
    m.digest = digestOf(c);
    m.mediaType = "application/vnd.oci.image.manifest.v1+json";
    m.payload = "{}";
    m.size = 2;
    ASSERT_TRUE(meta->putManifest(registry, repo, m, {}, tag, actor));
  }
  std::vector<meta::OutboxEvent> outbox(std::string_view consumer = "test") {
    return events->eventsAfterCursor(consumer, 1000)->second;
  }
  meta::Webhook hook(std::string name) {
    meta::Webhook w;
    w.registry = registry;
    w.name = std::move(name);
    w.uri = "http://10.0.0.1/";
    w.actions = {"push", "delete"};
    w.scopes = {"team/*:*"};
    w.headers = {{"X-A", "1"}, {"X-B", "two"}};
    w.sealedSecret = "sealed";
    return w;
  }
  meta::Delivery delivery(std::string webhook, int64_t due) {
    meta::Delivery d;
    d.registry = registry;
    d.webhook = std::move(webhook);
    d.action = "ping";
    d.payload = "{}";
    d.createdMs = due;
    d.nextAttemptMs = due;
    return d;
  }
};

TEST_F(EventStoreTest, ChangesWriteTheirEventsInTheirTransaction) {
  put('a', "v1");
  put('b', "v1");  // the tag moves
  put('c', std::nullopt);
  ASSERT_TRUE(*meta->deleteTag(repo, "v1", actor));
  ASSERT_FALSE(meta->deleteManifest(repo, digestOf('a'), actor)->empty());
  ASSERT_TRUE(*meta->pointTag(repo, "v2", digestOf('c'), "rollback", actor));
  const auto e = outbox();
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0].action, "push");
  EXPECT_EQ(e[0].tag, "v1");
  EXPECT_EQ(e[0].digest, digestOf('a'));
  EXPECT_EQ(e[0].repository, "team/app");
  EXPECT_EQ(e[0].mediaType, "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(e[0].size, 2u);
  EXPECT_EQ(e[0].registry, registry);
  EXPECT_EQ(e[0].requestId, "req-1");
  EXPECT_EQ(e[0].host, "reg.example");
  EXPECT_EQ(e[0].method, "PUT");
  EXPECT_EQ(e[0].userAgent, "skopeo/1");
  EXPECT_EQ(e[0].identity, "admin");
  EXPECT_EQ(e[0].source, "10.0.0.7");
  EXPECT_TRUE(isUuid(e[0].uid));
  EXPECT_NE(e[0].uid, e[1].uid);
  EXPECT_EQ(e[1].digest, digestOf('b'));
  EXPECT_EQ(e[1].tag, "v1");
  EXPECT_EQ(e[2].tag, "");
  EXPECT_EQ(e[3].action, "delete");
  EXPECT_EQ(e[3].tag, "v1");
  EXPECT_EQ(e[3].digest, digestOf('b'));
  EXPECT_EQ(e[4].action, "delete");
  EXPECT_EQ(e[4].digest, digestOf('a'));
  EXPECT_EQ(e[4].mediaType, "application/vnd.oci.image.manifest.v1+json");  // read before it went
  EXPECT_EQ(e[5].action, "push");
  EXPECT_EQ(e[5].tag, "v2");
  for (size_t i = 1; i < e.size(); ++i) EXPECT_GT(e[i].id, e[i - 1].id);

  // Deleting the repository: one delete per manifest.
  ASSERT_TRUE(meta->deleteRepository(repo, actor));
  const auto after = outbox();
  ASSERT_EQ(after.size(), 8u);
  EXPECT_EQ(after[6].action, "delete");
  EXPECT_EQ(after[7].action, "delete");
}

TEST_F(EventStoreTest, ARefusedChangeWritesNoEvent) {
  put('a', "v1");
  meta::AttributeChange lock;
  lock.writeEnabled = false;
  lock.deleteEnabled = false;
  ASSERT_TRUE(*meta->updateTag(repo, "v1", lock));
  EXPECT_FALSE(meta->deleteTag(repo, "v1", actor));
  meta::ManifestRecord m;
  m.digest = digestOf('b');
  m.mediaType = "application/vnd.oci.image.manifest.v1+json";
  m.payload = "{}";
  m.size = 2;
  EXPECT_FALSE(meta->putManifest(registry, repo, m, {}, std::string_view("v1"), actor));
  EXPECT_EQ(outbox().size(), 1u);
}

TEST_F(EventStoreTest, ACursorMovesOnceFromWhereItWas) {
  put('a', "v1");
  put('b', "v2");
  auto [cursor, pending] = *events->eventsAfterCursor("hooks", 1);
  EXPECT_EQ(cursor, 0);
  ASSERT_EQ(pending.size(), 1u);
  const auto first = pending[0].id;
  ASSERT_TRUE(*events->advanceCursor("hooks", 0, first, {delivery("h", 1)}));
  // Another process that read the same events loses: nothing changes.
  EXPECT_FALSE(*events->advanceCursor("hooks", 0, first, {delivery("h", 2)}));
  auto [now, rest] = *events->eventsAfterCursor("hooks", 10);
  EXPECT_EQ(now, first);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].digest, digestOf('b'));
  EXPECT_EQ(events->deliveries(registry, "h", 0, 10)->size(), 1u);
  // Another consumer has its own cursor.
  EXPECT_EQ(events->eventsAfterCursor("replication", 10)->second.size(), 2u);
}

TEST_F(EventStoreTest, WebhooksRoundTripAndGoWithTheirRegistry) {
  ASSERT_TRUE(events->createWebhook(hook("deploy")));
  auto again = events->createWebhook(hook("deploy"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().httpStatus(), 409);
  auto w = *events->webhook(registry, "deploy");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->uri, "http://10.0.0.1/");
  EXPECT_EQ(w->actions, (std::vector<std::string>{"push", "delete"}));
  EXPECT_EQ(w->scopes, (std::vector<std::string>{"team/*:*"}));
  ASSERT_EQ(w->headers.size(), 2u);
  EXPECT_EQ(w->headers[1].second, "two");
  EXPECT_TRUE(w->enabled);
  EXPECT_GT(w->created, 0);
  w->enabled = false;
  w->scopes.clear();
  ASSERT_TRUE(*events->updateWebhook(*w));
  EXPECT_FALSE((*events->webhook(registry, "deploy"))->enabled);
  EXPECT_TRUE((*events->webhook(registry, "deploy"))->scopes.empty());
  ASSERT_TRUE(events->addDelivery(delivery("deploy", 1)));
  ASSERT_TRUE(*events->deleteWebhook(registry, "deploy"));
  EXPECT_FALSE(*events->deleteWebhook(registry, "deploy"));
  EXPECT_TRUE(events->deliveries(registry, "deploy", 0, 10)->empty());

  // A registry deleted takes its webhooks, deliveries and events along.
  meta::RegistrySettings s;
  s.name = "other";
  const auto other = *identities->createRegistry(s);
  auto h = hook("x");
  h.registry = other;
  ASSERT_TRUE(events->createWebhook(h));
  ASSERT_TRUE(*identities->deleteRegistry(other));
  EXPECT_TRUE(events->webhooks(other)->empty());
}

TEST_F(EventStoreTest, ClaimsTakeDueDeliveriesOncePerWebhookAndLeaseThem) {
  const auto now = nowMs();
  for (const char* w : {"a", "b", "c", "d"}) ASSERT_TRUE(events->createWebhook(hook(w)));
  for (const char* w : {"a", "a", "b", "c"})
    ASSERT_TRUE(events->addDelivery(delivery(w, now - 10)));
  ASSERT_TRUE(events->addDelivery(delivery("d", now + 60000)));  // not due
  auto claimed = *events->claimDeliveries(now, now + 30000, 10, {std::to_string(registry) + "/c"});
  ASSERT_EQ(claimed.size(), 2u);  // one of a's, b's; c is busy; d is not due
  EXPECT_EQ(claimed[0].webhook, "a");
  EXPECT_EQ(claimed[1].webhook, "b");
  // Leased: not due again until the lease ends, the other a is.
  auto next = *events->claimDeliveries(now, now + 30000, 10, {});
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].webhook, "a");
  EXPECT_NE(next[0].id, claimed[0].id);
  EXPECT_EQ(next[1].webhook, "c");
  EXPECT_TRUE(events->claimDeliveries(now, now + 30000, 10, {})->empty());
  // An attempt recorded; after the lease a delivery whose taker died comes back.
  meta::AttemptOutcome done;
  done.delivery = claimed[0].id;
  done.state = "delivered";
  done.status = 204;
  done.finishedMs = now;
  done.durationMs = 5;
  ASSERT_TRUE(events->recordAttempts({done}));
  auto listed = *events->deliveries(registry, "a", 0, 10);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].id, claimed[0].id);  // newest first
  EXPECT_EQ(listed[1].state, "delivered");
  EXPECT_EQ(listed[1].attempts, 1u);
  EXPECT_EQ(listed[1].status, 204);
  auto late = *events->claimDeliveries(now + 31000, now + 60000, 10, {});
  EXPECT_EQ(late.size(), 3u);  // b, the second a and c again; d is due at +60 s only
  EXPECT_EQ(*events->nextDue(), now + 60000);
}

// A receiver that hangs holds its webhook busy while its backlog grows: the claims go on
// finding the other webhooks' deliveries behind that backlog, and then its own, oldest first.
TEST_F(EventStoreTest, ABusyWebhooksBacklogHidesNoOtherWebhook) {
  const auto now = nowMs();
  for (const char* w : {"slow", "fast", "other"}) ASSERT_TRUE(events->createWebhook(hook(w)));
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(events->addDelivery(delivery("slow", now - 1000)));
  ASSERT_TRUE(events->addDelivery(delivery("fast", now - 10)));
  ASSERT_TRUE(events->addDelivery(delivery("fast", now - 10)));
  ASSERT_TRUE(events->addDelivery(delivery("other", now - 5)));
  const std::string slow = std::to_string(registry) + "/slow";
  auto claimed = *events->claimDeliveries(now, now + 30000, 1, {slow});
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].webhook, "fast");
  claimed = *events->claimDeliveries(now, now + 30000, 8, {slow});
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].webhook, "fast");
  EXPECT_EQ(claimed[1].webhook, "other");
  // Not busy any more: its oldest delivery, one only.
  claimed = *events->claimDeliveries(now, now + 30000, 8, {});
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].webhook, "slow");
  EXPECT_EQ(claimed[0].id, events->deliveries(registry, "slow", 0, 1000)->back().id);
}

TEST_F(EventStoreTest, PruningKeepsWhatAConsumerHasNotPassed) {
  put('a', "v1");
  put('b', "v2");
  const auto all = outbox("hooks");
  ASSERT_TRUE(*events->advanceCursor("hooks", 0, all[0].id, {}));
  EXPECT_EQ(*events->pruneEvents(nowMs() + 1000), 1u);  // only the passed one
  EXPECT_EQ(outbox("fresh").size(), 1u);
  auto d = delivery("h", 1);
  d.state = "failed";
  d.finishedMs = 5;
  ASSERT_TRUE(events->addDelivery(d));
  ASSERT_TRUE(events->addDelivery(delivery("h", 1)));  // pending: kept
  EXPECT_EQ(*events->pruneEvents(10), 1u);
  EXPECT_EQ(events->deliveries(registry, "h", 0, 10)->size(), 1u);
}

TEST_F(EventStoreTest, AuditRecordsAreQueriedByRegistryTimeIdentityAndAction) {
  std::vector<meta::AuditRecord> records;
  auto rec = [&](std::string reg, int64_t t, std::string who, std::string action) {
    meta::AuditRecord r;
    r.registry = std::move(reg);
    r.timeMs = t;
    r.identity = std::move(who);
    r.action = std::move(action);
    r.outcome = "success";
    records.push_back(r);
  };
  rec("a", 1000, "admin", "manifest.push");
  rec("a", 2000, "token:ci", "manifest.delete");
  rec("b", 3000, "admin", "login");
  rec("", 4000, "operator", "registry.create");
  rec("a", 5000, "admin", "manifestx.push");
  ASSERT_TRUE(events->appendAudit(records));
  auto query = [&](meta::AuditQuery q) {
    std::vector<std::string> out;
    const auto found = *events->audit(q);
    for (const auto& r : found) out.push_back(r.action);
    return out;
  };
  meta::AuditQuery q;
  EXPECT_EQ(query(q).size(), 5u);
  EXPECT_EQ(query(q).front(), "manifestx.push");  // newest first
  q.registry = "a";
  EXPECT_EQ(query(q).size(), 3u);
  q.action = "manifest";  // the family, not manifestx
  EXPECT_EQ(query(q), (std::vector<std::string>{"manifest.delete", "manifest.push"}));
  q.identity = "token:ci";
  EXPECT_EQ(query(q), (std::vector<std::string>{"manifest.delete"}));
  q = {};
  q.sinceMs = 3000;
  EXPECT_EQ(query(q).size(), 3u);
  q = {};
  q.limit = 2;
  auto page = *events->audit(q);
  ASSERT_EQ(page.size(), 2u);
  q.beforeId = page.back().id;
  q.limit = 100;
  EXPECT_EQ(query(q), (std::vector<std::string>{"login", "manifest.delete", "manifest.push"}));
  EXPECT_EQ(*events->pruneAudit(2500), 2u);
  EXPECT_EQ(query({}).size(), 3u);
}

// ---- the dispatcher ----

using Receiver = berth_test::WebhookReceiver;

class DispatcherTest : public EventStoreTest {
 protected:
  std::optional<SecretBox> secrets;
  WebhookOptions options;

  void SetUp() override {
    EventStoreTest::SetUp();
    secrets.emplace(std::move(*SecretBox::open(dir / "secret.key")));
    options.allowLoopback = true;
    options.backoffCap = std::chrono::milliseconds(1);  // attempts due again at once
    options.timeout = std::chrono::milliseconds(1000);
  }
  void addHook(const std::string& name, const std::string& uri,
               std::vector<std::string> scopes = {}) {
    auto w = hook(name);
    w.uri = uri;
    w.scopes = std::move(scopes);
    w.sealedSecret = secrets->seal("s3cret");
    ASSERT_TRUE(events->createWebhook(w));
  }
  meta::Delivery only(const std::string& name) {
    auto list = *events->deliveries(registry, name, 0, 10);
    EXPECT_EQ(list.size(), 1u);
    return list.empty() ? meta::Delivery{} : list[0];
  }
  // Runs passes until nothing is due or `passes` ran, sleeping past the tiny backoff.
  void run(WebhookDispatcher& d, int passes) {
    for (int i = 0; i < passes; ++i) {
      d.runOnce();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
};

TEST_F(DispatcherTest, MatchingEventsAreDeliveredSignedWithTheHeaders) {
  Receiver receiver({200});
  addHook("deploy", receiver.uri(), {"team/*:v*"});
  put('a', "v1");
  put('b', "latest");  // outside the scope
  WebhookDispatcher d(*events, *secrets, options);
  run(d, 2);
  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  const auto& r = got[0];
  EXPECT_TRUE(r.starts_with("POST /hook HTTP/1.1\r\n"));
  const auto body = r.substr(r.find("\r\n\r\n") + 4);
  EXPECT_NE(r.find("X-Berth-Signature-256: " + signatureOf("s3cret", body)), std::string::npos);
  EXPECT_NE(r.find("X-Berth-Event: push"), std::string::npos);
  EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos);
  EXPECT_NE(r.find("X-B: two"), std::string::npos);
  EXPECT_EQ(json::parse(body).at("target").at("digest"), json::value(digestOf('a')));
  const auto d1 = only("deploy");
  EXPECT_EQ(d1.state, "delivered");
  EXPECT_EQ(d1.attempts, 1u);
  EXPECT_EQ(d1.status, 200);
}

TEST_F(DispatcherTest, FailuresAreRetriedUntilAnAnswerAndFinalAnswersAreNot) {
  Receiver flaky({500, 503, 204});
  Receiver gone({404});
  addHook("flaky", flaky.uri());
  addHook("gone", gone.uri());
  put('a', "v1");
  WebhookDispatcher d(*events, *secrets, options);
  run(d, 6);
  EXPECT_EQ(flaky.requests().size(), 3u);
  const auto f = only("flaky");
  EXPECT_EQ(f.state, "delivered");
  EXPECT_EQ(f.attempts, 3u);
  EXPECT_EQ(f.status, 204);
  EXPECT_EQ(gone.requests().size(), 1u);
  const auto g = only("gone");
  EXPECT_EQ(g.state, "failed");
  EXPECT_EQ(g.status, 404);
  EXPECT_EQ(g.response, "nope!");
  EXPECT_NE(g.error.find("404"), std::string::npos);
}

TEST_F(DispatcherTest, ADeliveryFailsOnceItsRetryTimeHasPassed) {
  Receiver down({500});
  addHook("down", down.uri());
  options.retryFor = std::chrono::milliseconds(0);
  put('a', "v1");
  WebhookDispatcher d(*events, *secrets, options);
  run(d, 3);
  EXPECT_EQ(down.requests().size(), 1u);
  EXPECT_EQ(only("down").state, "failed");
}

TEST_F(DispatcherTest, LoopbackIsRefusedAtConnectionUnlessAllowed) {
  Receiver receiver({200});
  addHook("local", receiver.uri());  // stored directly: the API would refuse the URI already
  options.allowLoopback = false;
  options.retryFor = std::chrono::milliseconds(0);
  put('a', "v1");
  WebhookDispatcher d(*events, *secrets, options);
  run(d, 1);
  EXPECT_TRUE(receiver.requests().empty());
  const auto l = only("local");
  EXPECT_EQ(l.state, "failed");
  EXPECT_NE(l.error.find("not allowed"), std::string::npos) << l.error;
}

TEST_F(DispatcherTest, AReceiverThatNeverAnswersTimesOutAndHoldsOneSender) {
  Receiver stuck({200});
  stuck.hang = true;
  Receiver fine({200});
  addHook("stuck", stuck.uri());
  addHook("fine", fine.uri());
  options.timeout = std::chrono::milliseconds(300);
  options.senders = 2;
  for (char c : {'a', 'b', 'c', 'd'}) put(c, std::string(1, c));
  WebhookDispatcher d(*events, *secrets, options);
  d.start();
  // The fine receiver gets all four while the stuck one holds at most one sender.
  EXPECT_EQ(fine.waitFor(4), 4u);
  for (int i = 0; i < 200; ++i) {
    auto list = *events->deliveries(registry, "stuck", 0, 10);
    if (std::any_of(list.begin(), list.end(), [](auto& x) { return x.attempts > 0; })) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  d.stop();
  stuck.hang = false;
  bool timedOut = false;
  const auto attempts = *events->deliveries(registry, "stuck", 0, 10);
  for (const auto& x : attempts) {
    if (x.error.find("imeout") != std::string::npos ||
        x.error.find("timed out") != std::string::npos)
      timedOut = true;
  }
  EXPECT_TRUE(timedOut);
}

// While one receiver hangs, its webhook's backlog grows older than every new delivery of the
// others: those still go out at once, not one per attempt of the hanging one.
TEST_F(DispatcherTest, AHangingReceiversBacklogHoldsUpNoOtherWebhook) {
  Receiver stuck({200});
  stuck.hang = true;
  Receiver fine({200});
  addHook("stuck", stuck.uri());
  addHook("fine", fine.uri());
  options.timeout = std::chrono::milliseconds(60000);
  options.senders = 2;
  WebhookDispatcher d(*events, *secrets, options);
  d.start();
  for (char c = 'a'; c <= 'z'; ++c) put(c, "old");
  EXPECT_EQ(fine.waitFor(26), 26u);
  // The stuck webhook's 25 waiting deliveries are older than these.
  for (char c = 'a'; c <= 'e'; ++c) put(c, "new");
  EXPECT_EQ(fine.waitFor(31), 31u);
  EXPECT_EQ(stuck.requests().size(), 1u);  // its first attempt, still unanswered
  stuck.hang = false;
  d.stop();
}

// An attempt that ends while the dispatcher stops is recorded before stop() returns: a restart
// does not send it again.
TEST_F(DispatcherTest, AnAttemptEndingAtStopIsRecorded) {
  Receiver slow({204});
  slow.hang = true;
  addHook("slow", slow.uri());
  put('a', "v1");
  options.timeout = std::chrono::milliseconds(10000);  // the answer comes well before
  WebhookDispatcher d(*events, *secrets, options);
  d.start();
  ASSERT_EQ(slow.waitFor(1), 1u);
  std::thread answer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    slow.hang = false;
  });
  d.stop();  // waits for the attempt in flight
  answer.join();
  const auto done = only("slow");
  EXPECT_EQ(done.state, "delivered");
  EXPECT_EQ(done.status, 204);
}

TEST_F(DispatcherTest, DisabledWebhooksGetNothingNew) {
  Receiver receiver({200});
  addHook("off", receiver.uri());
  auto w = *events->webhook(registry, "off");
  w->enabled = false;
  ASSERT_TRUE(*events->updateWebhook(*w));
  put('a', "v1");
  WebhookDispatcher d(*events, *secrets, options);
  run(d, 2);
  EXPECT_TRUE(receiver.requests().empty());
  EXPECT_TRUE(events->deliveries(registry, "off", 0, 10)->empty());
}

// ---- the audit log ----

TEST_F(EventStoreTest, TheAuditLogWritesInBatchesExportsLinesAndDropsBeyondItsQueue) {
  const auto file = dir / "audit.jsonl";
  AuditOptions o;
  o.file = file.string();
  o.queue = 3;
  {
    AuditLog log(*events, o);
    // Not started: the queue fills and what goes beyond it is dropped, not waited for.
    for (int i = 0; i < 5; ++i) {
      meta::AuditRecord r;
      r.registry = "default";
      r.identity = "admin";
      r.action = "manifest.push";
      r.target = "app:v" + std::to_string(i);
      r.outcome = "success";
      r.status = 201;
      log.record(r);
    }
    log.start();
    log.flush();
    EXPECT_EQ(events->audit({})->size(), 3u);
    // Rotated away: the next batch goes to a new file of the same name.
    fs::rename(file, dir / "audit.jsonl.1");
    meta::AuditRecord r;
    r.action = "login";
    r.identity = "default";
    r.outcome = "failure";
    log.record(r);
    log.flush();
  }
  std::ifstream first(dir / "audit.jsonl.1");
  std::string line;
  int lines = 0;
  while (std::getline(first, line)) {
    const auto v = json::parse(line).as_object();
    EXPECT_EQ(v.at("action"), json::value("manifest.push"));
    EXPECT_EQ(v.at("status").to_number<int>(), 201);
    ++lines;
  }
  EXPECT_EQ(lines, 3);
  std::ifstream second(file);
  ASSERT_TRUE(std::getline(second, line));
  EXPECT_EQ(json::parse(line).at("action"), json::value("login"));
}

}  // namespace
}  // namespace berth::events
