// People and service principals on the data plane's way in: the Authenticator signs them in
// with a user's password or a service principal's client secret, and grants in a registry the
// union of their role assignments at the deployment, that registry and its repository patterns.
#include <gtest/gtest.h>

#include <filesystem>

#include "auth/authenticator.hpp"
#include "auth/password.hpp"
#include "core/random.hpp"
#include "meta/sqlite/identity_store.hpp"
#include "meta/sqlite/sqlite_store.hpp"

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

class PrincipalsTest : public ::testing::Test {
 protected:
  PrincipalsTest() {
    fs::create_directories(dir_);
    auto meta = meta::openSqliteStore(dir_ / "berth.db");
    registry_.id = *(*meta)->ensureRegistry("default");
    other_ = *(*meta)->ensureRegistry("otherregistry");
    identities_ = std::move(*meta::openSqliteIdentityStore(dir_ / "berth.db"));
    authenticator_ = std::make_unique<Authenticator>(*identities_, AuthOptions{});
    EXPECT_TRUE(authenticator_->ensureSigningKey());
  }
  ~PrincipalsTest() override { fs::remove_all(dir_); }

  meta::RegistrySettings settings(meta::RegistryId id) {
    return **identities_->registrySettings(id);
  }
  void assign(const std::string& who, const std::string& role, std::optional<meta::RegistryId> at,
              const std::string& repository = "") {
    ASSERT_TRUE(identities_->createRoleAssignment({newUuid(), who, role, at, repository, 0}));
  }

  fs::path dir_ = fs::temp_directory_path() / ("berth-principals-" + newUuid());
  meta::RegistrySettings registry_;
  meta::RegistryId other_ = 0;
  meta::IdentityStorePtr identities_;
  std::unique_ptr<Authenticator> authenticator_;
};

TEST_F(PrincipalsTest, AUserSignsInWithItsPasswordAndGetsItsRolesHere) {
  meta::PrincipalRecord alice;
  alice.id = "alice";
  alice.passwordHash = hashSecret("alice-password");
  ASSERT_TRUE(identities_->createPrincipal(alice));
  const auto here = settings(registry_.id);
  assign("alice", "AcrPull", registry_.id);
  assign("alice", "AcrDelete", registry_.id, "team/*");
  assign("alice", "Contributor", other_);  // another registry's: nothing here

  auto r = authenticator_->login(here, "alice", "alice-password", "192.0.2.1:1");
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.identity.kind, Identity::Kind::Principal);
  EXPECT_EQ(r.identity.subject, "p:alice");
  EXPECT_EQ(identityName(r.identity, "default"), "principal:alice");
  EXPECT_EQ(r.identity.permissions.actionsOn("any/repo"), kContentRead | kMetadataRead);
  EXPECT_EQ(r.identity.permissions.actionsOn("team/app"),
            kContentRead | kMetadataRead | kContentDelete);
  // The password it matched, by name and a digest of its hash (a session remembers it).
  EXPECT_EQ(r.secretName.rfind("password/", 0), 0u) << r.secretName;

  EXPECT_FALSE(authenticator_->login(here, "alice", "wrong", "192.0.2.1:1").ok());
  // The roles come from the store on every sign-in: a deployment-wide one counts everywhere.
  assign("alice", "AcrPush", std::nullopt);
  auto again = authenticator_->login(here, "alice", "alice-password", "192.0.2.1:1");
  EXPECT_TRUE(again.identity.permissions.actionsOn("x") & kContentWrite);
  // Its subject resolves again, as refresh and access tokens name it.
  auto resolved = authenticator_->subjectIdentity(here, "p:alice");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->kind, Identity::Kind::Principal);
  EXPECT_TRUE(resolved->permissions.actionsOn("x") & kContentWrite);
  ASSERT_TRUE(*identities_->deletePrincipal("alice"));
  EXPECT_FALSE(authenticator_->subjectIdentity(here, "p:alice"));
}

TEST_F(PrincipalsTest, AServicePrincipalSignsInWithAnUnexpiredClientSecret) {
  meta::PrincipalRecord sp;
  sp.id = newUuid();
  sp.kind = meta::PrincipalRecord::Kind::ServicePrincipal;
  sp.displayName = "ci";
  sp.secrets = {{"old", hashSecret("expired-secret"), unixNow() - 1, 0},
                {"current", hashSecret("current-secret"), unixNow() + 3600, 0}};
  ASSERT_TRUE(identities_->createPrincipal(sp));
  assign(sp.id, "AcrPush", registry_.id, "ci/*");
  const auto here = settings(registry_.id);
  auto r = authenticator_->login(here, sp.id, "current-secret", "192.0.2.2:1");
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.identity.subject, "p:" + sp.id);
  EXPECT_EQ(r.secretName.rfind("current/", 0), 0u) << r.secretName;
  EXPECT_EQ(r.identity.permissions.actionsOn("ci/app"),
            kContentRead | kContentWrite | kMetadataRead);
  EXPECT_EQ(r.identity.permissions.actionsOn("other"), 0);
  // A secret past its expiry is refused like a wrong one.
  auto expired = authenticator_->login(here, sp.id, "expired-secret", "192.0.2.2:1");
  EXPECT_EQ(expired.failure, AuthFailure::BadCredentials);
  // A user without a password, or nobody at all, signs in with nothing.
  meta::PrincipalRecord nopass;
  nopass.id = "nopass";
  ASSERT_TRUE(identities_->createPrincipal(nopass));
  EXPECT_FALSE(authenticator_->login(here, "nopass", "", "192.0.2.2:1").ok());
  EXPECT_FALSE(authenticator_->login(here, "nobody", "x", "192.0.2.2:1").ok());
}

TEST_F(PrincipalsTest, ATokenOfTheRegistryComesBeforeAUserOfTheSameName) {
  meta::PrincipalRecord user;
  user.id = "ci";
  user.passwordHash = hashSecret("user-password");
  ASSERT_TRUE(identities_->createPrincipal(user));
  assign("ci", "Owner", std::nullopt);
  ASSERT_TRUE(identities_->createToken(
      registry_.id, {"ci", "_repositories_pull", true, {{"password1", hashSecret("tok")}}}));
  const auto here = settings(registry_.id);
  auto asToken = authenticator_->login(here, "ci", "tok", "192.0.2.3:1");
  ASSERT_TRUE(asToken.ok());
  EXPECT_EQ(asToken.identity.kind, Identity::Kind::Token);
  EXPECT_FALSE(authenticator_->login(here, "ci", "user-password", "192.0.2.3:1").ok());
  // In a registry without that token, the user signs in.
  auto elsewhere = authenticator_->login(settings(other_), "ci", "user-password", "192.0.2.3:1");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere.identity.kind, Identity::Kind::Principal);
}

}  // namespace
}  // namespace berth::auth
