// The IdentityStore contract, typed over every driver.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "conformance/factories.hpp"
#include "core/random.hpp"

namespace berth::meta {
namespace {

using testing::PostgresFactory;
using testing::SqliteFactory;

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::string kBlob = "sha256:" + std::string(64, 'b');
const std::string kManifest = "sha256:" + std::string(64, 'm');

template <class Factory>
class IdentityStoreConformance : public ::testing::Test {
 protected:
  Factory factory;
  RegistryId registry = *factory.meta()->ensureRegistry("default");
  IdentityStorePtr store = factory.identities();

  RegistrySettings premium(std::string name) {
    RegistrySettings s;
    s.name = std::move(name);
    s.sku = "Premium";
    s.quotaBytes = 5 * kGiB;
    s.storagePath = "/srv/berth/" + s.name;
    s.adminEnabled = true;
    s.anonymousPull = true;
    return s;
  }
  // A registry with a row in every table: content through the MetadataStore, identities here.
  RegistryId populated(const std::string& name) {
    const RegistryId id = *this->store->createRegistry(premium(name));
    auto content = this->factory.meta();
    const RepositoryId repo = *content->ensureRepository(id, "team/app");
    EXPECT_TRUE(content->linkBlob(id, repo, kBlob, 42));
    ManifestRecord m;
    m.digest = kManifest;
    m.mediaType = "application/vnd.oci.image.manifest.v1+json";
    m.payload = "{}";
    m.size = m.payload.size();
    EXPECT_TRUE(content->putManifest(id, repo, m, {{kBlob, false}}, "v1"));
    EXPECT_TRUE(content->createUpload({"upload-" + name, id, "team/app", now()}));
    EXPECT_TRUE(this->store->setAdminSecret(id, "password", "admin-hash"));
    EXPECT_TRUE(this->store->createScopeMap(id, {"readers", "", {{"team/*", 1}}}));
    EXPECT_TRUE(this->store->createToken(id, {"bot", "readers", true, {{"password1", "h"}}}));
    EXPECT_TRUE(this->store->createSession({"session-" + name, SessionRecord::Kind::Token, id,
                                            "bot", "password1", 0, now(), now() + 600},
                                           100, 10));
    PrincipalRecord user;
    user.id = "user-" + name;
    EXPECT_TRUE(this->store->createPrincipal(user));
    EXPECT_TRUE(this->store->createRoleAssignment(
        {"assignment-" + name, user.id, "AcrPull", id, "team/*", 0}));
    return id;
  }
};

using Drivers = ::testing::Types<SqliteFactory, PostgresFactory>;
TYPED_TEST_SUITE(IdentityStoreConformance, Drivers);

// ---- Registries ----

TYPED_TEST(IdentityStoreConformance, RegistrySettingsStartClosedAndUpdatePartially) {
  auto s = **this->store->registrySettings(this->registry);
  EXPECT_EQ(s.id, this->registry);
  EXPECT_EQ(s.name, "default");
  EXPECT_FALSE(s.adminEnabled);
  EXPECT_FALSE(s.anonymousPull);
  EXPECT_EQ(s.sku, "Basic");
  EXPECT_EQ(s.quotaBytes, 10 * kGiB);
  EXPECT_EQ(s.storagePath, "");
  EXPECT_GT(s.created, 0);
  ASSERT_TRUE(this->store->updateRegistry(this->registry, {.adminEnabled = true}));
  s = **this->store->registrySettings(this->registry);
  EXPECT_TRUE(s.adminEnabled);
  EXPECT_FALSE(s.anonymousPull);
  ASSERT_TRUE(this->store->updateRegistry(this->registry, {.anonymousPull = true}));
  s = **this->store->registrySettings(this->registry);
  EXPECT_TRUE(s.adminEnabled);
  EXPECT_TRUE(s.anonymousPull);
  EXPECT_FALSE(*this->store->registrySettings(this->registry + 1000));
}

TYPED_TEST(IdentityStoreConformance, CreateRegistryStoresEveryFieldAndRefusesATakenName) {
  const auto before = now();
  auto settings = this->premium("team");
  settings.id = 999;        // ignored
  settings.created = 1234;  // ignored
  auto id = this->store->createRegistry(settings);
  ASSERT_TRUE(id);
  EXPECT_NE(*id, this->registry);
  EXPECT_NE(*id, 999);
  for (auto got : {**this->store->registrySettings(*id), **this->store->registryByName("team")}) {
    EXPECT_EQ(got.id, *id);
    EXPECT_EQ(got.name, "team");
    EXPECT_EQ(got.sku, "Premium");
    EXPECT_EQ(got.quotaBytes, 5 * kGiB);
    EXPECT_EQ(got.storagePath, "/srv/berth/team");
    EXPECT_TRUE(got.adminEnabled);
    EXPECT_TRUE(got.anonymousPull);
    EXPECT_GE(got.created, before);
    EXPECT_LE(got.created, now());
  }
  EXPECT_EQ(this->store->createRegistry(settings).error().code, ApiCode::Conflict);
  EXPECT_EQ(this->store->createRegistry(this->premium("default")).error().code, ApiCode::Conflict);
  // The refused creations changed nothing.
  EXPECT_EQ((*this->store->registryByName("default"))->sku, "Basic");
  EXPECT_EQ(this->store->listRegistries()->size(), 2u);
}

TYPED_TEST(IdentityStoreConformance, RegistryByName) {
  auto got = *this->store->registryByName("default");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, this->registry);
  EXPECT_EQ(got->sku, "Basic");
  EXPECT_FALSE(*this->store->registryByName("nope"));
  EXPECT_FALSE(*this->store->registryByName(""));
  EXPECT_FALSE(*this->store->registryByName("DEFAULT"));
}

TYPED_TEST(IdentityStoreConformance, ListRegistriesByName) {
  const auto zeta = *this->store->createRegistry(this->premium("zeta"));
  const auto alpha = *this->store->createRegistry(this->premium("alpha"));
  auto list = *this->store->listRegistries();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, "alpha");
  EXPECT_EQ(list[0].id, alpha);
  EXPECT_EQ(list[0].sku, "Premium");
  EXPECT_EQ(list[0].storagePath, "/srv/berth/alpha");
  EXPECT_GT(list[0].created, 0);
  EXPECT_EQ(list[1].name, "default");
  EXPECT_EQ(list[1].id, this->registry);
  EXPECT_EQ(list[1].quotaBytes, 10 * kGiB);
  EXPECT_EQ(list[2].name, "zeta");
  EXPECT_EQ(list[2].id, zeta);
}

TYPED_TEST(IdentityStoreConformance, UpdateRegistryChangesOnlyTheGivenFields) {
  const auto id = *this->store->createRegistry(this->premium("team"));
  const auto original = **this->store->registryByName("team");  // now cached
  auto expect = original;

  ASSERT_TRUE(this->store->updateRegistry(id, {}));
  auto got = **this->store->registryByName("team");
  EXPECT_EQ(got.sku, expect.sku);
  EXPECT_EQ(got.quotaBytes, expect.quotaBytes);
  EXPECT_EQ(got.adminEnabled, expect.adminEnabled);
  EXPECT_EQ(got.anonymousPull, expect.anonymousPull);

  auto check = [&](const RegistryChange& change) {
    ASSERT_TRUE(this->store->updateRegistry(id, change));
    for (auto r : {**this->store->registryByName("team"), **this->store->registrySettings(id)}) {
      EXPECT_EQ(r.sku, expect.sku);
      EXPECT_EQ(r.quotaBytes, expect.quotaBytes);
      EXPECT_EQ(r.adminEnabled, expect.adminEnabled);
      EXPECT_EQ(r.anonymousPull, expect.anonymousPull);
      EXPECT_EQ(r.storagePath, original.storagePath);
      EXPECT_EQ(r.created, original.created);
      EXPECT_EQ(r.name, "team");
    }
  };
  expect.sku = "Standard";
  check({.sku = "Standard"});
  expect.quotaBytes = 100 * kGiB;
  check({.quotaBytes = 100 * kGiB});
  expect.adminEnabled = false;
  check({.adminEnabled = false});
  expect.anonymousPull = false;
  check({.anonymousPull = false});
  expect = original;
  check({.sku = original.sku,
         .quotaBytes = original.quotaBytes,
         .adminEnabled = true,
         .anonymousPull = true});
  // Another registry is untouched.
  auto other = **this->store->registrySettings(this->registry);
  EXPECT_EQ(other.sku, "Basic");
  EXPECT_FALSE(other.adminEnabled);
}

TYPED_TEST(IdentityStoreConformance, DeleteRegistryRemovesEveryRowOfItAndNoOther) {
  const auto keep = this->populated("keep");
  const auto id = this->populated("doomed");
  ASSERT_GT(this->factory.rowsOf(id), 0);
  const auto keepRows = this->factory.rowsOf(keep);
  // Cached before the delete.
  ASSERT_TRUE(*this->store->registrySettings(id));
  ASSERT_TRUE(*this->store->token(id, "bot"));
  ASSERT_TRUE(*this->store->scopeMap(id, "readers"));
  ASSERT_EQ(this->store->adminSecrets(id)->size(), 1u);

  EXPECT_TRUE(*this->store->deleteRegistry(id));
  EXPECT_EQ(this->factory.rowsOf(id), 0);
  EXPECT_FALSE(*this->store->registrySettings(id));
  EXPECT_FALSE(*this->store->registryByName("doomed"));
  EXPECT_TRUE(this->store->adminSecrets(id)->empty());
  EXPECT_FALSE(*this->store->scopeMap(id, "readers"));
  EXPECT_TRUE(this->store->listScopeMaps(id)->empty());
  EXPECT_FALSE(*this->store->token(id, "bot"));
  EXPECT_TRUE(this->store->listTokens(id)->empty());
  EXPECT_FALSE(*this->store->session("session-doomed", now()));
  EXPECT_TRUE(*this->store->session("session-keep", now()));
  // The principal is the deployment's: it stays, without its assignment on the registry.
  EXPECT_TRUE(*this->store->principal("user-doomed"));
  EXPECT_TRUE(this->store->roleAssignments(std::string_view("user-doomed"))->empty());
  EXPECT_EQ(this->store->roleAssignments(std::string_view("user-keep"))->size(), 1u);
  auto content = this->factory.meta();
  EXPECT_FALSE(*content->findRepository(id, "team/app"));
  EXPECT_FALSE(*content->getUpload("upload-doomed"));
  EXPECT_FALSE(*this->store->deleteRegistry(id));

  // The other registry keeps all it had.
  EXPECT_EQ(this->factory.rowsOf(keep), keepRows);
  EXPECT_TRUE(*this->store->registryByName("keep"));
  EXPECT_TRUE(*this->store->token(keep, "bot"));
  EXPECT_TRUE(*this->store->scopeMap(keep, "readers"));
  auto repo = *content->findRepository(keep, "team/app");
  ASSERT_TRUE(repo);
  EXPECT_EQ(**content->resolveTag(*repo, "v1"), kManifest);
  EXPECT_EQ(**content->linkedBlob(*repo, kBlob), 42u);
  EXPECT_TRUE(*content->getUpload("upload-keep"));
  EXPECT_FALSE(*this->store->deleteRegistry(this->registry + 1000));
}

TYPED_TEST(IdentityStoreConformance, ARecreatedRegistryStartsEmptyWithANewId) {
  const auto old = this->populated("again");
  ASSERT_TRUE(*this->store->deleteRegistry(old));
  auto settings = this->premium("again");
  settings.sku = "Standard";
  settings.adminEnabled = false;
  const auto id = this->store->createRegistry(settings);
  ASSERT_TRUE(id);
  EXPECT_NE(*id, old);
  auto got = **this->store->registryByName("again");
  EXPECT_EQ(got.id, *id);
  EXPECT_EQ(got.sku, "Standard");
  EXPECT_FALSE(got.adminEnabled);
  EXPECT_TRUE(this->store->adminSecrets(*id)->empty());
  EXPECT_TRUE(this->store->listScopeMaps(*id)->empty());
  EXPECT_TRUE(this->store->listTokens(*id)->empty());
  EXPECT_FALSE(*this->factory.meta()->findRepository(*id, "team/app"));
  EXPECT_EQ(this->factory.rowsOf(*id), 1);  // its own registries row
}

// ---- Sessions ----

TYPED_TEST(IdentityStoreConformance, SessionsAreFoundUntilTheyExpireOrAreDeleted) {
  const int64_t t = now();
  SessionRecord op{"op",  SessionRecord::Kind::Operator, std::nullopt, "fingerprint", "", 0, t,
                   t + 60};
  SessionRecord tok{
      "tok", SessionRecord::Kind::Token, this->registry, "bot", "password2", t - 5, t, t + 120};
  ASSERT_TRUE(this->store->createSession(op, 10, 10));
  ASSERT_TRUE(this->store->createSession(tok, 10, 10));
  auto got = **this->store->session("tok", t);
  EXPECT_EQ(got.kind, SessionRecord::Kind::Token);
  EXPECT_EQ(got.registry, this->registry);
  EXPECT_EQ(got.subject, "bot");
  EXPECT_EQ(got.secretName, "password2");
  EXPECT_EQ(got.secretCreated, t - 5);
  EXPECT_EQ(got.created, t);
  EXPECT_EQ(got.expires, t + 120);
  auto oper = **this->store->session("op", t);
  EXPECT_EQ(oper.kind, SessionRecord::Kind::Operator);
  EXPECT_FALSE(oper.registry);
  EXPECT_EQ(oper.subject, "fingerprint");
  // Expired: not found, though still stored until the next session is made.
  EXPECT_FALSE(*this->store->session("op", t + 60));
  EXPECT_TRUE(*this->store->session("tok", t + 60));
  EXPECT_FALSE(*this->store->session("unknown", t));
  EXPECT_TRUE(*this->store->deleteSession("tok"));
  EXPECT_FALSE(*this->store->deleteSession("tok"));
  EXPECT_FALSE(*this->store->session("tok", t));
}

TYPED_TEST(IdentityStoreConformance, ANewSessionPastTheLimitEndsTheOldest) {
  const int64_t t = now();
  auto admin = [&](int i) {
    return SessionRecord{"s" + std::to_string(i),
                         SessionRecord::Kind::Admin,
                         this->registry,
                         "",
                         "password",
                         t,
                         t + i,
                         t + 600};
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(this->store->createSession(admin(i), 3, 10));
  ASSERT_TRUE(this->store->createSession(admin(3), 3, 10));
  EXPECT_FALSE(*this->store->session("s0", t + 3));
  for (const char* kept : {"s1", "s2", "s3"}) {
    EXPECT_TRUE(*this->store->session(kept, t + 3)) << kept;
  }
}

TYPED_TEST(IdentityStoreConformance, AnIdentitysNewSessionEndsOnlyItsOwnOldest) {
  const int64_t t = now();
  auto token = [&](const std::string& id, const std::string& name, int64_t at) {
    return SessionRecord{
        id, SessionRecord::Kind::Token, this->registry, name, "password1", t, at, t + 600};
  };
  ASSERT_TRUE(this->store->createSession(token("other", "reader", t), 100, 2));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        this->store->createSession(token("bot" + std::to_string(i), "bot", t + 1 + i), 100, 2));
  }
  // A token signing in again and again keeps two sessions, and ends nobody else's.
  EXPECT_TRUE(*this->store->session("other", t));
  EXPECT_TRUE(*this->store->session("bot4", t));
  EXPECT_TRUE(*this->store->session("bot3", t));
  for (const char* gone : {"bot0", "bot1", "bot2"})
    EXPECT_FALSE(*this->store->session(gone, t)) << gone;
}

// ---- Principals, role assignments, federated credentials ----

TYPED_TEST(IdentityStoreConformance, PrincipalsAreStoredWithTheirSecretsAndListedByKind) {
  PrincipalRecord alice;
  alice.id = "alice";
  alice.displayName = "alice";
  alice.passwordHash = "hash-a";
  ASSERT_TRUE(this->store->createPrincipal(alice));
  PrincipalRecord sp;
  sp.id = "6c0f6a2e-1b7e-4f59-9d2a-3b1b8e1c2d3f";
  sp.kind = PrincipalRecord::Kind::ServicePrincipal;
  sp.displayName = "ci";
  sp.secrets = {{"key1", "secret-hash", now() + 3600, 0}};
  ASSERT_TRUE(this->store->createPrincipal(sp));
  EXPECT_EQ(this->store->createPrincipal(alice).error().code, ApiCode::Conflict);

  auto gotAlice = **this->store->principal("alice");
  EXPECT_EQ(gotAlice.kind, PrincipalRecord::Kind::User);
  EXPECT_EQ(gotAlice.passwordHash, "hash-a");
  EXPECT_GT(gotAlice.passwordChanged, 0);
  EXPECT_GT(gotAlice.created, 0);
  auto gotSp = **this->store->principal(sp.id);
  EXPECT_EQ(gotSp.kind, PrincipalRecord::Kind::ServicePrincipal);
  EXPECT_EQ(gotSp.displayName, "ci");
  EXPECT_FALSE(gotSp.passwordHash);
  ASSERT_EQ(gotSp.secrets.size(), 1u);
  EXPECT_EQ(gotSp.secrets[0].name, "key1");
  EXPECT_EQ(gotSp.secrets[0].hash, "secret-hash");
  EXPECT_TRUE(gotSp.secrets[0].expiry);
  EXPECT_FALSE(*this->store->principal("nobody"));

  // Changes are seen at once, through the cache.
  ASSERT_TRUE(*this->store->setPrincipalPassword("alice", "hash-b"));
  EXPECT_EQ((**this->store->principal("alice")).passwordHash, "hash-b");
  EXPECT_FALSE(*this->store->setPrincipalPassword("nobody", "x"));
  ASSERT_TRUE(*this->store->setPrincipalSecret(sp.id, {"key2", "h2", std::nullopt, 0}));
  EXPECT_EQ((**this->store->principal(sp.id)).secrets.size(), 2u);
  EXPECT_FALSE(*this->store->setPrincipalSecret("nobody", {"key", "h", std::nullopt, 0}));
  ASSERT_TRUE(*this->store->deletePrincipalSecret(sp.id, "key1"));
  EXPECT_FALSE(*this->store->deletePrincipalSecret(sp.id, "key1"));
  ASSERT_EQ((**this->store->principal(sp.id)).secrets.size(), 1u);

  auto users = *this->store->listPrincipals(PrincipalRecord::Kind::User);
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].id, "alice");
  auto sps = *this->store->listPrincipals(PrincipalRecord::Kind::ServicePrincipal);
  ASSERT_EQ(sps.size(), 1u);
  EXPECT_EQ(sps[0].secrets.size(), 1u);
}

TYPED_TEST(IdentityStoreConformance, RoleAssignmentsAtEachScope) {
  PrincipalRecord bob;
  bob.id = "bob";
  ASSERT_TRUE(this->store->createPrincipal(bob));
  ASSERT_TRUE(this->store->createRoleAssignment({"a1", "bob", "Reader", std::nullopt, "", 0}));
  ASSERT_TRUE(this->store->createRoleAssignment({"a2", "bob", "AcrPush", this->registry, "", 0}));
  ASSERT_TRUE(
      this->store->createRoleAssignment({"a3", "bob", "AcrDelete", this->registry, "team/*", 0}));
  // The same role at the same scope twice, or for nobody: refused.
  EXPECT_EQ(this->store->createRoleAssignment({"a4", "bob", "AcrPush", this->registry, "", 0})
                .error()
                .code,
            ApiCode::Conflict);
  EXPECT_EQ(
      this->store->createRoleAssignment({"a5", "bob", "Reader", std::nullopt, "", 0}).error().code,
      ApiCode::Conflict);
  EXPECT_EQ(this->store->createRoleAssignment({"a6", "nobody", "Reader", std::nullopt, "", 0})
                .error()
                .code,
            ApiCode::Conflict);
  auto mine = *this->store->roleAssignments(std::string_view("bob"));
  ASSERT_EQ(mine.size(), 3u);
  EXPECT_EQ(mine[0].id, "a1");
  EXPECT_FALSE(mine[0].registry);
  EXPECT_EQ(mine[1].registry, this->registry);
  EXPECT_EQ(mine[1].repository, "");
  EXPECT_EQ(mine[2].role, "AcrDelete");
  EXPECT_EQ(mine[2].repository, "team/*");
  EXPECT_EQ(this->store->roleAssignments(std::nullopt)->size(), 3u);
  ASSERT_TRUE(*this->store->deleteRoleAssignment("a2"));
  EXPECT_FALSE(*this->store->deleteRoleAssignment("a2"));
  EXPECT_EQ(this->store->roleAssignments(std::string_view("bob"))->size(), 2u);
}

TYPED_TEST(IdentityStoreConformance, FederatedCredentialsAreFoundByIssuer) {
  PrincipalRecord sp;
  sp.id = "0b5d1c8e-7a41-4c55-8c31-5d8f0b7b2a11";
  sp.kind = PrincipalRecord::Kind::ServicePrincipal;
  ASSERT_TRUE(this->store->createPrincipal(sp));
  PrincipalRecord user;
  user.id = "carol";
  ASSERT_TRUE(this->store->createPrincipal(user));
  const std::string gh = "https://token.actions.githubusercontent.com";
  ASSERT_TRUE(this->store->createFederatedCredential(
      {sp.id, "main", gh, "repo:org/app:ref:refs/heads/main", "berth", 0}));
  ASSERT_TRUE(this->store->createFederatedCredential(
      {sp.id, "k8s", "https://kubernetes.default.svc", "system:serviceaccount:ci:*", "berth", 0}));
  EXPECT_EQ(this->store->createFederatedCredential({sp.id, "main", gh, "x", "y", 0}).error().code,
            ApiCode::Conflict);
  // A user carries no federated credential.
  EXPECT_EQ(this->store->createFederatedCredential({"carol", "x", gh, "x", "y", 0}).error().code,
            ApiCode::Conflict);
  auto byIssuer = *this->store->federatedCredentials(std::nullopt, std::string_view(gh));
  ASSERT_EQ(byIssuer.size(), 1u);
  EXPECT_EQ(byIssuer[0].name, "main");
  EXPECT_EQ(byIssuer[0].subject, "repo:org/app:ref:refs/heads/main");
  EXPECT_EQ(this->store->federatedCredentials(std::string_view(sp.id), std::nullopt)->size(), 2u);
  ASSERT_TRUE(*this->store->deleteFederatedCredential(sp.id, "main"));
  EXPECT_TRUE(this->store->federatedCredentials(std::nullopt, std::string_view(gh))->empty());
}

TYPED_TEST(IdentityStoreConformance, DeletingAPrincipalTakesEverythingOfItsWith) {
  PrincipalRecord sp;
  sp.id = "8d7e0f6a-0000-4000-8000-000000000001";
  sp.kind = PrincipalRecord::Kind::ServicePrincipal;
  sp.secrets = {{"key1", "h", std::nullopt, 0}};
  ASSERT_TRUE(this->store->createPrincipal(sp));
  ASSERT_TRUE(this->store->createRoleAssignment({"r1", sp.id, "AcrPull", this->registry, "", 0}));
  ASSERT_TRUE(this->store->createFederatedCredential({sp.id, "f", "https://i", "s", "a", 0}));
  ASSERT_TRUE(this->store->createSession(
      {"sess", SessionRecord::Kind::Principal, std::nullopt, sp.id, "key1", 0, now(), now() + 60},
      10, 10));
  ASSERT_TRUE(*this->store->principal(sp.id));  // cached before the delete
  ASSERT_TRUE(*this->store->deletePrincipal(sp.id));
  EXPECT_FALSE(*this->store->principal(sp.id));
  EXPECT_TRUE(this->store->roleAssignments(std::string_view(sp.id))->empty());
  EXPECT_TRUE(this->store->federatedCredentials(std::string_view(sp.id), std::nullopt)->empty());
  EXPECT_FALSE(*this->store->session("sess", now()));
  EXPECT_FALSE(*this->store->deletePrincipal(sp.id));
}

// ---- Admin passwords ----

TYPED_TEST(IdentityStoreConformance, AdminSecretsAreReplacedByName) {
  ASSERT_TRUE(this->store->setAdminSecret(this->registry, "password", "h1"));
  ASSERT_TRUE(this->store->setAdminSecret(this->registry, "password2", "h2"));
  ASSERT_TRUE(this->store->setAdminSecret(this->registry, "password", "h3"));
  auto secrets = *this->store->adminSecrets(this->registry);
  ASSERT_EQ(secrets.size(), 2u);
  EXPECT_EQ(secrets[0].name, "password");
  EXPECT_EQ(secrets[0].hash, "h3");
  EXPECT_GT(secrets[0].created, 0);
  EXPECT_EQ(secrets[1].hash, "h2");
}

// ---- Scope maps ----

TYPED_TEST(IdentityStoreConformance, ScopeMapsAndTokens) {
  ScopeMapRecord map{"readers", "team read", {{"team/*", 1}, {"other", 2}}};
  ASSERT_TRUE(this->store->createScopeMap(this->registry, map));
  EXPECT_EQ(this->store->createScopeMap(this->registry, map).error().code, ApiCode::Conflict);
  auto got = **this->store->scopeMap(this->registry, "readers");
  EXPECT_EQ(got.description, "team read");
  ASSERT_EQ(got.rules.size(), 2u);
  EXPECT_GT(got.created, 0);
  EXPECT_FALSE(*this->store->scopeMap(this->registry, "nope"));

  TokenRecord token{
      "ci-bot", "readers", true, {{"password1", "h1", std::nullopt}, {"password2", "h2", 99}}, 0};
  ASSERT_TRUE(this->store->createToken(this->registry, token));
  EXPECT_EQ(this->store->createToken(this->registry, token).error().code, ApiCode::Conflict);
  auto t = **this->store->token(this->registry, "ci-bot");
  EXPECT_EQ(t.scopeMap, "readers");
  EXPECT_TRUE(t.enabled);
  EXPECT_GT(t.created, 0);
  ASSERT_EQ(t.secrets.size(), 2u);
  EXPECT_FALSE(t.secrets[0].expiry);
  EXPECT_GT(t.secrets[0].created, 0);
  EXPECT_EQ(t.secrets[1].expiry, 99);
  EXPECT_TRUE(*this->store->setTokenEnabled(this->registry, "ci-bot", false));
  EXPECT_FALSE((*this->store->token(this->registry, "ci-bot"))->enabled);
  EXPECT_FALSE(*this->store->setTokenEnabled(this->registry, "nobody", false));
}

TYPED_TEST(IdentityStoreConformance, ListScopeMapsByNameWithTheirRules) {
  ASSERT_TRUE(this->store->createScopeMap(this->registry, {"writers", "w", {{"b", 2}, {"a", 3}}}));
  ASSERT_TRUE(this->store->createScopeMap(this->registry, {"empty", "", {}}));
  ASSERT_TRUE(this->store->createScopeMap(this->registry, {"readers", "r", {{"x/*", 1}}}));
  const auto other = *this->store->createRegistry(this->premium("other"));
  ASSERT_TRUE(this->store->createScopeMap(other, {"elsewhere", "", {}}));
  auto maps = *this->store->listScopeMaps(this->registry);
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(maps[0].name, "empty");
  EXPECT_TRUE(maps[0].rules.empty());
  EXPECT_GT(maps[0].created, 0);
  EXPECT_EQ(maps[1].name, "readers");
  EXPECT_EQ(maps[1].description, "r");
  ASSERT_EQ(maps[1].rules.size(), 1u);
  EXPECT_EQ(maps[1].rules[0].pattern, "x/*");
  EXPECT_EQ(maps[1].rules[0].actions, 1);
  EXPECT_EQ(maps[2].name, "writers");
  ASSERT_EQ(maps[2].rules.size(), 2u);
  EXPECT_EQ(maps[2].rules[0].pattern, "a");
  EXPECT_EQ(maps[2].rules[0].actions, 3);
  EXPECT_EQ(maps[2].rules[1].pattern, "b");
  EXPECT_EQ(this->store->listScopeMaps(other)->size(), 1u);
}

TYPED_TEST(IdentityStoreConformance, UpdateScopeMapReplacesDescriptionAndRules) {
  ASSERT_TRUE(this->store->createScopeMap(this->registry, {"team", "old", {{"a", 1}, {"b", 2}}}));
  const auto before = **this->store->scopeMap(this->registry, "team");  // now cached
  EXPECT_TRUE(*this->store->updateScopeMap(this->registry,
                                           {"team", "new", {{"c", 3}, {"b", 1}, {"c", 4}}}));
  auto got = **this->store->scopeMap(this->registry, "team");
  EXPECT_EQ(got.description, "new");
  EXPECT_EQ(got.created, before.created);
  ASSERT_EQ(got.rules.size(), 2u);
  EXPECT_EQ(got.rules[0].pattern, "b");
  EXPECT_EQ(got.rules[0].actions, 1);
  EXPECT_EQ(got.rules[1].pattern, "c");
  EXPECT_EQ(got.rules[1].actions, 7);  // rules for one pattern add up
  EXPECT_TRUE(*this->store->updateScopeMap(this->registry, {"team", "", {}}));
  got = **this->store->scopeMap(this->registry, "team");
  EXPECT_EQ(got.description, "");
  EXPECT_TRUE(got.rules.empty());
  EXPECT_FALSE(*this->store->updateScopeMap(this->registry, {"nope", "", {{"a", 1}}}));
  EXPECT_FALSE(*this->store->scopeMap(this->registry, "nope"));
}

TYPED_TEST(IdentityStoreConformance, AScopeMapInUseCannotBeDeleted) {
  ASSERT_TRUE(this->store->createScopeMap(this->registry, {"team", "", {{"a", 1}}}));
  ASSERT_TRUE(this->store->createScopeMap(this->registry, {"other", "", {}}));
  ASSERT_TRUE(this->store->createToken(this->registry, {"bot", "team", false, {}}));
  // A token of another registry with the same map name does not hold this one.
  const auto second = *this->store->createRegistry(this->premium("second"));
  ASSERT_TRUE(this->store->createToken(second, {"bot", "other", true, {}}));

  EXPECT_EQ(this->store->deleteScopeMap(this->registry, "team").error().code, ApiCode::Conflict);
  EXPECT_TRUE(*this->store->scopeMap(this->registry, "team"));
  ASSERT_TRUE(*this->store->setTokenScopeMap(this->registry, "bot", "other"));
  EXPECT_TRUE(*this->store->deleteScopeMap(this->registry, "team"));
  EXPECT_FALSE(*this->store->scopeMap(this->registry, "team"));
  EXPECT_FALSE(*this->store->deleteScopeMap(this->registry, "team"));
  EXPECT_EQ(this->store->listScopeMaps(this->registry)->size(), 1u);
  // A map of that name made again starts without the old rules.
  ASSERT_TRUE(this->store->createScopeMap(this->registry, {"team", "", {}}));
  EXPECT_TRUE((*this->store->scopeMap(this->registry, "team"))->rules.empty());

  ASSERT_TRUE(*this->store->deleteToken(this->registry, "bot"));
  EXPECT_TRUE(*this->store->deleteScopeMap(this->registry, "other"));
}

// ---- Tokens ----

TYPED_TEST(IdentityStoreConformance, ATokensScopeMapChanges) {
  ASSERT_TRUE(this->store->createToken(this->registry, {"bot", "readers", true, {{"p1", "h"}}}));
  EXPECT_EQ((*this->store->token(this->registry, "bot"))->scopeMap, "readers");  // now cached
  EXPECT_TRUE(*this->store->setTokenScopeMap(this->registry, "bot", "writers"));
  auto t = **this->store->token(this->registry, "bot");
  EXPECT_EQ(t.scopeMap, "writers");
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.secrets.size(), 1u);
  EXPECT_FALSE(*this->store->setTokenScopeMap(this->registry, "nobody", "writers"));
  EXPECT_FALSE(*this->store->token(this->registry, "nobody"));
}

TYPED_TEST(IdentityStoreConformance, TokenSecretsAreAddedOrReplacedByName) {
  ASSERT_TRUE(this->store->createToken(this->registry, {"bot", "readers", true, {{"p1", "h1"}}}));
  ASSERT_EQ((*this->store->token(this->registry, "bot"))->secrets.size(), 1u);  // now cached
  const auto before = now();
  EXPECT_TRUE(*this->store->setTokenSecret(this->registry, "bot", {"p2", "h2", 500}));
  auto t = **this->store->token(this->registry, "bot");
  ASSERT_EQ(t.secrets.size(), 2u);
  EXPECT_EQ(t.secrets[1].name, "p2");
  EXPECT_EQ(t.secrets[1].hash, "h2");
  EXPECT_EQ(t.secrets[1].expiry, 500);
  EXPECT_GE(t.secrets[1].created, before);  // stamped when not given

  EXPECT_TRUE(*this->store->setTokenSecret(this->registry, "bot", {"p2", "h3", std::nullopt, 77}));
  t = **this->store->token(this->registry, "bot");
  ASSERT_EQ(t.secrets.size(), 2u);
  EXPECT_EQ(t.secrets[0].hash, "h1");
  EXPECT_EQ(t.secrets[1].hash, "h3");
  EXPECT_FALSE(t.secrets[1].expiry);
  EXPECT_EQ(t.secrets[1].created, 77);

  EXPECT_FALSE(*this->store->setTokenSecret(this->registry, "nobody", {"p1", "h"}));
  EXPECT_FALSE(*this->store->token(this->registry, "nobody"));
}

TYPED_TEST(IdentityStoreConformance, TokenSecretsAreDeletedOneByName) {
  ASSERT_TRUE(this->store->createToken(this->registry,
                                       {"bot", "readers", true, {{"p1", "h1"}, {"p2", "h2"}}}));
  ASSERT_TRUE(this->store->createToken(this->registry, {"keep", "readers", true, {{"p1", "h1"}}}));
  const auto other = *this->store->createRegistry(this->premium("other"));
  ASSERT_TRUE(this->store->createToken(other, {"bot", "readers", true, {{"p1", "h1"}}}));
  ASSERT_EQ((*this->store->token(this->registry, "bot"))->secrets.size(), 2u);  // now cached

  EXPECT_TRUE(*this->store->deleteTokenSecret(this->registry, "bot", "p1"));
  auto t = **this->store->token(this->registry, "bot");
  ASSERT_EQ(t.secrets.size(), 1u);
  EXPECT_EQ(t.secrets[0].name, "p2");
  EXPECT_EQ(t.secrets[0].hash, "h2");
  EXPECT_FALSE(*this->store->deleteTokenSecret(this->registry, "bot", "p1"));
  EXPECT_FALSE(*this->store->deleteTokenSecret(this->registry, "nobody", "p2"));
  // Other tokens, of this registry and of another, keep theirs.
  EXPECT_EQ((*this->store->token(this->registry, "keep"))->secrets.size(), 1u);
  EXPECT_EQ((*this->store->token(other, "bot"))->secrets.size(), 1u);

  // The last one goes too; the token stays, without secrets, and may get one again.
  EXPECT_TRUE(*this->store->deleteTokenSecret(this->registry, "bot", "p2"));
  ASSERT_TRUE(*this->store->token(this->registry, "bot"));
  EXPECT_TRUE((*this->store->token(this->registry, "bot"))->secrets.empty());
  EXPECT_TRUE(*this->store->setTokenSecret(this->registry, "bot", {"p1", "h3"}));
  EXPECT_EQ((*this->store->token(this->registry, "bot"))->secrets.size(), 1u);
}

TYPED_TEST(IdentityStoreConformance, ListTokensByNameWithTheirSecrets) {
  ASSERT_TRUE(this->store->createToken(this->registry, {"zed", "m1", false, {}}));
  ASSERT_TRUE(this->store->createToken(
      this->registry, {"alpha", "m2", true, {{"p2", "h2", 9}, {"p1", "h1", std::nullopt}}}));
  const auto other = *this->store->createRegistry(this->premium("other"));
  ASSERT_TRUE(this->store->createToken(other, {"elsewhere", "m1", true, {{"p1", "h"}}}));
  auto tokens = *this->store->listTokens(this->registry);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].name, "alpha");
  EXPECT_EQ(tokens[0].scopeMap, "m2");
  EXPECT_TRUE(tokens[0].enabled);
  EXPECT_GT(tokens[0].created, 0);
  ASSERT_EQ(tokens[0].secrets.size(), 2u);
  EXPECT_EQ(tokens[0].secrets[0].name, "p1");
  EXPECT_FALSE(tokens[0].secrets[0].expiry);
  EXPECT_EQ(tokens[0].secrets[1].name, "p2");
  EXPECT_EQ(tokens[0].secrets[1].expiry, 9);
  EXPECT_EQ(tokens[1].name, "zed");
  EXPECT_FALSE(tokens[1].enabled);
  EXPECT_TRUE(tokens[1].secrets.empty());
  EXPECT_EQ(this->store->listTokens(other)->size(), 1u);
  EXPECT_TRUE(this->store->listTokens(this->registry + 1000)->empty());
}

TYPED_TEST(IdentityStoreConformance, DeleteTokenRemovesItsSecrets) {
  ASSERT_TRUE(this->store->createToken(this->registry, {"bot", "m", true, {{"p1", "h1"}}}));
  ASSERT_TRUE(this->store->createToken(this->registry, {"keep", "m", true, {{"p1", "h1"}}}));
  ASSERT_TRUE(*this->store->token(this->registry, "bot"));  // now cached
  EXPECT_TRUE(*this->store->deleteToken(this->registry, "bot"));
  EXPECT_FALSE(*this->store->token(this->registry, "bot"));
  EXPECT_FALSE(*this->store->deleteToken(this->registry, "bot"));
  EXPECT_FALSE(*this->store->setTokenSecret(this->registry, "bot", {"p1", "h"}));
  auto tokens = *this->store->listTokens(this->registry);
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].name, "keep");
  EXPECT_EQ(tokens[0].secrets.size(), 1u);
  // A token of that name made again has none of the old secrets.
  ASSERT_TRUE(this->store->createToken(this->registry, {"bot", "m", true, {}}));
  EXPECT_TRUE((*this->store->token(this->registry, "bot"))->secrets.empty());
}

// ---- Caching across handles ----

// What another handle changed is seen on the next read (SQLite: another process on the file)
// or within a second (PostgreSQL: another node, whose change is announced to this one).
#define EXPECT_SEEN(condition) \
  EXPECT_TRUE(testing::seen<TypeParam>([&] { return static_cast<bool>(condition); })) << #condition
#define ASSERT_SEEN(condition) \
  ASSERT_TRUE(testing::seen<TypeParam>([&] { return static_cast<bool>(condition); })) << #condition

TYPED_TEST(IdentityStoreConformance, AChangeThroughAnotherHandleIsSeen) {
  // Another process (`berth admin`) or node writes through its own store on the same database.
  auto other = this->factory.otherIdentities();
  EXPECT_FALSE((*this->store->registrySettings(this->registry))->adminEnabled);  // now cached
  EXPECT_FALSE(*this->store->token(this->registry, "late-token"));
  ASSERT_TRUE(other->updateRegistry(this->registry, {.adminEnabled = true}));
  ASSERT_TRUE(
      other->createToken(this->registry, {"late-token", "_repositories_pull", true, {}, 0}));
  EXPECT_SEEN((*this->store->registrySettings(this->registry))->adminEnabled);
  EXPECT_SEEN(*this->store->token(this->registry, "late-token"));
  ASSERT_TRUE(other->setTokenEnabled(this->registry, "late-token", false));
  EXPECT_SEEN(!(*this->store->token(this->registry, "late-token"))->enabled);
}

TYPED_TEST(IdentityStoreConformance, EveryNewKindOfChangeThroughAnotherHandleIsSeen) {
  auto other = this->factory.otherIdentities();
  auto& mine = *this->store;

  // Registries: a name unknown when cached, then created, updated and deleted elsewhere.
  EXPECT_FALSE(*mine.registryByName("late"));
  const auto id = *other->createRegistry(this->premium("late"));
  ASSERT_SEEN(*mine.registryByName("late"));
  EXPECT_EQ((*mine.registrySettings(id))->sku, "Premium");
  ASSERT_TRUE(other->updateRegistry(id, {.sku = "Standard", .quotaBytes = 1}));
  EXPECT_SEEN((*mine.registryByName("late"))->sku == "Standard");
  EXPECT_EQ((*mine.registrySettings(id))->quotaBytes, 1u);

  // Admin passwords.
  EXPECT_TRUE(mine.adminSecrets(id)->empty());
  ASSERT_TRUE(other->setAdminSecret(id, "password", "h1"));
  ASSERT_SEEN(mine.adminSecrets(id)->size() == 1u);
  ASSERT_TRUE(other->setAdminSecret(id, "password", "h2"));
  EXPECT_SEEN((*mine.adminSecrets(id))[0].hash == "h2");

  // Scope maps.
  EXPECT_FALSE(*mine.scopeMap(id, "team"));
  ASSERT_TRUE(other->createScopeMap(id, {"team", "v1", {}}));
  EXPECT_SEEN(*mine.scopeMap(id, "team") && (*mine.scopeMap(id, "team"))->description == "v1");
  ASSERT_TRUE(*other->updateScopeMap(id, {"team", "v2", {{"a", 1}}}));
  EXPECT_SEEN((*mine.scopeMap(id, "team"))->description == "v2");
  ASSERT_TRUE(*other->deleteScopeMap(id, "team"));
  EXPECT_SEEN(!*mine.scopeMap(id, "team"));

  // Tokens.
  ASSERT_TRUE(other->createToken(id, {"bot", "m1", true, {}}));
  EXPECT_SEEN(*mine.token(id, "bot") && (*mine.token(id, "bot"))->scopeMap == "m1");
  ASSERT_TRUE(*other->setTokenScopeMap(id, "bot", "m2"));
  EXPECT_SEEN((*mine.token(id, "bot"))->scopeMap == "m2");
  ASSERT_TRUE(*other->setTokenSecret(id, "bot", {"p1", "h"}));
  EXPECT_SEEN((*mine.token(id, "bot"))->secrets.size() == 1u);
  ASSERT_TRUE(*other->deleteTokenSecret(id, "bot", "p1"));
  EXPECT_SEEN((*mine.token(id, "bot"))->secrets.empty());
  ASSERT_TRUE(*other->deleteToken(id, "bot"));
  EXPECT_SEEN(!*mine.token(id, "bot"));

  // The registry itself.
  ASSERT_TRUE(*other->deleteRegistry(id));
  EXPECT_SEEN(!*mine.registrySettings(id));
  EXPECT_FALSE(*mine.registryByName("late"));
  EXPECT_TRUE(mine.adminSecrets(id)->empty());
}

// ---- Signing keys ----

TYPED_TEST(IdentityStoreConformance, SigningKeysNewestFirstAndRetired) {
  ASSERT_TRUE(this->store->addSigningKey({"k1", "pem1", 10, std::nullopt}));
  ASSERT_TRUE(this->store->addSigningKey({"k2", "pem2", 10, std::nullopt}));
  ASSERT_TRUE(this->store->retireSigningKeys("k2", 20));
  auto keys = *this->store->signingKeys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].kid, "k2");
  EXPECT_FALSE(keys[0].retired);
  EXPECT_EQ(keys[1].retired, 20);
}

}  // namespace
}  // namespace berth::meta
