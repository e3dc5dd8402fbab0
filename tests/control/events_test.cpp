// Events on the real server (docs/control-api.md, "Webhooks" and "Audit"): webhooks hear of
// pushes, tag moves, deletes and pings from the server's delivery threads, a receiver that
// never answers holds up neither pushes nor other webhooks, and the audit log names who did
// what. The CI runs these against the ThreadSanitizer build of the server too.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "control_support.hpp"
#include "webhook_receiver.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

class EventsApiTest : public ConfiguredRegistryTest {
 protected:
  EventsApiTest()
      : ConfiguredRegistryTest(
            R"({"webhook_allow_loopback": true, "webhook_timeout_seconds": 2})") {}
  json::Value createHook(const std::string& name, const std::string& uri,
                         const std::string& actions = R"(["push","delete"])") {
    return expectJson(api().post(regPath(reg_, "/webhooks"),
                                 R"({"name":")" + name + R"(","serviceUri":")" + uri +
                                     R"(","actions":)" + actions + "}",
                                 kJson),
                      201);
  }
  std::vector<json::Value> events(const std::string& hook) {
    json::Value listed = expectJson(api().get(regPath(reg_, "/webhooks/" + hook + "/events")), 200);
    std::vector<json::Value> out;
    if (const json::Value* e = member(listed, "events"); e && e->isArray()) {
      for (const auto& x : e->asArray()) out.push_back(x);
    }
    return out;
  }
};

TEST_F(EventsApiTest, PushesTagMovesDeletesAndPingsReachTheReceiverSigned) {
  WebhookReceiver receiver;
  json::Value hook = createHook("deploy", receiver.uri());
  ASSERT_FALSE(str(hook, "secret").empty()) << "the secret is shown at creation";
  p_->pushImage("team/app", "v1");
  const auto moved = p_->pushImage("team/app", "v1");  // the tag moves
  ASSERT_EQ(p_->del("/v2/team/app/manifests/" + moved.manifest.digest).status, 202);
  ASSERT_EQ(api().post(regPath(reg_, "/webhooks/deploy/ping"), "", kJson).status, 202);
  ASSERT_EQ(receiver.waitFor(4), 4u);
  std::vector<std::string> actions;
  for (const auto& r : receiver.requests()) {
    EXPECT_NE(r.find("X-Berth-Signature-256: sha256="), std::string::npos) << r;
    auto body = json::parse(WebhookReceiver::bodyOf(r));
    ASSERT_TRUE(body) << r;
    actions.push_back(str(*body, "action"));
    if (str(*body, "action") != "ping") {
      EXPECT_EQ(str(*member(*body, "target"), "repository"), "team/app");
    }
  }
  // The ping is queued at once, the changes as the dispatcher reads them from the outbox: those
  // arrive in the order they happened.
  const auto ping = std::find(actions.begin(), actions.end(), "ping");
  ASSERT_NE(ping, actions.end());
  actions.erase(ping);
  EXPECT_EQ(actions, (std::vector<std::string>{"push", "push", "delete"}));
  for (int i = 0; i < 250; ++i) {
    const auto listed = events("deploy");
    if (listed.size() == 4 && std::all_of(listed.begin(), listed.end(), [](const json::Value& e) {
          return str(e, "state") == "delivered";
        })) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "list-events does not show four delivered events";
}

TEST_F(EventsApiTest, AReceiverThatNeverAnswersHoldsUpNoPushAndNoOtherWebhook) {
  WebhookReceiver stuck;
  stuck.hang = true;
  WebhookReceiver fine;
  createHook("stuck", stuck.uri(), R"(["push"])");
  createHook("fine", fine.uri(), R"(["push"])");
  for (int i = 0; i < 12; ++i) p_->pushImage("team/app", "v" + std::to_string(i));
  EXPECT_EQ(fine.waitFor(12), 12u);
  EXPECT_GE(stuck.requests().size(), 1u);
  // Its attempts time out (webhook_timeout_seconds 2) and are to be tried again.
  for (int i = 0; i < 500; ++i) {
    const auto listed = events("stuck");
    if (std::any_of(listed.begin(), listed.end(), [](const json::Value& e) {
          return str(e, "error").find("imed out") != std::string::npos ||
                 str(e, "error").find("imeout") != std::string::npos;
        })) {
      stuck.hang = false;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stuck.hang = false;
  ADD_FAILURE() << "no timed-out attempt recorded for the receiver that never answers";
}

TEST_F(EventsApiTest, TheAuditLogNamesWhoDidWhat) {
  p_->pushImage("team/app", "v1");
  const Identity pusher = createTokenWithActions(
      reg_, "ci", {"repositories/team/app/content/write", "repositories/team/app/content/read"});
  plane(reg_, pusher.basic())->pushImage("team/app", "v2");
  ASSERT_EQ(plane(reg_, basicAuthorization(admin_.user, "wrong"))->get("/v2/").status, 401);
  // Records are written by a background thread, in batches.
  std::vector<std::pair<std::string, std::string>> seen;  // identity, action (status)
  for (int i = 0; i < 250; ++i) {
    json::Value listed = expectJson(api().get(regPath(reg_, "/audit?n=200")), 200);
    seen.clear();
    if (const json::Value* records = member(listed, "records"); records && records->isArray()) {
      for (const auto& r : records->asArray()) {
        seen.emplace_back(str(r, "identity"), str(r, "action") + " " +
                                                  std::to_string(integer(r, "status").value_or(0)));
      }
    }
    auto has = [&](const std::string& who, const std::string& what) {
      return std::find(seen.begin(), seen.end(), std::make_pair(who, what)) != seen.end();
    };
    // The refused login goes by the user name it gave.
    if (has("admin", "manifest.push 201") && has("token:ci", "manifest.push 201") &&
        has("operator", "token.create 201") && has(admin_.user, "login 401")) {
      const std::string all = api().get(regPath(reg_, "/audit?n=200")).body;
      EXPECT_EQ(all.find(admin_.password), std::string::npos) << "a password in the audit log";
      EXPECT_EQ(all.find(pusher.password), std::string::npos) << "a password in the audit log";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string listed;
  for (const auto& [who, what] : seen) listed += who + " " + what + "\n";
  ADD_FAILURE() << "the audit log lacks a push, the token's creation or the refused login:\n"
                << listed;
}

}  // namespace
}  // namespace berth_test::control
