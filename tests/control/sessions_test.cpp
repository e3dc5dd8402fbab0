// Sign-in sessions (docs/control-api.md, "Sessions"): POST /api/v1/session with the operator
// token or a registry's credentials sets an HttpOnly, SameSite=Strict cookie; requests carrying
// it (and the X-Berth-Request header) act as that identity with exactly its rights, until it
// signs out, expires, or the identity is disabled.
#include <chrono>
#include <thread>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

class SessionsTest : public ConfiguredRegistryTest {
 protected:
  SessionsTest()
      : ConfiguredRegistryTest(
            R"({"session_lifetime_seconds": 600, "sessions_max": 3, "sessions_per_identity": 2})") {
  }

  Response signIn(const std::string& body, bool csrf = true) {
    return signInSession(api(), body, csrf);
  }
  static std::string cookieOf(const Response& r) { return sessionCookieOf(r); }
  std::string signedIn(const std::string& body) {
    auto r = signIn(body);
    EXPECT_EQ(r.status, 201) << r;
    return cookieOf(r);
  }
  std::string operatorSession() {
    return signedIn(R"({"operatorToken":")" + operatorToken() + R"("})");
  }
  Response as(const std::string& cookie, std::string_view method, const std::string& target,
              std::optional<std::string_view> body = std::nullopt, bool csrf = true) {
    return asSession(api(), cookie, method, target, body, csrf);
  }
};

TEST_F(SessionsTest, TheOperatorSignsInUsesTheCookieAndSignsOut) {
  auto r = signIn(R"({"operatorToken":")" + operatorToken() + R"("})");
  json::Value session = expectJson(r, 201);
  EXPECT_EQ(str(session, "kind"), "operator");
  EXPECT_EQ(str(session, "identity"), "operator");
  EXPECT_TRUE(member(session, "registry")->isNull());
  EXPECT_TRUE(isRfc3339Utc(str(session, "expiresAt")));
  EXPECT_EQ(r.headerOr("Cache-Control"), "no-store");
  const std::string set = r.headerOr("Set-Cookie");
  for (const char* attribute :
       {"; Path=/api/v1", "; Max-Age=600", "; HttpOnly", "; SameSite=Strict"}) {
    EXPECT_NE(set.find(attribute), std::string::npos) << attribute << " missing: " << set;
  }
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "plain HTTP: " << set;
  const std::string cookie = cookieOf(r);
  EXPECT_EQ(cookie.size(), 43u);
  EXPECT_EQ(r.body.find(cookie), std::string::npos) << "the secret is in the cookie only";

  auto listed = as(cookie, "GET", "/api/v1/registries");
  EXPECT_EQ(listed.status, 200) << listed;
  EXPECT_EQ(str(expectJson(as(cookie, "GET", "/api/v1/session"), 200), "kind"), "operator");
  const std::string name = uniqueRegistryName();
  EXPECT_EQ(as(cookie, "POST", "/api/v1/registries", R"({"name":")" + name + R"("})").status, 201);

  auto out = as(cookie, "DELETE", "/api/v1/session");
  EXPECT_EQ(out.status, 204) << out;
  EXPECT_NE(out.headerOr("Set-Cookie").find("berth_session=; Path=/api/v1; Max-Age=0"),
            std::string::npos)
      << out.headerOr("Set-Cookie");
  auto after = as(cookie, "GET", "/api/v1/registries");
  EXPECT_API_ERROR(after, 401, "UNAUTHORIZED");
  EXPECT_NE(after.headerOr("Set-Cookie").find("Max-Age=0"), std::string::npos)
      << "an ended session clears the cookie";
}

TEST_F(SessionsTest, TheCookieWithoutTheCsrfHeaderIsRefused) {
  const std::string cookie = operatorSession();
  auto r = as(cookie, "GET", "/api/v1/registries", std::nullopt, false);
  EXPECT_API_ERROR(r, 403, "DENIED");
  EXPECT_NE(r.body.find("X-Berth-Request"), std::string::npos) << r.body;
  const std::string name = uniqueRegistryName();
  EXPECT_API_ERROR(as(cookie, "POST", "/api/v1/registries", R"({"name":")" + name + R"("})", false),
                   403, "DENIED");
  EXPECT_API_ERROR(api().get(regPath(name)), 404, "NOT_FOUND");  // nothing was created
  // Signing in needs it too (a form of another site cannot sign a browser in).
  EXPECT_API_ERROR(signIn(R"({"operatorToken":")" + operatorToken() + R"("})", false), 403,
                   "DENIED");
}

TEST_F(SessionsTest, WrongCredentialsAndBadBodiesAreRefused) {
  EXPECT_API_ERROR(signIn(R"({"operatorToken":"nope"})"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(signIn(R"({"registry":")" + reg_ + R"(","username":")" + admin_.user +
                          R"(","password":"wrong"})"),
                   401, "UNAUTHORIZED");
  EXPECT_API_ERROR(signIn(R"({"registry":"nosuchregistry","username":"a","password":"b"})"), 401,
                   "UNAUTHORIZED");
  EXPECT_API_ERROR(signIn(R"({"registry":")" + reg_ + R"(","username":")" + admin_.user + R"("})"),
                   400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(signIn(R"({"operatorToken":")" + operatorToken() + R"(","registry":"x"})"), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(signIn(R"({"operatorToken":1})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(signIn(R"({"user":"x"})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(signIn("not json"), 400, "INVALID_ARGUMENT");
  // A page of the portal answers a 401 itself: no Basic challenge, which would make the browser
  // ask for a password in a dialog of its own (and hold the request in a headless one).
  auto unknown = as("not-a-session", "GET", "/api/v1/session");
  EXPECT_API_ERROR(unknown, 401, "UNAUTHORIZED");
  EXPECT_FALSE(unknown.hasHeader("WWW-Authenticate")) << unknown;
  auto refused = signIn(R"({"operatorToken":"nope"})");
  EXPECT_FALSE(refused.hasHeader("WWW-Authenticate")) << refused;
  auto none = api().request("GET", "/api/v1/session", {noAuth(), {"X-Berth-Request", "1"}});
  EXPECT_API_ERROR(none, 401, "UNAUTHORIZED");
  EXPECT_FALSE(none.hasHeader("WWW-Authenticate")) << none;
  // Other clients are challenged as before.
  EXPECT_TRUE(api().request("GET", "/api/v1/session", {noAuth()}).hasHeader("WWW-Authenticate"));
  EXPECT_API_ERROR(api().request("GET", "/api/v1/session", {noAuth()}), 401, "UNAUTHORIZED");
  // Failed sign-ins count toward the failed-login limit of the name they tried.
  Response last;
  for (int i = 0; i < 6; ++i) {
    last = signIn(R"({"registry":")" + reg_ + R"(","username":")" + admin_.user +
                  R"(","password":"wrong"})");
  }
  EXPECT_API_ERROR(last, 429, "TOO_MANY_REQUESTS");
  EXPECT_TRUE(last.header("Retry-After")) << last;
}

TEST_F(SessionsTest, AnAdminSessionHasItsRegistryOnly) {
  const std::string cookie = signedIn(R"({"registry":")" + reg_ + R"(","username":")" +
                                      admin_.user + R"(","password":")" + admin_.password + "\"}");
  json::Value session = expectJson(as(cookie, "GET", "/api/v1/session"), 200);
  EXPECT_EQ(str(session, "kind"), "admin");
  EXPECT_EQ(str(session, "registry"), reg_);
  EXPECT_EQ(str(session, "loginServer"),
            str(expectJson(api().get(regPath(reg_)), 200), "loginServer"));
  EXPECT_EQ(as(cookie, "GET", regPath(reg_)).status, 200);
  EXPECT_EQ(as(cookie, "GET", regPath(reg_, "/tokens")).status, 200);
  EXPECT_API_ERROR(as(cookie, "GET", "/api/v1/registries"), 403, "DENIED");
  EXPECT_API_ERROR(as(cookie, "GET", "/api/v1/audit"), 403, "DENIED");
  const std::string other = uniqueRegistryName();
  createRegistry(other);
  auto elsewhere = as(cookie, "GET", regPath(other));
  EXPECT_API_ERROR(elsewhere, 403, "DENIED");
  EXPECT_NE(elsewhere.body.find("signed in to registry " + reg_ + " only"), std::string::npos)
      << elsewhere.body;

  // Turning the admin account off ends its sessions.
  ASSERT_EQ(api()
                .patch(regPath(reg_), R"({"adminUserEnabled":false})",
                       {{"Content-Type", "application/json"}})
                .status,
            200);
  EXPECT_API_ERROR(as(cookie, "GET", regPath(reg_)), 401, "UNAUTHORIZED");
}

TEST_F(SessionsTest, ATokenSessionHasExactlyTheTokensRights) {
  p_->pushImage("team/app", "v1");
  p_->pushImage("other/app", "v1");
  const Identity reader = createTokenWithActions(
      reg_, "reader",
      {"repositories/team/app/content/read", "repositories/team/app/metadata/read"});
  const std::string cookie = signedIn(R"({"registry":")" + reg_ + R"(","username":"reader",)" +
                                      R"("password":")" + reader.password + "\"}");
  json::Value session = expectJson(as(cookie, "GET", "/api/v1/session"), 200);
  EXPECT_EQ(str(session, "kind"), "token");
  EXPECT_EQ(str(session, "identity"), "token:reader");
  const json::Value* permissions = member(session, "permissions");
  ASSERT_TRUE(permissions && permissions->isArray() && permissions->asArray().size() == 1)
      << as(cookie, "GET", "/api/v1/session").body;
  EXPECT_EQ(str(permissions->asArray()[0], "repository"), "team/app");
  EXPECT_EQ(strings(member(permissions->asArray()[0], "actions")),
            (std::vector<std::string>{"content/read", "metadata/read"}));

  auto repos = as(cookie, "GET", regPath(reg_, "/repositories"));
  ASSERT_EQ(repos.status, 200) << repos;
  EXPECT_NE(repos.body.find("team/app"), std::string::npos) << repos.body;
  EXPECT_EQ(repos.body.find("other/app"), std::string::npos) << "listed beyond its scope map";
  EXPECT_EQ(as(cookie, "GET", repoPath(reg_, "team/app", "/_tags")).status, 200);
  EXPECT_API_ERROR(as(cookie, "GET", repoPath(reg_, "other/app", "/_tags")), 403, "DENIED");
  EXPECT_API_ERROR(as(cookie, "PATCH", repoPath(reg_, "team/app", "/_tags/v1"),
                      std::string_view(R"({"writeEnabled":false})")),
                   403, "DENIED");
  EXPECT_API_ERROR(as(cookie, "GET", regPath(reg_, "/tokens")), 403, "DENIED");

  // Disabling the token ends the session on the next request.
  ASSERT_EQ(api()
                .patch(regPath(reg_, "/tokens/reader"), R"({"status":"disabled"})",
                       {{"Content-Type", "application/json"}})
                .status,
            200);
  auto after = as(cookie, "GET", regPath(reg_, "/repositories"));
  EXPECT_API_ERROR(after, 401, "UNAUTHORIZED");
  EXPECT_NE(after.body.find("reader"), std::string::npos) << after.body;
}

TEST_F(SessionsTest, ARegeneratedPasswordEndsTheSessionsSignedInWithIt) {
  const std::string cookie = signedIn(R"({"registry":")" + reg_ + R"(","username":")" +
                                      admin_.user + R"(","password":")" + admin_.password + "\"}");
  // password2 changes: the session signed in with password goes on.
  renewPassword(reg_, "password2");
  EXPECT_EQ(as(cookie, "GET", regPath(reg_)).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new creation time
  renewPassword(reg_, "password");
  auto after = as(cookie, "GET", regPath(reg_));
  EXPECT_API_ERROR(after, 401, "UNAUTHORIZED");
  EXPECT_NE(after.body.find("regenerated"), std::string::npos) << after.body;
}

TEST_F(SessionsTest, ADeletedTokenPasswordEndsTheSessionsSignedInWithIt) {
  const Identity bot = createTokenWithActions(reg_, "bot", {"repositories/*/metadata/read"});
  const std::string cookie = signedIn(R"({"registry":")" + reg_ + R"(","username":"bot",)" +
                                      R"("password":")" + bot.password + "\"}");
  EXPECT_EQ(as(cookie, "GET", regPath(reg_, "/repositories")).status, 200);
  ASSERT_EQ(api().del(regPath(reg_, "/tokens/bot/credentials/password2")).status, 204);
  EXPECT_EQ(as(cookie, "GET", regPath(reg_, "/repositories")).status, 200) << "another password";
  ASSERT_EQ(api().del(regPath(reg_, "/tokens/bot/credentials/password1")).status, 204);
  EXPECT_API_ERROR(as(cookie, "GET", regPath(reg_, "/repositories")), 401, "UNAUTHORIZED");
}

TEST_F(SessionsTest, SigningInAgainEndsTheBrowsersEarlierSession) {
  const std::string first = operatorSession();
  Headers h{noAuth(),
            {"Content-Type", "application/json"},
            {"X-Berth-Request", "1"},
            {"Cookie", "berth_session=" + first}};
  auto again = api().request("POST", "/api/v1/session", h,
                             R"({"operatorToken":")" + operatorToken() + R"("})");
  ASSERT_EQ(again.status, 201) << again;
  EXPECT_API_ERROR(as(first, "GET", "/api/v1/session"), 401, "UNAUTHORIZED");
  EXPECT_EQ(as(cookieOf(again), "GET", "/api/v1/session").status, 200);
}

TEST_F(SessionsTest, ARefreshTokenDoesNotSignIn) {
  json::Value login = expectJson(api().post(regPath(reg_, "/login")), 200);
  auto r = signIn(R"({"registry":")" + reg_ + R"(","username":")" + kRefreshUser +
                  R"(","password":")" + str(login, "refreshToken") + "\"}");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  EXPECT_FALSE(r.hasHeader("Set-Cookie"));
}

TEST_F(SessionsTest, BehindATlsProxyTheCookieIsSecure) {
  Headers h{noAuth(),
            {"Content-Type", "application/json"},
            {"X-Berth-Request", "1"},
            {"X-Forwarded-Proto", "https"}};
  auto r = api().request("POST", "/api/v1/session", h,
                         R"({"operatorToken":")" + operatorToken() + R"("})");
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_NE(r.headerOr("Set-Cookie").find("; Secure"), std::string::npos)
      << r.headerOr("Set-Cookie");
}

TEST_F(SessionsTest, AReaderTokenSeesNoImageConfig) {
  p_->pushImage("team/app", "v1");
  const Identity meta =
      createTokenWithActions(reg_, "meta", {"repositories/team/app/metadata/read"});
  const Identity puller = createTokenWithActions(
      reg_, "puller",
      {"repositories/team/app/metadata/read", "repositories/team/app/content/read"});
  const std::string digest =
      str(expectJson(api().get(repoPath(reg_, "team/app", "/_tags/v1")), 200), "digest");
  auto configOf = [&](const Identity& who) {
    const std::string cookie = signedIn(R"({"registry":")" + reg_ + R"(","username":")" + who.user +
                                        R"(","password":")" + who.password + "\"}");
    return expectJson(as(cookie, "GET", repoPath(reg_, "team/app", "/_manifests/" + digest)), 200);
  };
  // The config is content: the environment of an image may hold secrets.
  const json::Value seenByMeta = configOf(meta);
  ASSERT_NE(seenByMeta.find("config"), nullptr);
  EXPECT_TRUE(seenByMeta.find("config")->isNull());
  EXPECT_NE(seenByMeta.find("manifest"), nullptr);
  const json::Value seenByPuller = configOf(puller);
  const json::Value* config = seenByPuller.find("config");
  ASSERT_NE(config, nullptr);
  EXPECT_FALSE(config->isNull()) << "content/read shows the config";
}

TEST_F(SessionsTest, ADeletedRegistryEndsItsSessions) {
  const std::string cookie = signedIn(R"({"registry":")" + reg_ + R"(","username":")" +
                                      admin_.user + R"(","password":")" + admin_.password + "\"}");
  ASSERT_EQ(api().del(regPath(reg_)).status, 204);
  createRegistryWithAdmin(reg_);  // the same name again: a new registry, not the old session's
  EXPECT_API_ERROR(as(cookie, "GET", regPath(reg_)), 401, "UNAUTHORIZED");
}

TEST_F(SessionsTest, PastTheLimitsANewSessionEndsTheOldestOfItsIdentityThenOfAll) {
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); };
  const std::string admin = signedIn(R"({"registry":")" + reg_ + R"(","username":")" + admin_.user +
                                     R"(","password":")" + admin_.password + "\"}");
  std::vector<std::string> op;
  for (int i = 0; i < 3; ++i) {
    pause();  // distinct creation times
    op.push_back(operatorSession());
  }
  // Two per identity: the operator's third ends its first, and nobody else's.
  EXPECT_API_ERROR(as(op[0], "GET", "/api/v1/session"), 401, "UNAUTHORIZED");
  for (const auto& kept : {op[1], op[2], admin}) {
    EXPECT_EQ(as(kept, "GET", "/api/v1/session").status, 200);
  }
  // Three in all: one more ends the oldest of all, the admin's.
  pause();
  const Identity bot = createTokenWithActions(reg_, "bot", {"repositories/*/metadata/read"});
  const std::string token = signedIn(R"({"registry":")" + reg_ + R"(","username":"bot",)" +
                                     R"("password":")" + bot.password + "\"}");
  EXPECT_API_ERROR(as(admin, "GET", "/api/v1/session"), 401, "UNAUTHORIZED");
  for (const auto& kept : {op[1], op[2], token}) {
    EXPECT_EQ(as(kept, "GET", "/api/v1/session").status, 200);
  }
}

TEST_F(SessionsTest, SignInsAndSignOutsAreAudited) {
  const std::string cookie = operatorSession();
  ASSERT_EQ(as(cookie, "DELETE", "/api/v1/session").status, 204);
  ASSERT_EQ(signIn(R"({"registry":")" + reg_ + R"(","username":")" + admin_.user +
                   R"(","password":"wrong-password"})")
                .status,
            401);
  for (int i = 0; i < 250; ++i) {
    const std::string all = api().get("/api/v1/audit?n=200").body;
    const bool created = all.find(R"("action":"session.create")") != std::string::npos;
    const bool deleted = all.find(R"("action":"session.delete")") != std::string::npos;
    const bool refused = all.find(R"("identity":")" + admin_.user + R"(")") != std::string::npos;
    if (created && deleted && refused) {
      EXPECT_EQ(all.find("wrong-password"), std::string::npos) << "a password in the audit log";
      EXPECT_EQ(all.find(cookie), std::string::npos) << "a session secret in the audit log";
      EXPECT_EQ(all.find(operatorToken()), std::string::npos) << "the operator token in the log";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the audit log lacks the sign-in, the sign-out or the refused sign-in:\n"
                << api().get("/api/v1/audit?n=200").body;
}

}  // namespace
}  // namespace berth_test::control
