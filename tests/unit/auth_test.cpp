#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/authenticator.hpp"
#include "auth/base64url.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/roles.hpp"
#include "auth/scope.hpp"
#include "auth/token_endpoint.hpp"

namespace berth::auth {
namespace {

TEST(Base64url, RoundTripsWithoutPadding) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "\xff\xfe\xfd"}) {
    const auto encoded = base64urlEncode(s);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    EXPECT_EQ(base64urlDecode(encoded), s);
  }
  EXPECT_EQ(base64urlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64urlDecode("a+b/"));
  EXPECT_FALSE(base64urlDecode("abc="));
  EXPECT_FALSE(base64urlDecode("a"));
  EXPECT_EQ(base64Decode("dXNlcjpwYXNz"), "user:pass");
  EXPECT_FALSE(base64Decode("abc"));
}

class JwtTest : public ::testing::Test {
 protected:
  SigningKey key = SigningKey::generate();
  KeyLookup keys = [this](std::string_view kid) -> std::shared_ptr<const SigningKey> {
    if (kid == key.kid()) return std::make_shared<SigningKey>(key);
    return nullptr;
  };
  Claims claims() {
    Claims c;
    c.iss = "berth";
    c.sub = "ci";
    c.aud = "reg.example:5000";
    c.iat = 1000;
    c.nbf = 1000;
    c.exp = 1300;
    c.jti = "j1";
    c.access = {{"repository", "team/app", {"pull", "push"}}};
    return c;
  }
  std::variant<Claims, JwtError> decode(const std::string& token, int64_t now = 1100) {
    return decodeJwt(token, keys, "berth", "reg.example:5000", now);
  }
  static std::string part(const std::string& token, int i) {
    size_t start = 0;
    for (int k = 0; k < i; ++k) start = token.find('.', start) + 1;
    return token.substr(start, token.find('.', start) - start);
  }
};

TEST_F(JwtTest, RoundTripsClaims) {
  auto decoded = decode(encodeJwt(claims(), key));
  ASSERT_TRUE(std::holds_alternative<Claims>(decoded));
  const auto& c = std::get<Claims>(decoded);
  EXPECT_EQ(c.sub, "ci");
  EXPECT_EQ(c.exp, 1300);
  ASSERT_EQ(c.access.size(), 1u);
  EXPECT_EQ(c.access[0], (ResourceAccess{"repository", "team/app", {"pull", "push"}}));
}

TEST_F(JwtTest, CarriesTheIssuingRegistry) {
  auto c = claims();
  EXPECT_EQ(std::get<Claims>(decode(encodeJwt(c, key))).registry, 0);  // absent: none
  c.registry = 42;
  EXPECT_EQ(std::get<Claims>(decode(encodeJwt(c, key))).registry, 42);
}

TEST_F(JwtTest, HeaderNamesAlgorithmAndKey) {
  auto header = boost::json::parse(*base64urlDecode(part(encodeJwt(claims(), key), 0)));
  EXPECT_EQ(header.at("alg").as_string(), "ES256");
  EXPECT_EQ(header.at("kid").as_string(), key.kid());
  EXPECT_EQ(key.kid().size(), 43u);  // base64url of a SHA-256 thumbprint
}

TEST_F(JwtTest, RefusesTimeAudienceIssuerAndUse) {
  const auto token = encodeJwt(claims(), key);
  EXPECT_EQ(std::get<JwtError>(decode(token, 1300 + 31)), JwtError::Expired);
  EXPECT_TRUE(std::holds_alternative<Claims>(decode(token, 1300 + 30)));  // leeway
  EXPECT_EQ(std::get<JwtError>(decode(token, 1000 - 31)), JwtError::NotYetValid);
  EXPECT_EQ(std::get<JwtError>(decodeJwt(token, keys, "berth", "other", 1100)), JwtError::Audience);
  EXPECT_EQ(std::get<JwtError>(decodeJwt(token, keys, "someone", "reg.example:5000", 1100)),
            JwtError::Issuer);
  EXPECT_EQ(
      std::get<JwtError>(decodeJwt(token, keys, "berth", "reg.example:5000", 1100, "refresh")),
      JwtError::Use);
}

TEST_F(JwtTest, RefusesTamperingOtherKeysAndOtherAlgorithms) {
  const auto token = encodeJwt(claims(), key);
  // A payload granting more, with the original signature.
  auto c = claims();
  c.access[0].actions.push_back("delete");
  const auto forged = encodeJwt(c, key);
  const auto tampered = part(token, 0) + "." + part(forged, 1) + "." + part(token, 2);
  EXPECT_EQ(std::get<JwtError>(decode(tampered)), JwtError::Signature);

  const auto stranger = SigningKey::generate();
  EXPECT_EQ(std::get<JwtError>(decode(encodeJwt(claims(), stranger))), JwtError::UnknownKey);

  // The stranger's signature under our kid.
  auto strangerToken = encodeJwt(claims(), stranger);
  const auto ourHeader = part(token, 0);
  const auto mixed = ourHeader + "." + part(strangerToken, 1) + "." + part(strangerToken, 2);
  EXPECT_EQ(std::get<JwtError>(decode(mixed)), JwtError::Signature);

  for (const char* alg : {"none", "HS256", "RS256", "ES384"}) {
    const std::string header = base64urlEncode(std::string(R"({"alg":")") + alg +
                                               R"(","typ":"JWT","kid":")" + key.kid() + "\"}");
    const auto body = part(token, 1);
    EXPECT_EQ(std::get<JwtError>(decode(header + "." + body + ".")), JwtError::Algorithm) << alg;
    EXPECT_EQ(std::get<JwtError>(decode(header + "." + body + "." + part(token, 2))),
              JwtError::Algorithm)
        << alg;
  }
  for (const std::string bad : {"", "a", "a.b", "a.b.c.d", "!!.!!.!!"}) {
    EXPECT_EQ(std::get<JwtError>(decode(bad)), JwtError::Malformed) << bad;
  }
}

TEST_F(JwtTest, PemRoundTripKeepsTheKey) {
  auto again = SigningKey::fromPem(key.privatePem());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kid(), key.kid());
  EXPECT_TRUE(again->verify("data", key.sign("data")));
  EXPECT_FALSE(SigningKey::fromPem("not a key"));
}

TEST(Password, HashesVerifyAndSecretsDiffer) {
  const auto a = generateSecret();
  const auto b = generateSecret();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 43u);
  const auto hash = hashSecret(a);
  EXPECT_TRUE(hash.starts_with("$argon2id$"));
  EXPECT_EQ(hash.find(a), std::string::npos);
  EXPECT_TRUE(verifySecret(hash, a));
  EXPECT_FALSE(verifySecret(hash, b));
  EXPECT_FALSE(verifySecret("garbage", a));
}

TEST(Scope, ParsesDockerScopes) {
  auto s = parseScope("repository:team/app:pull,push");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, "repository");
  EXPECT_EQ(s->name, "team/app");
  EXPECT_EQ(s->actions, (std::vector<std::string>{"pull", "push"}));
  auto plugin = parseScope("repository(plugin):x:pull");
  ASSERT_TRUE(plugin);
  EXPECT_EQ(plugin->type, "repository");
  auto catalog = parseScope("registry:catalog:*");
  ASSERT_TRUE(catalog);
  EXPECT_EQ(catalog->actions, (std::vector<std::string>{"*"}));
  EXPECT_FALSE(parseScope("repository"));
  EXPECT_FALSE(parseScope("repository:x"));
  EXPECT_FALSE(parseScope(":x:pull"));
  EXPECT_EQ(parseScopes("repository:a:pull repository:b:push").size(), 2u);
}

TEST(Scope, PatternsMatch) {
  EXPECT_TRUE(patternMatches("*", "anything/at/all"));
  EXPECT_TRUE(patternMatches("team/app", "team/app"));
  EXPECT_FALSE(patternMatches("team/app", "team/app/web"));
  EXPECT_FALSE(patternMatches("team/app", "team/application"));
  EXPECT_TRUE(patternMatches("team/*", "team/app"));
  EXPECT_TRUE(patternMatches("team/*", "team/app/web"));
  EXPECT_FALSE(patternMatches("team/*", "team"));
  EXPECT_FALSE(patternMatches("team/*", "team/"));
  EXPECT_FALSE(patternMatches("team/*", "teamx/app"));
  EXPECT_TRUE(isValidPattern("team/*"));
  EXPECT_TRUE(isValidPattern("*"));
  EXPECT_FALSE(isValidPattern("team*"));
  EXPECT_FALSE(isValidPattern("Team/app"));
  EXPECT_FALSE(isValidPattern("*/app"));
}

TEST(Scope, PermissionsAreTheUnionOfMatchingRules) {
  Permissions p({{"team/*", kContentRead}, {"team/app", kContentWrite}});
  EXPECT_EQ(p.actionsOn("team/app"), kContentRead | kContentWrite);
  EXPECT_EQ(p.actionsOn("team/other"), kContentRead);
  EXPECT_EQ(p.actionsOn("elsewhere"), 0);
  EXPECT_EQ(parseScopeAction("content/delete"), kContentDelete);
  EXPECT_FALSE(parseScopeAction("content/everything"));
}

TEST(Scope, GrantsOnlyWhatIsAskedAndAllowed) {
  EXPECT_EQ(grantedDockerActions(kContentRead, {"pull", "push"}),
            (std::vector<std::string>{"pull"}));
  EXPECT_EQ(grantedDockerActions(kAllActions, {"pull"}), (std::vector<std::string>{"pull"}));
  EXPECT_TRUE(grantedDockerActions(0, {"pull", "push", "delete"}).empty());
  EXPECT_EQ(grantedDockerActions(kContentRead | kContentWrite | kContentDelete, {"*"}),
            (std::vector<std::string>{"pull", "push", "delete"}));
}

TEST(Grant, IntersectsScopesWithPermissions) {
  Identity pullOnly;
  pullOnly.kind = Identity::Kind::Token;
  pullOnly.permissions = Permissions({{"team/*", kContentRead}});
  pullOnly.catalog = true;
  auto granted = grantAccess(pullOnly, false,
                             {"repository:team/app:pull,push", "repository:other:pull",
                              "repository:Bad Name:pull registry:catalog:*"});
  ASSERT_EQ(granted.size(), 3u);
  EXPECT_EQ(granted[0], (ResourceAccess{"repository", "team/app", {"pull"}}));
  EXPECT_EQ(granted[1], (ResourceAccess{"repository", "other", {}}));
  EXPECT_EQ(granted[2], (ResourceAccess{"registry", "catalog", {"*"}}));

  Identity anonymous;
  EXPECT_EQ(grantAccess(anonymous, true, {"repository:x:pull,push"})[0].actions,
            (std::vector<std::string>{"pull"}));
  EXPECT_TRUE(grantAccess(anonymous, false, {"repository:x:pull"})[0].actions.empty());
  EXPECT_TRUE(grantAccess(anonymous, true, {"registry:catalog:*"})[0].actions.empty());
}

TEST(Builtins, ScopeMapsHaveTheirActions) {
  EXPECT_EQ((*builtinScopeMap("_repositories_pull"))[0].actions, kContentRead);
  EXPECT_EQ((*builtinScopeMap("_repositories_push"))[0].actions, kContentRead | kContentWrite);
  EXPECT_EQ((*builtinScopeMap("_repositories_admin"))[0].actions, kAllActions);
  EXPECT_FALSE(builtinScopeMap("mine"));
  EXPECT_EQ(actionBitsOf({"pull", "delete"}), kContentRead | kContentDelete);
}

TEST(LoginThrottle, BlocksAfterTheLimitUntilTheWindowPasses) {
  LoginThrottle throttle(3, std::chrono::seconds(60));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(throttle.blockedFor("k", 100), 0);
    throttle.failed("k", 100);
  }
  EXPECT_EQ(throttle.blockedFor("k", 110), 50);
  EXPECT_EQ(throttle.blockedFor("other", 110), 0);
  EXPECT_EQ(throttle.blockedFor("k", 160), 0);
  throttle.failed("k", 161);
  throttle.succeeded("k");
  EXPECT_EQ(throttle.blockedFor("k", 161), 0);
}

}  // namespace
}  // namespace berth::auth

namespace berth::auth {
namespace {

TEST(RolesTest, NamesRoundTripAndUnknownOnesAreRefused) {
  for (const Role role : allRoles()) EXPECT_EQ(parseRole(roleName(role)), role);
  EXPECT_EQ(allRoles().size(), 6u);
  EXPECT_FALSE(parseRole("acrpull"));
  EXPECT_FALSE(parseRole("Admin"));
  EXPECT_FALSE(parseRole(""));
}

TEST(RolesTest, EachRoleGrantsWhatAcrsDoes) {
  EXPECT_EQ(dataActions(Role::AcrPull), kContentRead | kMetadataRead);
  EXPECT_EQ(dataActions(Role::AcrPush), kContentRead | kContentWrite | kMetadataRead);
  EXPECT_EQ(dataActions(Role::AcrDelete), kContentDelete | kMetadataRead);
  EXPECT_EQ(dataActions(Role::Reader), kContentRead | kMetadataRead);
  EXPECT_EQ(dataActions(Role::Contributor), kAllActions);
  EXPECT_EQ(dataActions(Role::Owner), kAllActions);
  const auto has = [](Role role, ControlRight right) {
    return (controlRights(role) & static_cast<uint8_t>(right)) != 0;
  };
  for (const Role role : allRoles()) EXPECT_TRUE(has(role, ControlRight::SeeRepositories));
  EXPECT_FALSE(has(Role::AcrPush, ControlRight::SeeRegistry));
  EXPECT_TRUE(has(Role::Reader, ControlRight::SeeRegistry));
  EXPECT_FALSE(has(Role::Reader, ControlRight::Change));
  EXPECT_TRUE(has(Role::Contributor, ControlRight::Change));
  EXPECT_FALSE(has(Role::Contributor, ControlRight::Assign));
  EXPECT_TRUE(has(Role::Owner, ControlRight::Assign));
}

TEST(RolesTest, ScopesParseAndPrint) {
  auto deployment = parseRoleScope("/");
  ASSERT_TRUE(deployment);
  EXPECT_TRUE(deployment->registry.empty());
  EXPECT_EQ(deployment->text(), "/");
  auto registry = parseRoleScope("/registries/myregistry");
  ASSERT_TRUE(registry);
  EXPECT_EQ(registry->registry, "myregistry");
  EXPECT_TRUE(registry->repository.empty());
  EXPECT_EQ(registry->text(), "/registries/myregistry");
  auto repository = parseRoleScope("/registries/myregistry/repositories/team/*");
  ASSERT_TRUE(repository);
  EXPECT_EQ(repository->repository, "team/*");
  EXPECT_EQ(repository->text(), "/registries/myregistry/repositories/team/*");
  EXPECT_EQ(parseRoleScope("/registries/myregistry/repositories/team/app/web")->repository,
            "team/app/web");
  for (const char* bad :
       {"", "registries/myregistry", "/registries/", "/registries/My", "/registries/ab",
        "/registries/myregistry/", "/registries/myregistry/x",
        "/registries/myregistry/repositories/", "/registries/myregistry/repositories/Team",
        "/registries/myregistry/repositories/team/**", "//"}) {
    EXPECT_FALSE(parseRoleScope(bad)) << bad;
  }
}

}  // namespace
}  // namespace berth::auth
