// The authorization matrix of roles (docs/control-api.md, "Principals and roles"): each of
// ACR's six roles assigned at each kind of scope — the deployment, the registry, a repository
// pattern of it, and another registry — against data-plane and control-plane requests, on a
// fresh server per cell group. The expected outcomes are written out below, row by row, not
// derived from the role table the server uses.
#include <array>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};

// clang-format off
enum Row {
  kPullTeam, kPullOther, kPushTeam, kDeleteManifestTeam, kListRegistriesHasIt, kShowRegistry,
  kShowUsage, kUpdateRegistry, kListTokens, kCreateToken, kListRepositories, kShowTag,
  kUpdateTag, kDeleteTag, kCreateRegistry, kListUsers, kAssignAtRegistry, kAssignAtDeployment,
  kCreateUser, kLogin, kRowCount
};
constexpr std::array<const char*, kRowCount> kRowNames = {
  "GET /v2/team/app/manifests/v1", "GET /v2/other/app/manifests/v1",
  "POST /v2/team/app/blobs/uploads/", "DELETE /v2/team/app/manifests/<digest>",
  "GET /api/v1/registries lists it", "GET /api/v1/registries/R", "GET .../usage",
  "PATCH /api/v1/registries/R", "GET .../tokens", "POST .../tokens", "GET .../repositories",
  "GET .../team/app/_tags/v1", "PATCH .../team/app/_tags/v1", "DELETE .../team/app/_tags/v2",
  "POST /api/v1/registries", "GET /api/v1/users", "POST /api/v1/role-assignments at R",
  "POST /api/v1/role-assignments at /", "POST /api/v1/users", "POST .../R/login",
};

enum Scope { kDeployment, kRegistry, kPattern, kOtherRegistry, kScopeCount };
constexpr std::array<const char*, kScopeCount> kScopeNames = {
  "Deployment", "Registry", "Pattern", "OtherRegistry"};
constexpr std::array<const char*, 6> kRoles = {
  "AcrPull", "AcrPush", "AcrDelete", "Reader", "Contributor", "Owner"};

// Y allowed, - refused; one character per Row, in order. Rows, in groups of five:
//                               pull push del   list show usage patch tokens mktoken  repos tag
//                               patchtag deltag mkreg users  assignR assign/ mkuser login
constexpr std::array<std::array<const char*, 6>, kScopeCount> kExpected = {{
  // at "/"
  {"YY--Y" "Y----" "YY---" "----Y",   // AcrPull
   "YYY-Y" "Y----" "YY---" "----Y",   // AcrPush
   "---YY" "Y----" "YY-Y-" "----Y",   // AcrDelete
   "YY--Y" "YY-Y-" "YY---" "Y---Y",   // Reader
   "YYYYY" "YYYYY" "YYYYY" "Y---Y",   // Contributor
   "YYYYY" "YYYYY" "YYYYY" "YYYYY"},  // Owner
  // at "/registries/R"
  {"YY--Y" "Y----" "YY---" "----Y",
   "YYY-Y" "Y----" "YY---" "----Y",
   "---YY" "Y----" "YY-Y-" "----Y",
   "YY--Y" "YY-Y-" "YY---" "----Y",
   "YYYYY" "YYYYY" "YYYY-" "----Y",
   "YYYYY" "YYYYY" "YYYY-" "YY--Y"},
  // at "/registries/R/repositories/team/*"
  {"Y---Y" "Y----" "YY---" "----Y",
   "Y-Y-Y" "Y----" "YY---" "----Y",
   "---YY" "Y----" "YY-Y-" "----Y",
   "Y---Y" "Y----" "YY---" "----Y",
   "Y-YYY" "Y----" "YYYY-" "----Y",
   "Y-YYY" "Y----" "YYYY-" "----Y"},
  // at "/registries/OTHER": nothing of R; an Owner there may look up whom to assign
  {"-----" "-----" "-----" "-----",
   "-----" "-----" "-----" "-----",
   "-----" "-----" "-----" "-----",
   "-----" "-----" "-----" "-----",
   "-----" "-----" "-----" "-----",
   "-----" "-----" "-----" "Y----"},
}};
// clang-format on

struct Cell {
  Scope scope;
  int role;
};

class RolesMatrixTest : public AdminRegistryTest, public ::testing::WithParamInterface<Cell> {
 protected:
  // Whether the request was allowed; a refusal must be 403 (the caller is known).
  bool allowed(long status, Row row) {
    if (status >= 200 && status < 300) return true;
    EXPECT_EQ(status, 403) << kRowNames[row] << ": a refusal of a signed-in principal";
    return false;
  }
};

TEST_P(RolesMatrixTest, Cell) {
  const Cell cell = GetParam();
  const std::string role = kRoles[static_cast<size_t>(cell.role)];
  const std::string other = uniqueRegistryName();
  createRegistry(other);
  p_->pushImage("team/app", "v1");
  p_->pushImage("team/app", "v2");
  const auto doomed = p_->pushImage("team/app", "v3");
  p_->pushImage("other/app", "v1");
  // A bystander to assign roles to, and the principal under test.
  expectJson(api().post("/api/v1/users", R"({"name":"bystander"})", kJson), 201);
  const std::string password = "correct-horse-battery";
  expectJson(
      api().post("/api/v1/users", R"({"name":"subject","password":")" + password + "\"}", kJson),
      201);
  const std::array<std::string, kScopeCount> scopes = {
      "/", "/registries/" + reg_, "/registries/" + reg_ + "/repositories/team/*",
      "/registries/" + other};
  expectJson(api().post("/api/v1/role-assignments",
                        R"({"assignee":"subject","role":")" + role + R"(","scope":")" +
                            scopes[cell.scope] + "\"}",
                        kJson),
             201);

  const std::string auth = basicAuthorization("subject", password);
  auto v2 = plane(reg_, auth);
  auto call = [&](std::string_view method, const std::string& target,
                  std::optional<std::string_view> body = std::nullopt) {
    return apiAs(auth, method, target, body).status;
  };
  std::string got;
  auto record = [&](Row row, bool yes) {
    ASSERT_EQ(got.size(), static_cast<size_t>(row)) << "rows are checked in their order";
    got += yes ? 'Y' : '-';
  };

  record(kPullTeam, allowed(v2->getManifest("team/app", "v1").status, kPullTeam));
  record(kPullOther, allowed(v2->getManifest("other/app", "v1").status, kPullOther));
  record(kPushTeam, allowed(v2->post("/v2/team/app/blobs/uploads/").status, kPushTeam));
  record(kDeleteManifestTeam,
         allowed(v2->del("/v2/team/app/manifests/" + doomed.manifest.digest).status,
                 kDeleteManifestTeam));
  {
    const Response r = apiAs(auth, "GET", "/api/v1/registries");
    json::Value list = expectJson(r, 200);
    const auto names = strings(&list, "name");
    record(kListRegistriesHasIt, std::find(names.begin(), names.end(), reg_) != names.end());
    // Never a registry its roles do not reach.
    for (const auto& n : names) {
      EXPECT_TRUE(n == reg_ || n == other || cell.scope == kDeployment) << n;
    }
  }
  record(kShowRegistry, allowed(call("GET", regPath(reg_)), kShowRegistry));
  record(kShowUsage, allowed(call("GET", regPath(reg_, "/usage")), kShowUsage));
  record(kUpdateRegistry, allowed(call("PATCH", regPath(reg_), R"({"anonymousPullEnabled":false})"),
                                  kUpdateRegistry));
  record(kListTokens, allowed(call("GET", regPath(reg_, "/tokens")), kListTokens));
  record(kCreateToken,
         allowed(call("POST", regPath(reg_, "/tokens"),
                      R"({"name":"made-by-subject","scopeMapName":"_repositories_pull"})"),
                 kCreateToken));
  record(kListRepositories,
         allowed(call("GET", regPath(reg_, "/repositories")), kListRepositories));
  record(kShowTag, allowed(call("GET", repoPath(reg_, "team/app", "/_tags/v1")), kShowTag));
  record(kUpdateTag,
         allowed(call("PATCH", repoPath(reg_, "team/app", "/_tags/v1"), R"({"writeEnabled":true})"),
                 kUpdateTag));
  record(kDeleteTag, allowed(call("DELETE", repoPath(reg_, "team/app", "/_tags/v2")), kDeleteTag));
  record(kCreateRegistry,
         allowed(call("POST", "/api/v1/registries", R"({"name":")" + uniqueRegistryName() + "\"}"),
                 kCreateRegistry));
  record(kListUsers, allowed(call("GET", "/api/v1/users"), kListUsers));
  record(kAssignAtRegistry,
         allowed(call("POST", "/api/v1/role-assignments",
                      R"({"assignee":"bystander","role":"AcrPull","scope":"/registries/)" + reg_ +
                          "\"}"),
                 kAssignAtRegistry));
  record(kAssignAtDeployment,
         allowed(call("POST", "/api/v1/role-assignments",
                      R"({"assignee":"bystander","role":"AcrPull","scope":"/"})"),
                 kAssignAtDeployment));
  record(kCreateUser,
         allowed(call("POST", "/api/v1/users", R"({"name":"made-by-subject"})"), kCreateUser));
  record(kLogin, allowed(call("POST", regPath(reg_, "/login")), kLogin));

  const std::string want = kExpected[cell.scope][static_cast<size_t>(cell.role)];
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i], want[i]) << role << " at " << scopes[cell.scope] << ": " << kRowNames[i]
                               << (want[i] == 'Y' ? " must be allowed" : " must be refused");
  }
}

std::vector<Cell> allCells() {
  std::vector<Cell> out;
  for (int s = 0; s < kScopeCount; ++s) {
    for (int r = 0; r < static_cast<int>(kRoles.size()); ++r) out.push_back({Scope(s), r});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Roles, RolesMatrixTest, ::testing::ValuesIn(allCells()),
                         [](const ::testing::TestParamInfo<Cell>& info) {
                           return std::string(kRoles[static_cast<size_t>(info.param.role)]) + "At" +
                                  kScopeNames[info.param.scope];
                         });

}  // namespace
}  // namespace berth_test::control
