// The IdentityStore contract, typed over every driver.
#include "meta/sqlite/identity_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/random.hpp"
#include "meta/sqlite/sqlite_store.hpp"

namespace berth::meta {
namespace {

struct SqliteFactory {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("berth-id-" + newUuid());
  std::filesystem::path file() {
    std::filesystem::create_directories(dir);
    return dir / "berth.db";
  }
  RegistryId registry() { return *(*openSqliteStore(file()))->ensureRegistry("default"); }
  IdentityStorePtr make() { return *openSqliteIdentityStore(file()); }
  ~SqliteFactory() { std::filesystem::remove_all(dir); }
};

template <class Factory>
class IdentityStoreConformance : public ::testing::Test {
 protected:
  Factory factory;
  RegistryId registry = factory.registry();
  IdentityStorePtr store = factory.make();
};

using Drivers = ::testing::Types<SqliteFactory>;
TYPED_TEST_SUITE(IdentityStoreConformance, Drivers);

TYPED_TEST(IdentityStoreConformance, RegistrySettingsStartClosedAndUpdatePartially) {
  auto s = **this->store->registrySettings(this->registry);
  EXPECT_EQ(s.name, "default");
  EXPECT_FALSE(s.adminEnabled);
  EXPECT_FALSE(s.anonymousPull);
  ASSERT_TRUE(this->store->updateRegistrySettings(this->registry, true, std::nullopt));
  s = **this->store->registrySettings(this->registry);
  EXPECT_TRUE(s.adminEnabled);
  EXPECT_FALSE(s.anonymousPull);
  ASSERT_TRUE(this->store->updateRegistrySettings(this->registry, std::nullopt, true));
  s = **this->store->registrySettings(this->registry);
  EXPECT_TRUE(s.adminEnabled);
  EXPECT_TRUE(s.anonymousPull);
  EXPECT_FALSE(*this->store->registrySettings(this->registry + 1000));
}

TYPED_TEST(IdentityStoreConformance, AChangeThroughAnotherHandleIsSeenOnTheNextRead) {
  // Another process (`berth admin`) writes through its own store on the same database.
  auto other = this->factory.make();
  EXPECT_FALSE((*this->store->registrySettings(this->registry))->adminEnabled);  // now cached
  EXPECT_FALSE(*this->store->token(this->registry, "late-token"));
  ASSERT_TRUE(other->updateRegistrySettings(this->registry, true, std::nullopt));
  ASSERT_TRUE(
      other->createToken(this->registry, {"late-token", "_repositories_pull", true, {}, 0}));
  EXPECT_TRUE((*this->store->registrySettings(this->registry))->adminEnabled);
  EXPECT_TRUE(*this->store->token(this->registry, "late-token"));
  ASSERT_TRUE(other->setTokenEnabled(this->registry, "late-token", false));
  EXPECT_FALSE((*this->store->token(this->registry, "late-token"))->enabled);
}

TYPED_TEST(IdentityStoreConformance, AdminSecretsAreReplacedByName) {
  ASSERT_TRUE(this->store->setAdminSecret(this->registry, "password", "h1"));
  ASSERT_TRUE(this->store->setAdminSecret(this->registry, "password2", "h2"));
  ASSERT_TRUE(this->store->setAdminSecret(this->registry, "password", "h3"));
  auto secrets = *this->store->adminSecrets(this->registry);
  ASSERT_EQ(secrets.size(), 2u);
  EXPECT_EQ(secrets[0].hash, "h3");
  EXPECT_EQ(secrets[1].hash, "h2");
}

TYPED_TEST(IdentityStoreConformance, ScopeMapsAndTokens) {
  ScopeMapRecord map{"readers", "team read", {{"team/*", 1}, {"other", 2}}};
  ASSERT_TRUE(this->store->createScopeMap(this->registry, map));
  EXPECT_EQ(this->store->createScopeMap(this->registry, map).error().code, ApiCode::Conflict);
  auto got = **this->store->scopeMap(this->registry, "readers");
  EXPECT_EQ(got.description, "team read");
  ASSERT_EQ(got.rules.size(), 2u);
  EXPECT_FALSE(*this->store->scopeMap(this->registry, "nope"));

  TokenRecord token{
      "ci-bot", "readers", true, {{"password1", "h1", std::nullopt}, {"password2", "h2", 99}}, 0};
  ASSERT_TRUE(this->store->createToken(this->registry, token));
  EXPECT_EQ(this->store->createToken(this->registry, token).error().code, ApiCode::Conflict);
  auto t = **this->store->token(this->registry, "ci-bot");
  EXPECT_EQ(t.scopeMap, "readers");
  EXPECT_TRUE(t.enabled);
  ASSERT_EQ(t.secrets.size(), 2u);
  EXPECT_FALSE(t.secrets[0].expiry);
  EXPECT_EQ(t.secrets[1].expiry, 99);
  EXPECT_TRUE(*this->store->setTokenEnabled(this->registry, "ci-bot", false));
  EXPECT_FALSE((*this->store->token(this->registry, "ci-bot"))->enabled);
  EXPECT_FALSE(*this->store->setTokenEnabled(this->registry, "nobody", false));
}

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
