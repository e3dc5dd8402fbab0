// The storage-lifecycle routes of the control API (docs/control-api.md): purge, schedules,
// policies, tag history and rollback, soft-deleted manifests; who may call them and how bad
// input is refused.
#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

class LifecycleApiTest : public AdminRegistryTest {
 protected:
  Response post(const std::string& path, const std::string& body) {
    return api().post(path, body, kJson);
  }
};

TEST_F(LifecycleApiTest, PurgeDeletesMatchingTagsAndRefusesBadInput) {
  p_->pushImage("team/app", "build-1");
  p_->pushImage("team/app", "build-2");
  const auto release = p_->pushImage("team/app", "release");
  const std::string purge = repoPath(reg_, "team/app", "/_purge");
  json::Value dry = expectJson(post(purge, R"({"tagFilter":"build-.*","dryRun":true})"), 200);
  EXPECT_EQ(boolean(dry, "dryRun"), true);
  ASSERT_TRUE(member(dry, "tagsDeleted"));
  EXPECT_EQ(member(dry, "tagsDeleted")->asArray().size(), 2u);
  EXPECT_EQ(p_->getManifest("team/app", "build-1").status, 200) << "a dry run deleted";

  json::Value done =
      expectJson(post(purge, R"({"tagFilter":"build-.*","keep":1,"untagged":true})"), 200);
  EXPECT_EQ(member(done, "tagsDeleted")->asArray().size(), 1u);
  EXPECT_EQ(member(done, "manifestsDeleted")->asArray().size(), 1u);
  EXPECT_EQ(p_->getManifest("team/app", "build-1").status, 404);
  EXPECT_EQ(p_->getManifest("team/app", "build-2").status, 200);
  EXPECT_EQ(p_->getManifest("team/app", release.manifest.digest).status, 200);

  EXPECT_API_ERROR(post(purge, R"({})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(purge, R"({"tagFilter":"v(("})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(purge, R"({"tagFilter":".*","ago":"3 weeks"})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(purge, R"({"tagFilter":".*","bogus":1})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(purge, R"({"tagFilter":1})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(repoPath(reg_, "no/such", "/_purge"), R"({"untagged":true})"), 404,
                   "NOT_FOUND");
}

TEST_F(LifecycleApiTest, TokensPurgeAndRollBackOnlyWithTheirScopeMapsActions) {
  p_->pushImage("team/app", "v1");
  p_->pushImage("team/app", "v1");
  const Identity reader =
      createTokenWithActions(reg_, "reader", {"repositories/team/app/metadata/read"});
  const Identity deleter =
      createTokenWithActions(reg_, "deleter", {"repositories/team/app/content/delete"});
  const std::string history = repoPath(reg_, "team/app", "/_tags/v1/history");
  Response h = apiAs(reader.basic(), "GET", history);
  json::Value shown = expectJson(h, 200);
  ASSERT_TRUE(member(shown, "history"));
  EXPECT_EQ(member(shown, "history")->asArray().size(), 2u);
  EXPECT_API_ERROR(
      apiAs(reader.basic(), "POST", repoPath(reg_, "team/app", "/_tags/v1/rollback"), "{}"), 403,
      "DENIED");
  EXPECT_API_ERROR(
      apiAs(reader.basic(), "POST", repoPath(reg_, "team/app", "/_purge"), R"({"untagged":true})"),
      403, "DENIED");
  EXPECT_API_ERROR(apiAs(deleter.basic(), "GET", history), 403, "DENIED");
  Response purged =
      apiAs(deleter.basic(), "POST", repoPath(reg_, "team/app", "/_purge"), R"({"untagged":true})");
  EXPECT_EQ(purged.status, 200) << purged;
  // The registry-wide routes are the operator's and the admin's.
  EXPECT_API_ERROR(apiAs(deleter.basic(), "GET", regPath(reg_, "/purge-schedules")), 403, "DENIED");
  EXPECT_EQ(apiAs(admin_.basic(), "GET", regPath(reg_, "/purge-schedules")).status, 200);
}

TEST_F(LifecycleApiTest, RollbackWalksTheHistoryAndIsRefusedForADeletedManifest) {
  const auto first = p_->pushImage("team/app", "prod");
  const auto second = p_->pushImage("team/app", "prod");
  const std::string rollback = repoPath(reg_, "team/app", "/_tags/prod/rollback");
  json::Value back = expectJson(post(rollback, "{}"), 200);
  EXPECT_EQ(str(back, "digest"), first.manifest.digest);
  back = expectJson(post(rollback, R"({"to":")" + second.manifest.digest + R"("})"), 200);
  EXPECT_EQ(str(back, "digest"), second.manifest.digest);
  EXPECT_API_ERROR(post(rollback, R"({"steps":9})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(rollback, R"({"steps":1,"to":"x"})"), 400, "INVALID_ARGUMENT");
  ASSERT_EQ(api().del(repoPath(reg_, "team/app", "/_manifests/" + first.manifest.digest)).status,
            204);
  Response refused = post(rollback, "{}");
  EXPECT_API_ERROR(refused, 409, "CONFLICT");
  EXPECT_NE(refused.body.find("was deleted"), std::string::npos) << refused.body;
  // The history is paged, newest first.
  Response page = api().get(repoPath(reg_, "team/app", "/_tags/prod/history?n=2"));
  json::Value two = expectJson(page, 200);
  EXPECT_EQ(member(two, "history")->asArray().size(), 2u);
  EXPECT_TRUE(page.hasHeader("Link")) << page;
  EXPECT_API_ERROR(api().get(repoPath(reg_, "team/app", "/_tags/prod/history?n=0")), 400,
                   "INVALID_ARGUMENT");
}

TEST_F(LifecycleApiTest, PoliciesSchedulesAndSoftDeletedManifests) {
  const std::string policies = regPath(reg_, "/policies");
  json::Value p = expectJson(api().get(policies), 200);
  EXPECT_EQ(str(*member(p, "retentionPolicy"), "status"), "disabled");
  p = expectJson(
      api().patch(policies, R"({"softDeletePolicy":{"status":"enabled","days":2}})", kJson), 200);
  EXPECT_EQ(str(*member(p, "softDeletePolicy"), "status"), "enabled");
  EXPECT_EQ(integer(*member(p, "softDeletePolicy"), "days"), 2);
  EXPECT_API_ERROR(api().patch(policies, R"({"retentionPolicy":{"days":0}})", kJson), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(api().patch(policies, R"({"other":{}})", kJson), 400, "INVALID_ARGUMENT");

  const auto image = p_->pushImage("team/app", "v1");
  ASSERT_EQ(api().del(repoPath(reg_, "team/app", "/_manifests/" + image.manifest.digest)).status,
            204);
  json::Value deleted = expectJson(api().get(repoPath(reg_, "team/app", "/_deleted")), 200);
  ASSERT_EQ(member(deleted, "manifests")->asArray().size(), 1u);
  json::Value repos = expectJson(api().get(regPath(reg_, "/deleted-repositories")), 200);
  ASSERT_EQ(repos.asArray().size(), 1u);
  const std::string restore =
      repoPath(reg_, "team/app", "/_deleted/" + image.manifest.digest + "/restore");
  EXPECT_API_ERROR(post(restore, R"({"tag":"bad tag"})"), 400, "INVALID_ARGUMENT");
  json::Value restored = expectJson(post(restore, R"({"tag":"again"})"), 200);
  EXPECT_EQ(p_->getManifest("team/app", "again").status, 200);
  EXPECT_EQ(p_->getManifest("team/app", "v1").status, 404) << "only the tag asked for";
  EXPECT_API_ERROR(post(restore, "{}"), 404, "NOT_FOUND");

  const std::string schedules = regPath(reg_, "/purge-schedules");
  EXPECT_API_ERROR(post(schedules, R"({"schedule":"0 3 * *","untagged":true})"), 400,
                   "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(schedules, R"({"schedule":"0 3 * * *"})"), 400, "INVALID_ARGUMENT");
  EXPECT_API_ERROR(post(schedules, R"({"schedule":"0 3 * * *","filters":["nocolon"]})"), 400,
                   "INVALID_ARGUMENT");
  json::Value created =
      expectJson(post(schedules, R"({"schedule":"0 3 * * *","filters":["a:.*"],"ago":"1d"})"), 201);
  EXPECT_EQ(integer(created, "agoSeconds"), 86400);
  EXPECT_EQ(api().del(schedules + "/" + str(created, "id")).status, 204);
  EXPECT_API_ERROR(api().del(schedules + "/" + str(created, "id")), 404, "NOT_FOUND");
  EXPECT_API_ERROR(api().del(schedules + "/x"), 404, "NOT_FOUND");
}

}  // namespace
}  // namespace berth_test::control
