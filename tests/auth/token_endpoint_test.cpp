// The token endpoint, JWKS, key rotation, and the `berth admin` commands as they take effect on
// a running server (tests/AUTH_CONTRACT.md). Every test gets a fresh server.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "auth_support.hpp"

namespace berth_test::auth {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class TokenEndpointTest : public IsolatedAuthTest {
 protected:
  // GET /v2/ with `authorization` → status.
  long v2Status(const std::string& authorization) {
    return http().get("/v2/", {{"Authorization", authorization}}).status;
  }

  // Asserts an OAuth2 error reply: one of `statuses`, JSON with `error` == want and a string
  // error_description.
  static ::testing::AssertionResult IsOAuthError(const TokenReply& t, std::vector<long> statuses,
                                                 const std::string& want) {
    if (std::find(statuses.begin(), statuses.end(), t.response.status) == statuses.end())
      return ::testing::AssertionFailure() << "unexpected status\n" << t.response;
    if (!t.body || !t.body->isObject())
      return ::testing::AssertionFailure() << "error body is not a JSON object\n" << t.response;
    if (t.body->getString("error") != want)
      return ::testing::AssertionFailure() << "error is not " << want << "\n" << t.response;
    if (!t.body->getString("error_description"))
      return ::testing::AssertionFailure() << "no string error_description\n" << t.response;
    if (!t.token.empty())
      return ::testing::AssertionFailure() << "an error reply carries a token\n" << t.response;
    return ::testing::AssertionSuccess();
  }

  static std::string refreshTokenOf(const TokenReply& t) {
    return t.body ? t.body->getString("refresh_token").value_or("") : "";
  }

  // Admin Basic credentials that are not the fixture's (the fixture's stay valid throughout).
  std::vector<std::pair<std::string, std::string>> passwordGrant(const Identity& id,
                                                                 const std::string& scope) {
    return {{"grant_type", "password"}, {"username", id.user}, {"password", id.password},
            {"service", hostPort()},    {"scope", scope},      {"client_id", "berth-tests"}};
  }
};

// ---------------------------------------------------------------------------
// GET /oauth2/token
// ---------------------------------------------------------------------------
TEST_F(TokenEndpointTest, GetTokenReplyShape) {
  TokenReply t = mustGetToken(adminIdentity().basic(), {repoScope("tok/app", "pull,push")});
  EXPECT_TRUE(HasContentType(t.response, "application/json"));
  const json::Value& b = *t.body;
  EXPECT_EQ(b.getString("access_token"), t.token) << t.response;
  const json::Value* expires = b.find("expires_in");
  ASSERT_TRUE(expires && expires->isNumber()) << t.response;
  EXPECT_EQ(expires->asNumber(), 300) << t.response;
  auto issued = parseRfc3339(b.getString("issued_at").value_or(""));
  ASSERT_TRUE(issued) << "issued_at is not RFC 3339\n" << t.response;
  EXPECT_LE(std::llabs(*issued - nowSeconds()), 120) << t.response;
  EXPECT_FALSE(b.has("refresh_token")) << "refresh_token without offline_token=true\n"
                                       << t.response;
}

TEST_F(TokenEndpointTest, JwtHeaderAndClaims) {
  TokenReply t =
      mustGetToken(adminIdentity().basic(), {repoScope("tok/app", "pull,push"), kCatalogScope});
  const Jwt& j = *t.jwt;
  EXPECT_EQ(j.header.getString("alg"), "ES256") << j.headerJson;
  EXPECT_EQ(j.header.getString("typ"), "JWT") << j.headerJson;
  EXPECT_FALSE(j.kid().empty()) << j.headerJson;
  EXPECT_EQ(j.signature.size(), 64u) << "an ES256 JWS signature is r||s, 64 bytes";

  EXPECT_EQ(j.payload.getString("iss"), "berth") << j.payloadJson;
  EXPECT_EQ(j.payload.getString("sub"), registryUser()) << j.payloadJson;
  const json::Value* aud = j.payload.find("aud");
  ASSERT_NE(aud, nullptr) << j.payloadJson;
  if (aud->isArray()) {
    ASSERT_EQ(aud->asArray().size(), 1u) << j.payloadJson;
    EXPECT_EQ(aud->asArray()[0].asString(), hostPort()) << j.payloadJson;
  } else {
    EXPECT_EQ(aud->asString(), hostPort()) << j.payloadJson;
  }
  auto iat = j.claimInt("iat"), nbf = j.claimInt("nbf"), exp = j.claimInt("exp");
  ASSERT_TRUE(iat && nbf && exp) << j.payloadJson;
  EXPECT_EQ(*exp - *iat, 300) << "exp - iat must be the token lifetime\n" << j.payloadJson;
  EXPECT_LE(*nbf, *iat) << j.payloadJson;
  EXPECT_LE(*iat - *nbf, 60) << j.payloadJson;
  EXPECT_LE(std::llabs(*iat - nowSeconds()), 120) << j.payloadJson;
  auto issued = parseRfc3339(t.body->getString("issued_at").value_or(""));
  ASSERT_TRUE(issued);
  EXPECT_LE(std::llabs(*issued - *iat), 1) << "issued_at and iat differ\n" << t.response;
  EXPECT_FALSE(j.payload.getString("jti").value_or("").empty()) << j.payloadJson;

  EXPECT_EQ(sorted(j.actions("repository", "tok/app")), (std::vector<std::string>{"pull", "push"}))
      << j.payloadJson;
  EXPECT_EQ(j.actions("registry", "catalog"), std::vector<std::string>{"*"}) << j.payloadJson;
}

TEST_F(TokenEndpointTest, JtiIsUniquePerToken) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    TokenReply t = mustGetToken(adminIdentity().basic(), {repoScope("tok/app", "pull")});
    std::string jti = t.jwt->payload.getString("jti").value_or("");
    EXPECT_TRUE(seen.insert(jti).second) << "jti repeated: " << jti;
  }
}

// The token grants the intersection of what was asked and what the caller may do.
TEST_F(TokenEndpointTest, ScopeIntersection) {
  Identity pull = createToken("i-pull", {"--scope-map", "_repositories_pull"});
  Identity push = createToken("i-push", {"--scope-map", "_repositories_push"});
  Identity other = createToken("i-other", {"--repository", "elsewhere/app", "content/read",
                                           "content/write", "content/delete"});
  Identity team =
      createToken("i-team", {"--repository", "team/*", "content/read", "content/delete"});
  const std::string all = repoScope("team/app", "pull,push,delete");
  struct Case {
    std::string who;
    std::string authorization;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"admin", adminIdentity().basic(), {"delete", "pull", "push"}},
      {"pull token", pull.basic(), {"pull"}},
      {"push token", push.basic(), {"pull", "push"}},
      {"token on another repository", other.basic(), {}},
      {"token on team/*", team.basic(), {"delete", "pull"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.who);
    TokenReply t = mustGetToken(c.authorization, {all});
    EXPECT_EQ(sorted(t.jwt->actions("repository", "team/app")), c.want) << t.jwt->payloadJson;
  }
  // Asking for less never yields more.
  TokenReply t = mustGetToken(adminIdentity().basic(), {repoScope("team/app", "pull")});
  EXPECT_EQ(t.jwt->actions("repository", "team/app"), std::vector<std::string>{"pull"})
      << t.jwt->payloadJson;
  // An empty intersection still gives a token, which then grants nothing there.
  TokenReply none = mustGetToken(other.basic(), {repoScope("team/app", "pull")});
  EXPECT_TRUE(none.jwt->actions("repository", "team/app").empty()) << none.jwt->payloadJson;
  pushRandomImage("team/app", "v1");
  Response r = http().get("/v2/team/app/manifests/v1", {{"Authorization", none.bearer()}});
  EXPECT_TRUE(IsChallenge(r, realm(), hostPort(), "repository:team/app:pull", true));
}

TEST_F(TokenEndpointTest, SeveralScopeParameters) {
  Identity push = createToken("s-push", {"--scope-map", "_repositories_push"});
  TokenReply t = mustGetToken(
      push.basic(),
      {repoScope("a/one", "pull"), repoScope("b/two", "pull,push,delete"), kCatalogScope});
  EXPECT_EQ(t.jwt->actions("repository", "a/one"), std::vector<std::string>{"pull"})
      << t.jwt->payloadJson;
  EXPECT_EQ(sorted(t.jwt->actions("repository", "b/two")),
            (std::vector<std::string>{"pull", "push"}))
      << t.jwt->payloadJson;
  EXPECT_EQ(t.jwt->actions("registry", "catalog"), std::vector<std::string>{"*"})
      << "registry:catalog:* is granted to any authenticated identity\n"
      << t.jwt->payloadJson;
  // Both repositories are usable with the one token.
  pushRandomImage("a/one", "v1");
  HttpClient c(baseUrl());
  c.setAuthorization(t.bearer());
  EXPECT_EQ(c.get("/v2/a/one/tags/list").status, 200);
  EXPECT_EQ(c.post("/v2/b/two/blobs/uploads/").status, 202);
  EXPECT_EQ(c.get("/v2/_catalog").status, 200);
}

// What crane catalog and regctl do: a token for registry:catalog:* and nothing else. The
// catalog then lists what the token's subject may read, as it does for Basic credentials.
TEST_F(TokenEndpointTest, CatalogUnderTheTokenFlowListsWhatTheSubjectMayRead) {
  for (const char* n : {"tcat/team/a", "tcat/team/b", "tcat/other/x"}) pushRandomImage(n, "v1");
  Identity team = createToken("tcat-team", {"--repository", "tcat/team/*", "content/read"});
  auto catalog = [&](const std::string& basic) {
    return catalogOf(mustGetToken(basic, {kCatalogScope}).bearer(), "tcat/");
  };
  EXPECT_EQ(catalog(adminIdentity().basic()),
            (std::vector<std::string>{"tcat/other/x", "tcat/team/a", "tcat/team/b"}));
  EXPECT_EQ(catalog(team.basic()), (std::vector<std::string>{"tcat/team/a", "tcat/team/b"}));
}

TEST_F(TokenEndpointTest, BadCredentialsAreUnauthorized) {
  Identity t = createToken("bad-creds", {"--scope-map", "_repositories_pull"});
  for (const auto& authz :
       {basicAuthorization(registryUser(), "wrong-" + randomHex(12)),
        basicAuthorization(t.user, "wrong-" + randomHex(12)),
        basicAuthorization("no-such-user", "whatever"), basicAuthorization(t.user, "")}) {
    SCOPED_TRACE(authz);
    TokenReply r = getToken(authz, {repoScope("tok/app", "pull")});
    EXPECT_REGISTRY_ERROR(r.response, 401, "UNAUTHORIZED");
    EXPECT_TRUE(r.token.empty()) << r.response;
  }
}

TEST_F(TokenEndpointTest, AnonymousTokenOnlyWithAnonymousPull) {
  pushRandomImage("anon/app", "v1");
  const std::vector<std::string> ask = {repoScope("anon/app", "pull,push,delete"), kCatalogScope};
  TokenReply off = getToken("", ask);
  EXPECT_REGISTRY_ERROR(off.response, 401, "UNAUTHORIZED");
  EXPECT_TRUE(off.token.empty()) << off.response;

  setAnonymousPull(true);
  TokenReply on = getToken("", ask);
  ASSERT_EQ(on.response.status, 200) << on.response;
  ASSERT_TRUE(on.jwt) << on.response;
  EXPECT_EQ(on.jwt->actions("repository", "anon/app"), std::vector<std::string>{"pull"})
      << on.jwt->payloadJson;
  EXPECT_TRUE(on.jwt->actions("registry", "catalog").empty())
      << "the catalog needs credentials even with anonymous pull\n"
      << on.jwt->payloadJson;
  HttpClient c(baseUrl());
  c.setAuthorization(on.bearer());
  EXPECT_EQ(c.get("/v2/anon/app/manifests/v1", manifestAccept()).status, 200);
  EXPECT_TRUE(IsChallenge(c.post("/v2/anon/app/blobs/uploads/"), realm(), hostPort(),
                          "repository:anon/app:pull,push", true));
  EXPECT_TRUE(IsChallenge(c.get("/v2/_catalog"), realm(), hostPort(), kCatalogScope, true))
      << "the catalog needs credentials even with anonymous pull";

  setAnonymousPull(false);
  TokenReply again = getToken("", ask);
  EXPECT_REGISTRY_ERROR(again.response, 401, "UNAUTHORIZED");
}

// "service = the Host header value": a token asked for another service must not open this
// registry (refused by the token endpoint, or carrying an audience this registry rejects).
TEST_F(TokenEndpointTest, TokenForAnotherServiceIsNotValidHere) {
  Response r = http().get("/oauth2/token?service=registry.example.com&scope=" +
                          urlEncode(repoScope("svc/app", "pull,push")));
  if (r.status != 200) {
    EXPECT_GE(r.status, 400) << r;
    EXPECT_LT(r.status, 500) << r;
    return;
  }
  auto body = json::parse(r.body);
  ASSERT_TRUE(body && body->getString("token")) << r;
  Response use = http().post("/v2/svc/app/blobs/uploads/", {},
                             {{"Authorization", bearerAuthorization(*body->getString("token"))}});
  EXPECT_EQ(use.status, 401) << "a token issued for service registry.example.com was accepted\n"
                             << use;
}

// ---------------------------------------------------------------------------
// Failed logins: 5 within 60 s for (source, username) → 429 TOOMANYREQUESTS + Retry-After
// ---------------------------------------------------------------------------
::testing::AssertionResult IsTooManyRequests(const Response& r) {
  auto e = IsError(r, 429, "TOOMANYREQUESTS");
  if (!e) return e;
  auto ra = r.header("Retry-After");
  if (!ra) return ::testing::AssertionFailure() << "no Retry-After\n" << r;
  char* end = nullptr;
  long secs = std::strtol(ra->c_str(), &end, 10);
  if (end == ra->c_str() || *end != '\0' || secs < 1 || secs > 60)
    return ::testing::AssertionFailure() << "Retry-After is not 1..60 seconds\n" << r;
  return ::testing::AssertionSuccess();
}

TEST_F(TokenEndpointTest, FiveFailuresThenTooManyRequests) {
  Identity victim = createToken("rl-victim", {"--scope-map", "_repositories_pull"});
  Identity bystander = createToken("rl-bystander", {"--scope-map", "_repositories_pull"});
  const std::vector<std::string> ask = {repoScope("rl/app", "pull")};
  for (int i = 0; i < 5; ++i) {
    TokenReply r = getToken(basicAuthorization(victim.user, "wrong" + std::to_string(i)), ask);
    ASSERT_EQ(r.response.status, 401) << "failure " << i + 1 << "\n" << r.response;
  }
  EXPECT_TRUE(IsTooManyRequests(getToken(basicAuthorization(victim.user, "wrong6"), ask).response));
  // Further attempts, even with the right password, are refused until the window passes.
  TokenReply right = getToken(victim.basic(), ask);
  EXPECT_TRUE(IsTooManyRequests(right.response));
  EXPECT_TRUE(right.token.empty()) << right.response;
  // Another username from the same source is not affected.
  EXPECT_EQ(getToken(bystander.basic(), ask).response.status, 200);
  EXPECT_EQ(v2Status(adminIdentity().basic()), 200);
}

// Chosen (contract silent): Basic straight to /v2/ and the POST grant are logins too; they count
// and are limited like GET /oauth2/token, else the limit could be bypassed.
TEST_F(TokenEndpointTest, FailedLoginsCountOnEveryLoginPath) {
  Identity victim = createToken("rl-paths", {"--scope-map", "_repositories_pull"});
  const Identity wrong{victim.user, "wrong-" + randomHex(8)};
  EXPECT_EQ(v2Status(wrong.basic()), 401);
  EXPECT_EQ(v2Status(wrong.basic()), 401);
  EXPECT_EQ(getToken(wrong.basic(), {}).response.status, 401);
  EXPECT_EQ(postToken(passwordGrant(wrong, repoScope("rl/app", "pull"))).response.status / 100, 4);
  EXPECT_EQ(postToken(passwordGrant(wrong, repoScope("rl/app", "pull"))).response.status / 100, 4);
  EXPECT_TRUE(IsTooManyRequests(http().get("/v2/", {{"Authorization", victim.basic()}})));
  EXPECT_EQ(postToken(passwordGrant(victim, repoScope("rl/app", "pull"))).response.status, 429);
}

// ---------------------------------------------------------------------------
// Refresh tokens and POST /oauth2/token
// ---------------------------------------------------------------------------
TEST_F(TokenEndpointTest, OfflineTokenGivesRefreshToken) {
  Identity pull = createToken("r-pull", {"--scope-map", "_repositories_pull"});
  TokenReply t = mustGetToken(pull.basic(), {repoScope("ref/app", "pull")}, "offline_token=true");
  const std::string refresh = refreshTokenOf(t);
  ASSERT_FALSE(refresh.empty()) << t.response;

  // The refresh grant works and cannot widen the identity's rights.
  TokenReply r = postToken({{"grant_type", "refresh_token"},
                            {"refresh_token", refresh},
                            {"service", hostPort()},
                            {"scope", repoScope("ref/app", "pull,push,delete")},
                            {"client_id", "berth-tests"}});
  ASSERT_EQ(r.response.status, 200) << r.response;
  ASSERT_TRUE(r.jwt) << r.response;
  EXPECT_EQ(r.body->getString("access_token"), r.token) << r.response;
  EXPECT_FALSE(refreshTokenOf(r).empty()) << "refresh grants return a refresh_token\n"
                                          << r.response;
  EXPECT_EQ(r.jwt->actions("repository", "ref/app"), std::vector<std::string>{"pull"})
      << r.jwt->payloadJson;
  EXPECT_EQ(r.jwt->payload.getString("sub"), pull.user) << r.jwt->payloadJson;
  pushRandomImage("ref/app", "v1");
  EXPECT_EQ(http().get("/v2/ref/app/tags/list", {{"Authorization", r.bearer()}}).status, 200);
}

TEST_F(TokenEndpointTest, PostPasswordGrant) {
  const std::string scope = repoScope("post/app", "pull,push");
  TokenReply t = postToken(passwordGrant(adminIdentity(), scope));
  ASSERT_EQ(t.response.status, 200) << t.response;
  ASSERT_TRUE(t.jwt) << t.response;
  EXPECT_EQ(t.body->getString("access_token"), t.token) << t.response;
  EXPECT_TRUE(t.body->find("expires_in") && t.body->find("expires_in")->isNumber()) << t.response;
  EXPECT_TRUE(parseRfc3339(t.body->getString("issued_at").value_or(""))) << t.response;
  EXPECT_TRUE(refreshTokenOf(t).empty()) << "refresh_token without access_type=offline\n"
                                         << t.response;
  EXPECT_EQ(sorted(t.jwt->actions("repository", "post/app")),
            (std::vector<std::string>{"pull", "push"}))
      << t.jwt->payloadJson;
  EXPECT_EQ(http().post("/v2/post/app/blobs/uploads/", {}, {{"Authorization", t.bearer()}}).status,
            202);

  auto form = passwordGrant(adminIdentity(), scope);
  form.emplace_back("access_type", "offline");
  TokenReply offline = postToken(form);
  ASSERT_EQ(offline.response.status, 200) << offline.response;
  const std::string refresh = refreshTokenOf(offline);
  ASSERT_FALSE(refresh.empty()) << offline.response;
  TokenReply r = postToken({{"grant_type", "refresh_token"},
                            {"refresh_token", refresh},
                            {"service", hostPort()},
                            {"scope", scope}});
  ASSERT_EQ(r.response.status, 200) << r.response;
  EXPECT_EQ(sorted(r.jwt->actions("repository", "post/app")),
            (std::vector<std::string>{"pull", "push"}))
      << r.jwt->payloadJson;
}

TEST_F(TokenEndpointTest, PostGrantErrors) {
  const std::string scope = repoScope("post/app", "pull");
  EXPECT_TRUE(IsOAuthError(
      postToken({{"grant_type", "client_credentials"}, {"service", hostPort()}, {"scope", scope}}),
      {400}, "unsupported_grant_type"));
  // No grant_type at all: RFC 6749 says invalid_request; unsupported_grant_type is accepted too.
  TokenReply noGrant = postToken({{"service", hostPort()}, {"scope", scope}});
  EXPECT_TRUE(IsOAuthError(noGrant, {400}, "invalid_request") ||
              IsOAuthError(noGrant, {400}, "unsupported_grant_type"))
      << noGrant.response;
  EXPECT_TRUE(IsOAuthError(postToken({{"grant_type", "password"},
                                      {"password", registryPassword()},
                                      {"service", hostPort()},
                                      {"scope", scope}}),
                           {400}, "invalid_request"));
  EXPECT_TRUE(IsOAuthError(
      postToken({{"grant_type", "refresh_token"}, {"service", hostPort()}, {"scope", scope}}),
      {400}, "invalid_request"));
  Identity t = createToken("post-errors", {"--scope-map", "_repositories_pull"});
  EXPECT_TRUE(IsOAuthError(postToken(passwordGrant({t.user, "wrong"}, scope)), {400, 401},
                           "invalid_grant"));
  EXPECT_TRUE(IsOAuthError(postToken({{"grant_type", "refresh_token"},
                                      {"refresh_token", "not-a-refresh-token-" + randomHex(16)},
                                      {"service", hostPort()},
                                      {"scope", scope}}),
                           {400, 401}, "invalid_grant"));
  // An access token is not a refresh token.
  TokenReply access = mustGetToken(t.basic(), {scope});
  EXPECT_TRUE(IsOAuthError(postToken({{"grant_type", "refresh_token"},
                                      {"refresh_token", access.token},
                                      {"service", hostPort()},
                                      {"scope", scope}}),
                           {400, 401}, "invalid_grant"));
}

// ---------------------------------------------------------------------------
// JWKS and keys
// ---------------------------------------------------------------------------
// Finds the JWK of `kid`; nullptr when absent.
const json::Value* findKey(const json::Value& set, const std::string& kid) {
  const json::Value* keys = set.find("keys");
  if (keys == nullptr || !keys->isArray()) return nullptr;
  for (const auto& k : keys->asArray())
    if (k.getString("kid") == kid) return &k;
  return nullptr;
}

TEST_F(TokenEndpointTest, JwksShapeAndTokenKid) {
  TokenReply t = mustGetToken(adminIdentity().basic(), {repoScope("jwks/app", "pull")});
  json::Value set = jwks();
  const json::Value* keys = set.find("keys");
  ASSERT_TRUE(keys && keys->isArray() && !keys->asArray().empty()) << toJson(set);
  std::set<std::string> kids;
  for (const auto& k : keys->asArray()) {
    SCOPED_TRACE(toJson(k));
    EXPECT_EQ(k.getString("kty"), "EC");
    EXPECT_EQ(k.getString("crv"), "P-256");
    EXPECT_EQ(k.getString("alg"), "ES256");
    EXPECT_EQ(k.getString("use"), "sig");
    EXPECT_TRUE(kids.insert(k.getString("kid").value_or("")).second) << "duplicate or no kid";
    EXPECT_TRUE(publicKeyFromJwk(k)) << "x/y are not a P-256 point (32-byte base64url each)";
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "k"})
      EXPECT_FALSE(k.has(secret)) << "the JWKS publishes private member '" << secret << "'";
  }
  const json::Value* jwk = findKey(set, t.jwt->kid());
  ASSERT_NE(jwk, nullptr) << "kid " << t.jwt->kid() << " not in " << toJson(set);
  EXPECT_TRUE(verifyEs256(publicKeyFromJwk(*jwk).get(), t.jwt->signingInput(), t.jwt->signature))
      << "the token's signature does not verify with its JWK";
  // The database's key for that kid is the same key.
  Pkey priv = privateKeyFromPem(signingKeyPem(dataDir(), t.jwt->kid()));
  ASSERT_TRUE(priv) << "no PEM private key for kid " << t.jwt->kid() << " in berth.db";
  EXPECT_EQ(publicKeyPem(priv.get()), publicKeyPem(publicKeyFromJwk(*jwk).get()));
}

TEST_F(TokenEndpointTest, KeyRotationWhileServing) {
  pushRandomImage("rot/app", "v1");
  const std::vector<std::string> ask = {repoScope("rot/app", "pull")};
  TokenReply before = mustGetToken(adminIdentity().basic(), ask);
  const std::string oldKid = before.jwt->kid();

  json::Value out = admin({"key", "rotate"});
  const std::string newKid = out.getString("kid").value_or("");
  ASSERT_FALSE(newKid.empty()) << toJson(out);
  EXPECT_NE(newKid, oldKid);

  // The old token keeps working until it expires.
  EXPECT_EQ(http()
                .get("/v2/rot/app/manifests/v1",
                     {{"Authorization", before.bearer()}, manifestAccept().front()})
                .status,
            200);
  // New tokens carry the new kid.
  TokenReply after = mustGetToken(adminIdentity().basic(), ask);
  EXPECT_EQ(after.jwt->kid(), newKid) << after.jwt->headerJson;
  EXPECT_EQ(http()
                .get("/v2/rot/app/manifests/v1",
                     {{"Authorization", after.bearer()}, manifestAccept().front()})
                .status,
            200);
  // Both keys are published and verify their tokens.
  json::Value set = jwks();
  const json::Value* oldJwk = findKey(set, oldKid);
  const json::Value* newJwk = findKey(set, newKid);
  ASSERT_TRUE(oldJwk && newJwk) << toJson(set);
  EXPECT_TRUE(verifyEs256(publicKeyFromJwk(*oldJwk).get(), before.jwt->signingInput(),
                          before.jwt->signature));
  EXPECT_TRUE(verifyEs256(publicKeyFromJwk(*newJwk).get(), after.jwt->signingInput(),
                          after.jwt->signature));
  EXPECT_FALSE(verifyEs256(publicKeyFromJwk(*oldJwk).get(), after.jwt->signingInput(),
                           after.jwt->signature));
  auto kids = signingKids(dataDir());
  EXPECT_NE(std::find(kids.begin(), kids.end(), oldKid), kids.end());
  EXPECT_NE(std::find(kids.begin(), kids.end(), newKid), kids.end());
}

// --token-lifetime SECONDS: expires_in and exp - iat.
class ShortLifetimeTest : public TokenEndpointTest {
 protected:
  std::vector<std::string> serveArgs() const override { return {"--token-lifetime", "120"}; }
};

TEST_F(ShortLifetimeTest, TokenLifetimeFlag) {
  TokenReply t = mustGetToken(adminIdentity().basic(), {repoScope("life/app", "pull")});
  const json::Value* expires = t.body->find("expires_in");
  ASSERT_TRUE(expires && expires->isNumber()) << t.response;
  EXPECT_EQ(expires->asNumber(), 120) << t.response;
  EXPECT_EQ(*t.jwt->claimInt("exp") - *t.jwt->claimInt("iat"), 120) << t.jwt->payloadJson;
}

// ---------------------------------------------------------------------------
// Identities changed while the server runs ("a change takes effect on the next request")
// ---------------------------------------------------------------------------
TEST_F(TokenEndpointTest, AdminDisableTakesEffectOnNextRequest) {
  const Identity a = adminIdentity();
  EXPECT_EQ(v2Status(a.basic()), 200);
  setAdminEnabled(false);
  EXPECT_TRUE(IsChallenge(http().get("/v2/", {{"Authorization", a.basic()}}), realm(), hostPort(),
                          "", false));
  EXPECT_REGISTRY_ERROR(getToken(a.basic(), {repoScope("dis/app", "pull")}).response, 401,
                        "UNAUTHORIZED");
  EXPECT_TRUE(IsOAuthError(postToken(passwordGrant(a, repoScope("dis/app", "pull"))), {400, 401},
                           "invalid_grant"));
  setAdminEnabled(true);
  EXPECT_EQ(v2Status(a.basic()), 200);
  EXPECT_EQ(getToken(a.basic(), {repoScope("dis/app", "pull")}).response.status, 200);
}

// Chosen (contract silent on JWTs already issued): disabling an identity also stops the access
// tokens and refresh tokens it was given, on the next request.
TEST_F(TokenEndpointTest, DisabledAdminsIssuedTokensStopWorking) {
  pushRandomImage("dis/app", "v1");
  TokenReply t =
      mustGetToken(adminIdentity().basic(), {repoScope("dis/app", "pull")}, "offline_token=true");
  const std::string refresh = refreshTokenOf(t);
  EXPECT_EQ(http().get("/v2/dis/app/tags/list", {{"Authorization", t.bearer()}}).status, 200);
  setAdminEnabled(false);
  Response r = http().get("/v2/dis/app/tags/list", {{"Authorization", t.bearer()}});
  setAdminEnabled(true);
  EXPECT_TRUE(IsChallenge(r, realm(), hostPort(), "repository:dis/app:pull", false))
      << "a JWT of the disabled admin still worked";
  if (!refresh.empty()) {
    setAdminEnabled(false);
    TokenReply again = postToken({{"grant_type", "refresh_token"},
                                  {"refresh_token", refresh},
                                  {"service", hostPort()},
                                  {"scope", repoScope("dis/app", "pull")}});
    setAdminEnabled(true);
    EXPECT_TRUE(IsOAuthError(again, {400, 401}, "invalid_grant"));
  }
}

TEST_F(TokenEndpointTest, TokenDisableAndEnable) {
  pushRandomImage("tde/app", "v1");
  Identity t = createToken("toggled", {"--scope-map", "_repositories_pull"});
  const std::vector<std::string> ask = {repoScope("tde/app", "pull")};
  EXPECT_EQ(v2Status(t.basic()), 200);
  TokenReply jwt = mustGetToken(t.basic(), ask, "offline_token=true");
  const std::string refresh = refreshTokenOf(jwt);
  ASSERT_FALSE(refresh.empty()) << jwt.response;

  json::Value out = admin({"token", "update", "--name", t.user, "--status", "disabled"});
  if (out.getString("status")) {
    EXPECT_EQ(out.getString("status"), "disabled") << toJson(out);
  }
  EXPECT_TRUE(IsChallenge(http().get("/v2/", {{"Authorization", t.basic()}}), realm(), hostPort(),
                          "", false));
  EXPECT_REGISTRY_ERROR(getToken(t.basic(), ask).response, 401, "UNAUTHORIZED");
  EXPECT_TRUE(IsOAuthError(postToken({{"grant_type", "refresh_token"},
                                      {"refresh_token", refresh},
                                      {"service", hostPort()},
                                      {"scope", ask.front()}}),
                           {400, 401}, "invalid_grant"))
      << "a disabled token's refresh token still works";
  // Chosen: its access tokens stop too (see DisabledAdminsIssuedTokensStopWorking).
  EXPECT_EQ(http().get("/v2/tde/app/tags/list", {{"Authorization", jwt.bearer()}}).status, 401)
      << "a disabled token's JWT still works";

  admin({"token", "update", "--name", t.user, "--status", "enabled"});
  EXPECT_EQ(v2Status(t.basic()), 200);
  EXPECT_EQ(getToken(t.basic(), ask).response.status, 200);
}

TEST_F(TokenEndpointTest, ExpiredTokenSecretIsRefused) {
  json::Value out = admin({"token", "create", "--name", "expired-secret", "--scope-map",
                           "_repositories_pull", "--expiration", "2001-01-01T00:00:00Z"});
  const json::Value* pw =
      out.find("credentials") ? out.find("credentials")->find("passwords") : nullptr;
  ASSERT_TRUE(pw && pw->isArray() && !pw->asArray().empty()) << toJson(out);
  for (const auto& p : pw->asArray()) {
    SCOPED_TRACE(toJson(p));
    auto expiry = parseRfc3339(p.getString("expiry").value_or(""));
    ASSERT_TRUE(expiry) << "expiry is not the RFC 3339 time given";
    EXPECT_LT(*expiry, nowSeconds());
    auto value = p.getString("value");
    if (!value) continue;
    EXPECT_EQ(v2Status(basicAuthorization("expired-secret", *value)), 401);
    EXPECT_REGISTRY_ERROR(
        getToken(basicAuthorization("expired-secret", *value), {repoScope("x/y", "pull")}).response,
        401, "UNAUTHORIZED");
  }
  // A future expiry works.
  Identity fresh = createToken(
      "fresh", {"--scope-map", "_repositories_pull", "--expiration", "2099-01-01T00:00:00Z"});
  EXPECT_EQ(v2Status(fresh.basic()), 200);
}

TEST_F(TokenEndpointTest, RenewPassword2LeavesPasswordWorking) {
  const Identity a = adminIdentity();
  json::Value out = admin({"credential", "renew", "--password-name", "password2"});
  EXPECT_EQ(out.getString("username"), registryUser()) << toJson(out);
  std::string p1 = "<absent>", p2;
  const json::Value* pw = out.find("passwords");
  ASSERT_TRUE(pw && pw->isArray()) << toJson(out);
  for (const auto& p : pw->asArray()) {
    const json::Value* v = p.find("value");
    ASSERT_NE(v, nullptr) << toJson(out);
    if (p.getString("name") == "password") p1 = v->isNull() ? "null" : "not null";
    if (p.getString("name") == "password2") p2 = v->isString() ? v->asString() : "";
  }
  EXPECT_EQ(p1, "null") << "only the renewed password has a value\n" << toJson(out);
  ASSERT_FALSE(p2.empty()) << toJson(out);
  EXPECT_NE(p2, a.password);

  EXPECT_EQ(v2Status(a.basic()), 200) << "renewing password2 broke password";
  EXPECT_EQ(v2Status(basicAuthorization(a.user, p2)), 200);
  EXPECT_EQ(getToken(basicAuthorization(a.user, p2), {}).response.status, 200);

  // Renewing again replaces password2 only.
  json::Value again = admin({"credential", "renew", "--password-name", "password2"});
  std::string p2b;
  for (const auto& p : again.find("passwords")->asArray())
    if (p.getString("name") == "password2") p2b = p.getString("value").value_or("");
  ASSERT_FALSE(p2b.empty()) << toJson(again);
  EXPECT_EQ(v2Status(basicAuthorization(a.user, p2)), 401) << "the replaced password2 still works";
  EXPECT_EQ(v2Status(basicAuthorization(a.user, p2b)), 200);
  EXPECT_EQ(v2Status(a.basic()), 200);

  // `credential show` never shows values.
  json::Value show = admin({"credential", "show"});
  for (const auto& p : show.find("passwords")->asArray()) {
    ASSERT_TRUE(p.find("value")) << toJson(show);
    EXPECT_TRUE(p.find("value")->isNull()) << toJson(show);
  }

  // Renewing works while the admin is disabled; the new password works once enabled.
  setAdminEnabled(false);
  json::Value whileOff = admin({"credential", "renew", "--password-name", "password2"});
  std::string p2c;
  for (const auto& p : whileOff.find("passwords")->asArray())
    if (p.getString("name") == "password2") p2c = p.getString("value").value_or("");
  ASSERT_FALSE(p2c.empty()) << toJson(whileOff);
  EXPECT_EQ(v2Status(basicAuthorization(a.user, p2c)), 401);
  setAdminEnabled(true);
  EXPECT_EQ(v2Status(basicAuthorization(a.user, p2c)), 200);
}

// ---------------------------------------------------------------------------
// `berth admin` output and errors
// ---------------------------------------------------------------------------
TEST_F(TokenEndpointTest, AdminCommandOutputs) {
  json::Value up = admin({"update", "--anonymous-pull-enabled", "false"});
  EXPECT_EQ(up.getString("name"), "default") << toJson(up);
  EXPECT_TRUE(up.find("adminUserEnabled") && up.find("adminUserEnabled")->isBool()) << toJson(up);
  EXPECT_TRUE(up.find("anonymousPullEnabled") && !up.find("anonymousPullEnabled")->asBool())
      << toJson(up);

  json::Value map = admin({"scope-map", "create", "--name", "readers", "--repository", "out/app",
                           "content/read", "metadata/read", "--repository", "out/other/*",
                           "content/write", "--description", "test map"});
  EXPECT_EQ(map.getString("name"), "readers") << toJson(map);
  EXPECT_EQ(sorted(map.getStringArray("actions").value_or(std::vector<std::string>{})),
            (std::vector<std::string>{"repositories/out/app/content/read",
                                      "repositories/out/app/metadata/read",
                                      "repositories/out/other/*/content/write"}))
      << toJson(map);

  json::Value tok = admin({"token", "create", "--name", "reader", "--scope-map", "readers"});
  EXPECT_EQ(tok.getString("name"), "reader") << toJson(tok);
  EXPECT_EQ(tok.getString("scopeMapName"), "readers") << toJson(tok);
  EXPECT_EQ(tok.getString("status"), "enabled") << toJson(tok);
  const json::Value* creds = tok.find("credentials");
  ASSERT_TRUE(creds && creds->find("passwords")) << toJson(tok);
  EXPECT_EQ(creds->getString("username"), "reader") << toJson(tok);
  std::vector<std::string> names, values;
  for (const auto& p : creds->find("passwords")->asArray()) {
    names.push_back(p.getString("name").value_or(""));
    values.push_back(p.getString("value").value_or(""));
    EXPECT_TRUE(p.find("expiry") && p.find("expiry")->isNull()) << toJson(tok);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"password1", "password2"})) << toJson(tok);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_FALSE(values[0].empty());
  EXPECT_FALSE(values[1].empty());
  EXPECT_NE(values[0], values[1]);
  // Both passwords work; the map's rights apply.
  for (const auto& v : values) {
    TokenReply t =
        mustGetToken(basicAuthorization("reader", v),
                     {repoScope("out/app", "pull,push"), repoScope("out/other/x", "pull,push")});
    EXPECT_EQ(t.jwt->actions("repository", "out/app"), std::vector<std::string>{"pull"})
        << t.jwt->payloadJson;
    EXPECT_EQ(t.jwt->actions("repository", "out/other/x"), std::vector<std::string>{"push"})
        << t.jwt->payloadJson;
  }

  json::Value inline_ =
      admin({"token", "create", "--name", "inline", "--repository", "in/app", "content/read"});
  EXPECT_EQ(inline_.getString("scopeMapName"), "inline-scope-map") << toJson(inline_);
}

// "errors: one line on stderr, exit != 0" (checked for errors past argument parsing; for bad
// flag values only exit != 0 and a message).
TEST_F(TokenEndpointTest, AdminCommandErrors) {
  const std::vector<std::pair<std::vector<std::string>, bool>> bad = {
      {{"update", "--admin-enabled", "maybe"}, false},
      {{"credential", "renew", "--password-name", "password3"}, false},
      {{"token", "create", "--name", "orphan", "--scope-map", "no-such-map"}, true},
      {{"token", "update", "--name", "no-such-token", "--status", "disabled"}, true},
      {{"scope-map", "create", "--name", "badaction", "--repository", "x/y", "content/fly"}, true},
  };
  for (const auto& [args, oneLine] : bad) {
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    SCOPED_TRACE(cmd);
    CommandResult r = adminRaw(args);
    EXPECT_NE(r.status, 0) << r.describe();
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_FALSE(err.empty()) << r.describe();
    if (oneLine) {
      EXPECT_EQ(err.find('\n'), std::string::npos) << "errors are one line on stderr\n"
                                                   << r.describe();
    }
  }
  // The failed token create left no token behind.
  EXPECT_EQ(v2Status(basicAuthorization("orphan", "x")), 401);
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------
std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// "Secrets are stored only as argon2id hashes"; CONTRIBUTING: "Nothing logs a secret".
TEST_F(TokenEndpointTest, SecretsAreNeitherStoredNorLogged) {
  Identity t = createToken("secretive", {"--scope-map", "_repositories_push"});
  TokenReply jwt =
      mustGetToken(t.basic(), {repoScope("sec/app", "pull,push")}, "offline_token=true");
  const std::string refresh = refreshTokenOf(jwt);
  postToken(passwordGrant(adminIdentity(), repoScope("sec/app", "pull")));
  http().get("/v2/sec/app/tags/list", {{"Authorization", jwt.bearer()}});
  http().get("/v2/", {{"Authorization", basicAuthorization(t.user, "wrong-secret-XYZ123")}});

  std::string stored;
  for (const auto& e : fs::recursive_directory_iterator(dataDir()))
    if (e.is_regular_file() && e.path().filename().string().rfind("berth.db", 0) == 0)
      stored += readAll(e.path());
  ASSERT_FALSE(stored.empty()) << "no berth.db* in " << dataDir();
  EXPECT_EQ(stored.find(registryPassword()), std::string::npos) << "admin password stored in clear";
  EXPECT_EQ(stored.find(t.password), std::string::npos) << "token password stored in clear";
  EXPECT_NE(stored.find("$argon2id$"), std::string::npos) << "no argon2id hash in berth.db*";

  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // log lines after responses
  const std::string log = serverLog();
  ASSERT_FALSE(log.empty());
  for (const auto& [what, secret] :
       std::vector<std::pair<std::string, std::string>>{{"admin password", registryPassword()},
                                                        {"token password", t.password},
                                                        {"wrong password", "wrong-secret-XYZ123"},
                                                        {"access token", jwt.token},
                                                        {"refresh token", refresh}}) {
    if (secret.empty()) continue;
    EXPECT_EQ(log.find(secret), std::string::npos) << "the server log contains the " << what;
    EXPECT_EQ(log.find(base64(t.user + ":" + secret)), std::string::npos)
        << "the server log contains a Basic header";
  }
}

}  // namespace
}  // namespace berth_test::auth
