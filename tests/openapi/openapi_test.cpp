// The OpenAPI document of the control API (src/control/openapi.json, embedded in the binary)
// against the route table the server dispatches from.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/routes.hpp"

namespace {

namespace json = boost::json;
using berth::control::Operation;

// What the document must say about each operation (docs/control-api.md).
struct Expected {
  std::string_view operationId;         // the Operation's name in lowerCamelCase
  int success;                          // the 2xx status
  std::vector<int> errors;              // error statuses it must list
  std::string_view body;                // request body schema ("" = none)
  std::vector<std::string_view> query;  // query parameter names
  bool registryCredentials;             // a registry's admin account or tokens may call it
};

const std::vector<int> kAuth{401, 403, 429};

std::vector<int> withAuth(std::vector<int> errors) {
  errors.insert(errors.end(), kAuth.begin(), kAuth.end());
  return errors;
}

// A switch without default: a new Operation without an entry here does not compile (-Wswitch).
Expected expected(Operation operation) {
  switch (operation) {
    case Operation::OpenApi:
      return {"openApi", 200, {}, "", {}, true};
    case Operation::ShowVersion:
      return {"showVersion", 200, withAuth({}), "", {}, false};
    case Operation::ListRegistries:
      return {"listRegistries", 200, withAuth({}), "", {}, false};
    case Operation::CreateRegistry:
      return {"createRegistry", 201, withAuth({400, 409, 413}), "RegistryCreate", {}, false};
    case Operation::CheckName:
      return {"checkName", 200, withAuth({400, 413}), "CheckNameRequest", {}, false};
    case Operation::ShowRegistry:
      return {"showRegistry", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateRegistry:
      return {"updateRegistry", 200, withAuth({400, 404, 409, 413}), "RegistryUpdate", {}, false};
    case Operation::DeleteRegistry:
      return {"deleteRegistry", 204, withAuth({404, 409}), "", {}, false};
    case Operation::ShowUsage:
      return {"showUsage", 200, withAuth({404}), "", {}, true};
    case Operation::ShowGc:
      return {"showGc", 200, withAuth({404}), "", {}, true};
    case Operation::PurgeRepository:
      return {"purgeRepository", 200, withAuth({400, 404, 413}), "PurgeRequest", {}, true};
    case Operation::ListPurgeSchedules:
      return {"listPurgeSchedules", 200, withAuth({404}), "", {}, true};
    case Operation::CreatePurgeSchedule:
      return {"createPurgeSchedule", 201, withAuth({400, 404, 413}),
              "PurgeScheduleCreate", {},  true};
    case Operation::DeletePurgeSchedule:
      return {"deletePurgeSchedule", 204, withAuth({404}), "", {}, true};
    case Operation::ShowPolicies:
      return {"showPolicies", 200, withAuth({404}), "", {}, true};
    case Operation::UpdatePolicies:
      return {"updatePolicies", 200, withAuth({400, 404, 413}), "PoliciesUpdate", {}, true};
    case Operation::TagHistory:
      return {"tagHistory", 200, withAuth({400, 404}), "", {"n", "last"}, true};
    case Operation::ListDeletedRepositories:
      return {"listDeletedRepositories", 200, withAuth({404}), "", {}, true};
    case Operation::ListDeletedManifests:
      return {"listDeletedManifests", 200, withAuth({404}), "", {}, true};
    case Operation::RestoreManifest:
      return {"restoreManifest", 200, withAuth({400, 404, 413}), "RestoreRequest", {}, true};
    case Operation::RollbackTag:
      return {"rollbackTag", 200, withAuth({400, 404, 409, 413}), "RollbackRequest", {}, true};
    case Operation::ShowCredentials:
      return {"showCredentials", 200, withAuth({404}), "", {}, true};
    case Operation::RenewCredential:
      return {"renewCredential",        200, withAuth({400, 404, 413}),
              "CredentialRenewRequest", {},  true};
    case Operation::Login:
      return {"login", 200, withAuth({404}), "", {}, true};
    case Operation::ListRepositories:
      return {
          "listRepositories", 200, withAuth({400, 404}), "", {"n", "last", "orderby", "q"}, true};
    case Operation::ShowRepository:
      return {"showRepository", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateRepository:
      return {"updateRepository", 200, withAuth({400, 404, 413}), "RepositoryUpdate", {}, true};
    case Operation::DeleteRepository:
      return {"deleteRepository", 200, withAuth({404}), "", {}, true};
    case Operation::ListTags:
      return {"listTags", 200, withAuth({400, 404}), "", {"orderby", "q", "n", "offset"}, true};
    case Operation::ShowTag:
      return {"showTag", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateTag:
      return {"updateTag", 200, withAuth({400, 404, 413}), "ItemAttributesUpdate", {}, true};
    case Operation::DeleteTag:
      return {"deleteTag", 204, withAuth({404}), "", {}, true};
    case Operation::ListManifests:
      return {"listManifests", 200, withAuth({400, 404}), "", {"orderby"}, true};
    case Operation::ShowManifest:
      return {"showManifest", 200, withAuth({400, 404}), "", {}, true};
    case Operation::UpdateManifest:
      return {"updateManifest", 200, withAuth({400, 404, 413}), "ItemAttributesUpdate", {}, true};
    case Operation::DeleteManifest:
      return {"deleteManifest", 204, withAuth({400, 404}), "", {}, true};
    case Operation::ListScopeMaps:
      return {"listScopeMaps", 200, withAuth({404}), "", {}, true};
    case Operation::CreateScopeMap:
      return {"createScopeMap", 201, withAuth({400, 404, 409, 413}), "ScopeMapCreate", {}, true};
    case Operation::ShowScopeMap:
      return {"showScopeMap", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateScopeMap:
      return {"updateScopeMap", 200, withAuth({400, 404, 413}), "ScopeMapUpdate", {}, true};
    case Operation::DeleteScopeMap:
      return {"deleteScopeMap", 204, withAuth({404, 409}), "", {}, true};
    case Operation::ListTokens:
      return {"listTokens", 200, withAuth({404}), "", {}, true};
    case Operation::CreateToken:
      return {"createToken", 201, withAuth({400, 404, 409, 413}), "TokenCreate", {}, true};
    case Operation::ShowToken:
      return {"showToken", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateToken:
      return {"updateToken", 200, withAuth({400, 404, 413}), "TokenUpdate", {}, true};
    case Operation::DeleteToken:
      return {"deleteToken", 204, withAuth({404}), "", {}, true};
    case Operation::GenerateTokenCredential:
      return {"generateTokenCredential", 200, withAuth({400, 404, 413}),
              "TokenCredentialRequest",  {},  true};
    case Operation::DeleteTokenCredential:
      return {"deleteTokenCredential", 204, withAuth({400, 404}), "", {}, true};
    case Operation::ListWebhooks:
      return {"listWebhooks", 200, withAuth({404}), "", {}, true};
    case Operation::CreateWebhook:
      return {"createWebhook", 201, withAuth({400, 404, 409, 413}), "WebhookCreate", {}, true};
    case Operation::ShowWebhook:
      return {"showWebhook", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateWebhook:
      return {"updateWebhook", 200, withAuth({400, 404, 413}), "WebhookUpdate", {}, true};
    case Operation::DeleteWebhook:
      return {"deleteWebhook", 204, withAuth({404}), "", {}, true};
    case Operation::PingWebhook:
      return {"pingWebhook", 202, withAuth({404}), "", {}, true};
    case Operation::ListWebhookEvents:
      return {"listWebhookEvents", 200, withAuth({400, 404}), "", {"n", "last"}, true};
    case Operation::ShowWebhookConfig:
      return {"showWebhookConfig", 200, withAuth({404}), "", {}, true};
    case Operation::ListCredentialSets:
      return {"listCredentialSets", 200, withAuth({404}), "", {}, true};
    case Operation::CreateCredentialSet:
      return {"createCredentialSet", 201, withAuth({400, 404, 409, 413}),
              "CredentialSetCreate", {},  true};
    case Operation::ShowCredentialSet:
      return {"showCredentialSet", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateCredentialSet:
      return {"updateCredentialSet", 200, withAuth({400, 404, 413}),
              "CredentialSetUpdate", {},  true};
    case Operation::DeleteCredentialSet:
      return {"deleteCredentialSet", 204, withAuth({404, 409}), "", {}, true};
    case Operation::ListCacheRules:
      return {"listCacheRules", 200, withAuth({404}), "", {}, true};
    case Operation::CreateCacheRule:
      return {"createCacheRule", 201, withAuth({400, 404, 409, 413}), "CacheRuleCreate", {}, true};
    case Operation::ShowCacheRule:
      return {"showCacheRule", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateCacheRule:
      return {"updateCacheRule", 200, withAuth({400, 404, 413}), "CacheRuleUpdate", {}, true};
    case Operation::DeleteCacheRule:
      return {"deleteCacheRule", 204, withAuth({404}), "", {}, true};
    case Operation::ListImports:
      return {"listImports", 200, withAuth({400, 404}), "", {"n"}, true};
    case Operation::CreateImport:
      return {"createImport", 202, withAuth({400, 404, 413}), "ImportCreate", {}, true};
    case Operation::ShowImport:
      return {"showImport", 200, withAuth({404}), "", {}, true};
    case Operation::ListReplications:
      return {"listReplications", 200, withAuth({404}), "", {}, true};
    case Operation::CreateReplication:
      return {"createReplication", 201, withAuth({400, 404, 409, 413}),
              "ReplicationCreate", {},  true};
    case Operation::ShowReplication:
      return {"showReplication", 200, withAuth({404}), "", {}, true};
    case Operation::UpdateReplication:
      return {"updateReplication", 200, withAuth({400, 404, 413}), "ReplicationUpdate", {}, true};
    case Operation::DeleteReplication:
      return {"deleteReplication", 204, withAuth({404}), "", {}, true};
    case Operation::SyncReplication:
      return {"syncReplication", 202, withAuth({404}), "", {}, true};
    case Operation::ListAudit:
      return {"listAudit", 200, withAuth({400}), "", {"n", "last", "since", "identity", "action"},
              false};
    case Operation::CreateSession:
      return {"createSession", 201, withAuth({400, 413}), "SessionCreate", {}, true};
    case Operation::ShowSession:
      return {"showSession", 200, withAuth({}), "", {}, true};
    case Operation::DeleteSession:
      return {"deleteSession", 204, withAuth({}), "", {}, true};
    case Operation::ListUsers:
      return {"listUsers", 200, withAuth({}), "", {}, false};
    case Operation::CreateUser:
      return {"createUser", 201, withAuth({400, 409, 413}), "UserCreate", {}, false};
    case Operation::ShowUser:
      return {"showUser", 200, withAuth({404}), "", {}, false};
    case Operation::DeleteUser:
      return {"deleteUser", 204, withAuth({404}), "", {}, false};
    case Operation::SetUserPassword:
      return {"setUserPassword", 204, withAuth({400, 404, 413}), "UserPassword", {}, false};
    case Operation::ListServicePrincipals:
      return {"listServicePrincipals", 200, withAuth({}), "", {}, false};
    case Operation::CreateServicePrincipal:
      return {"createServicePrincipal", 201, withAuth({400, 404, 409, 413}),
              "ServicePrincipalCreate", {},  false};
    case Operation::ShowServicePrincipal:
      return {"showServicePrincipal", 200, withAuth({404}), "", {}, false};
    case Operation::DeleteServicePrincipal:
      return {"deleteServicePrincipal", 204, withAuth({404}), "", {}, false};
    case Operation::ResetServicePrincipalCredential:
      return {"resetServicePrincipalCredential",
              200,
              withAuth({400, 404, 413}),
              "CredentialReset",
              {},
              false};
    case Operation::DeleteServicePrincipalCredential:
      return {"deleteServicePrincipalCredential", 204, withAuth({404}), "", {}, false};
    case Operation::ListFederatedCredentials:
      return {"listFederatedCredentials", 200, withAuth({404}), "", {}, false};
    case Operation::CreateFederatedCredential:
      return {"createFederatedCredential", 201, withAuth({400, 404, 409, 413}),
              "FederatedCredentialCreate", {},  false};
    case Operation::DeleteFederatedCredential:
      return {"deleteFederatedCredential", 204, withAuth({404}), "", {}, false};
    case Operation::ListRoleAssignments:
      return {"listRoleAssignments", 200, withAuth({}), "", {"assignee", "scope"}, false};
    case Operation::CreateRoleAssignment:
      return {"createRoleAssignment", 201, withAuth({400, 404, 409, 413}),
              "RoleAssignmentCreate", {},  false};
    case Operation::DeleteRoleAssignment:
      return {"deleteRoleAssignment", 204, withAuth({404}), "", {}, false};
    case Operation::ListRegistryAudit:
      return {"listRegistryAudit",
              200,
              withAuth({400, 404}),
              "",
              {"n", "last", "since", "identity", "action"},
              true};
  }
  ADD_FAILURE() << "Operation " << static_cast<int>(operation) << " has no expectation";
  return {};
}

// The error table of docs/control-api.md.
const std::map<int, std::string_view> kErrorCodes{
    {400, "INVALID_ARGUMENT"}, {401, "UNAUTHORIZED"},       {403, "DENIED"},
    {404, "NOT_FOUND"},        {405, "METHOD_NOT_ALLOWED"}, {409, "CONFLICT"},
    {413, "TOO_LARGE"},        {429, "TOO_MANY_REQUESTS"},
};

const std::set<std::string> kMethods{"get",     "put",  "post",  "delete",
                                     "options", "head", "patch", "trace"};

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  });
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

class OpenApiDocument : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    boost::system::error_code ec;
    document_ = new json::value(json::parse(berth::control::openApiDocument(), ec));
    parseError_ = ec.message();
    parsed_ = !ec && document_->is_object();
  }
  static void TearDownTestSuite() {
    delete document_;
    document_ = nullptr;
  }
  void SetUp() override {
    if (!parsed_) GTEST_SKIP() << "the document does not parse: " << parseError_;
  }

  static const json::object& doc() { return document_->as_object(); }

  // The value a JSON pointer names, or nullptr.
  static const json::value* at(std::string_view pointer) {
    boost::system::error_code ec;
    const json::value* v = document_->find_pointer(pointer, ec);
    return ec ? nullptr : v;
  }

  // v itself, or what its "$ref" names (following chains); nullptr when a reference dangles.
  static const json::value* resolve(const json::value* v) {
    for (int depth = 0; v != nullptr && depth < 16; ++depth) {
      const json::object* o = v->if_object();
      if (o == nullptr || !o->contains("$ref")) return v;
      const json::string* ref = o->at("$ref").if_string();
      if (ref == nullptr || ref->empty() || ref->front() != '#') return nullptr;
      v = at(std::string_view(*ref).substr(1));
    }
    return nullptr;
  }

  // The operation object of (METHOD, path), or nullptr.
  static const json::object* operation(std::string_view method, std::string_view path) {
    const json::object* paths = doc().contains("paths") ? doc().at("paths").if_object() : nullptr;
    if (paths == nullptr || !paths->contains(path)) return nullptr;
    const json::object* item = paths->at(path).if_object();
    std::string m = lower(method);
    if (item == nullptr || !item->contains(m)) return nullptr;
    return item->at(m).if_object();
  }

  // The parameters of an operation, its path item's included, references resolved.
  static std::vector<const json::object*> parameters(std::string_view path,
                                                     const json::object& op) {
    std::vector<const json::object*> out;
    auto add = [&](const json::value& list) {
      if (!list.is_array()) {
        ADD_FAILURE() << path << ": parameters is not an array";
        return;
      }
      for (const json::value& p : list.as_array()) {
        const json::value* r = resolve(&p);
        if (r != nullptr && r->is_object()) out.push_back(&r->as_object());
      }
    };
    const json::object& item = doc().at("paths").at(path).as_object();
    if (item.contains("parameters")) add(item.at("parameters"));
    if (op.contains("parameters")) add(op.at("parameters"));
    return out;
  }

  static bool usesErrorSchema(const json::value* response) {
    const json::value* r = resolve(response);
    if (r == nullptr || !r->is_object()) return false;
    boost::system::error_code ec;
    const json::value* schema = r->find_pointer("/content/application~1json/schema/$ref", ec);
    return !ec && schema->is_string() && schema->as_string() == "#/components/schemas/Error";
  }

  static inline json::value* document_ = nullptr;
  static inline bool parsed_ = false;
  static inline std::string parseError_;
};

TEST(OpenApiDocumentText, ParsesAsJsonObject) {
  boost::system::error_code ec;
  json::value v = json::parse(berth::control::openApiDocument(), ec);
  ASSERT_FALSE(ec) << "the embedded document is not JSON: " << ec.message();
  EXPECT_TRUE(v.is_object());
}

TEST(OpenApiDocumentText, EmbeddedIsTheSourceFile) {
  std::ifstream in(BERTH_OPENAPI_JSON_PATH, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << BERTH_OPENAPI_JSON_PATH;
  std::string source{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_TRUE(source == berth::control::openApiDocument())
      << "the embedded document differs from " << BERTH_OPENAPI_JSON_PATH
      << " (rebuild berth_control_doc)";
}

TEST_F(OpenApiDocument, VersionAndInfo) {
  ASSERT_TRUE(doc().contains("openapi"));
  EXPECT_EQ(doc().at("openapi"), json::value("3.0.3"));
  const json::value* title = at("/info/title");
  const json::value* version = at("/info/version");
  ASSERT_TRUE(title != nullptr && version != nullptr) << "info.title and info.version are required";
  EXPECT_EQ(*title, json::value("berth control API"));
  EXPECT_EQ(*version, json::value("1"));
}

TEST_F(OpenApiDocument, PathsAndMethodsAreExactlyTheRoutes) {
  std::map<std::pair<std::string, std::string>, std::string> documented;  // -> operationId
  const json::object* paths = doc().contains("paths") ? doc().at("paths").if_object() : nullptr;
  ASSERT_NE(paths, nullptr) << "no paths object";
  for (const auto& [path, item] : *paths) {
    ASSERT_TRUE(item.is_object()) << path;
    for (const auto& [key, op] : item.as_object()) {
      if (!kMethods.contains(std::string(key))) continue;
      std::string id = "(no operationId)";
      if (op.is_object() && op.as_object().contains("operationId") &&
          op.as_object().at("operationId").is_string()) {
        id = std::string(op.as_object().at("operationId").as_string());
      }
      documented[{upper(key), std::string(path)}] = id;
    }
  }
  std::map<std::pair<std::string, std::string>, std::string> routed;  // -> operation name
  for (const berth::control::Route& route : berth::control::routes()) {
    auto [it, inserted] =
        routed.emplace(std::pair{std::string(route.method), std::string(route.path)},
                       std::string(expected(route.operation).operationId));
    EXPECT_TRUE(inserted) << "routes() has " << route.method << " " << route.path << " twice";
  }
  std::ostringstream onlyDocument, onlyRoutes;
  for (const auto& [key, id] : documented) {
    if (!routed.contains(key))
      onlyDocument << "\n  " << id << ": " << key.first << " " << key.second;
  }
  for (const auto& [key, id] : routed) {
    if (!documented.contains(key))
      onlyRoutes << "\n  " << id << ": " << key.first << " " << key.second;
  }
  EXPECT_TRUE(onlyDocument.str().empty())
      << "in the document, not in routes():" << onlyDocument.str();
  EXPECT_TRUE(onlyRoutes.str().empty()) << "in routes(), not in the document:" << onlyRoutes.str();
}

TEST_F(OpenApiDocument, OperationIdsAreTheOperationNames) {
  std::set<std::string_view> seen;
  for (const berth::control::Route& route : berth::control::routes()) {
    Expected want = expected(route.operation);
    ASSERT_FALSE(want.operationId.empty());
    EXPECT_TRUE(want.operationId.front() >= 'a' && want.operationId.front() <= 'z')
        << want.operationId << " is not lowerCamelCase";
    EXPECT_TRUE(seen.insert(want.operationId).second)
        << "two routes have the operation " << want.operationId;
    const json::object* op = operation(route.method, route.path);
    if (op == nullptr) continue;  // reported by PathsAndMethodsAreExactlyTheRoutes
    ASSERT_TRUE(op->contains("operationId")) << route.method << " " << route.path;
    EXPECT_EQ(op->at("operationId"), json::value(want.operationId))
        << route.method << " " << route.path;
  }
}

TEST_F(OpenApiDocument, EveryOperationListsItsStatuses) {
  for (const berth::control::Route& route : berth::control::routes()) {
    const json::object* op = operation(route.method, route.path);
    if (op == nullptr) continue;
    Expected want = expected(route.operation);
    SCOPED_TRACE(std::string(want.operationId) + ": " + std::string(route.method) + " " +
                 std::string(route.path));
    ASSERT_TRUE(op->contains("responses") && op->at("responses").is_object());
    const json::object& responses = op->at("responses").as_object();
    EXPECT_TRUE(responses.contains(std::to_string(want.success)))
        << "no " << want.success << " response";
    for (const auto& [status, response] : responses) {
      if (status.starts_with('2')) {
        EXPECT_EQ(status, std::to_string(want.success)) << "another success status";
      }
      EXPECT_NE(resolve(&response), nullptr) << status << " does not resolve";
    }
    for (int status : want.errors) {
      std::string key = std::to_string(status);
      if (!responses.contains(key)) {
        ADD_FAILURE() << "no " << status << " (" << kErrorCodes.at(status) << ") response";
        continue;
      }
      EXPECT_TRUE(usesErrorSchema(&responses.at(key))) << status << " does not use Error";
    }
  }
}

TEST_F(OpenApiDocument, ErrorResponsesUseTheErrorSchema) {
  // Every status of the error table is described once, in components/responses.
  const json::value* components = at("/components/responses");
  ASSERT_NE(components, nullptr);
  std::set<int> described;
  for (const auto& [name, response] : components->as_object()) {
    EXPECT_TRUE(usesErrorSchema(&response)) << "components/responses/" << name;
    const json::value* r = resolve(&response);
    if (r == nullptr || !r->as_object().contains("description")) continue;
    std::string_view text = r->as_object().at("description").as_string();
    for (const auto& [status, code] : kErrorCodes) {
      if (text.starts_with(std::string(code) + ":")) described.insert(status);
    }
  }
  for (const auto& [status, code] : kErrorCodes) {
    EXPECT_TRUE(described.contains(status)) << status << " " << code << " is not described";
  }
  // The Error schema's codes are the table's, and the server's INTERNAL_ERROR (500).
  const json::value* codes = at("/components/schemas/Error/properties/error/properties/code/enum");
  ASSERT_NE(codes, nullptr);
  std::set<std::string> got, want;
  for (const json::value& c : codes->as_array()) got.insert(std::string(c.as_string()));
  for (const auto& [status, code] : kErrorCodes) want.insert(std::string(code));
  want.insert("INTERNAL_ERROR");
  EXPECT_EQ(got, want);
  // And every 4xx anywhere in paths uses Error.
  for (const auto& [path, item] : doc().at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (!kMethods.contains(std::string(method))) continue;
      for (const auto& [status, response] : op.at("responses").as_object()) {
        if (status.starts_with('4') || status.starts_with('5')) {
          EXPECT_TRUE(usesErrorSchema(&response)) << method << " " << path << " " << status;
        }
      }
    }
  }
}

// Collects every "$ref" in v with where it was found.
void collectRefs(const json::value& v, const std::string& where,
                 std::vector<std::pair<std::string, std::string>>& out) {
  if (const json::object* o = v.if_object()) {
    for (const auto& [key, child] : *o) {
      if (key == "$ref") {
        out.emplace_back(where, child.is_string() ? std::string(child.as_string()) : "");
      } else {
        collectRefs(child, where + "/" + std::string(key), out);
      }
    }
  } else if (const json::array* a = v.if_array()) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      collectRefs((*a)[i], where + "/" + std::to_string(i), out);
    }
  }
}

TEST_F(OpenApiDocument, EveryRefResolves) {
  std::vector<std::pair<std::string, std::string>> refs;
  collectRefs(*document_, "", refs);
  EXPECT_GT(refs.size(), 50u) << "the document uses components";
  for (const auto& [where, ref] : refs) {
    ASSERT_TRUE(ref.starts_with("#/")) << where << ": $ref '" << ref << "' is not local";
    // JSON pointers escape '/' as ~1 and '~' as ~0; component names here use neither.
    EXPECT_NE(at(std::string_view(ref).substr(1)), nullptr)
        << where << ": $ref " << ref << " resolves to nothing";
  }
}

TEST_F(OpenApiDocument, PathParametersAreDeclared) {
  for (const berth::control::Route& route : berth::control::routes()) {
    const json::object* op = operation(route.method, route.path);
    if (op == nullptr) continue;
    SCOPED_TRACE(std::string(route.method) + " " + std::string(route.path));
    std::set<std::string> inTemplate, declared;
    std::string_view path = route.path;
    for (std::size_t open = path.find('{'); open != std::string_view::npos;
         open = path.find('{', open + 1)) {
      inTemplate.emplace(path.substr(open + 1, path.find('}', open) - open - 1));
    }
    for (const json::object* p : parameters(route.path, *op)) {
      if (p->contains("in") && p->at("in") == json::value("path")) {
        declared.emplace(p->at("name").as_string());
        EXPECT_TRUE(p->contains("required") && p->at("required") == json::value(true))
            << "path parameter " << p->at("name").as_string() << " is not required";
      }
    }
    EXPECT_EQ(declared, inTemplate);
  }
  // {repository} may contain slashes, and says so.
  const json::value* repository = at("/components/parameters/repository/description");
  ASSERT_NE(repository, nullptr);
  EXPECT_NE(std::string_view(repository->as_string()).find("`/`"), std::string_view::npos);
}

TEST_F(OpenApiDocument, QueryParametersAndBodies) {
  for (const berth::control::Route& route : berth::control::routes()) {
    const json::object* op = operation(route.method, route.path);
    if (op == nullptr) continue;
    Expected want = expected(route.operation);
    SCOPED_TRACE(std::string(want.operationId));
    std::set<std::string> query;
    for (const json::object* p : parameters(route.path, *op)) {
      if (p->contains("in") && p->at("in") == json::value("query")) {
        query.emplace(p->at("name").as_string());
      }
    }
    EXPECT_EQ(query, std::set<std::string>(want.query.begin(), want.query.end()));
    if (want.body.empty()) {
      EXPECT_FALSE(op->contains("requestBody")) << "a request body it does not take";
      continue;
    }
    ASSERT_TRUE(op->contains("requestBody")) << "no request body";
    boost::system::error_code ec;
    const json::value* schema =
        op->at("requestBody").find_pointer("/content/application~1json/schema/$ref", ec);
    ASSERT_FALSE(ec) << "the request body is not a JSON schema reference";
    EXPECT_EQ(*schema, json::value("#/components/schemas/" + std::string(want.body)));
  }
}

TEST_F(OpenApiDocument, SecuritySchemes) {
  const json::value* bearer = at("/components/securitySchemes/operatorToken");
  const json::value* basic = at("/components/securitySchemes/registryBasic");
  const json::value* session = at("/components/securitySchemes/session");
  ASSERT_TRUE(bearer != nullptr && basic != nullptr && session != nullptr);
  EXPECT_EQ(session->at("type"), json::value("apiKey"));
  EXPECT_EQ(session->at("in"), json::value("cookie"));
  EXPECT_EQ(session->at("name"), json::value("berth_session"));
  EXPECT_EQ(bearer->at("type"), json::value("http"));
  EXPECT_EQ(bearer->at("scheme"), json::value("bearer"));
  EXPECT_EQ(basic->at("type"), json::value("http"));
  EXPECT_EQ(basic->at("scheme"), json::value("basic"));
  const json::value* global = at("/security");
  ASSERT_NE(global, nullptr);
  // The set of schemes, one per alternative, an operation accepts ("" = none).
  auto schemes = [](const json::value& security) {
    std::set<std::string> out;
    for (const json::value& alternative : security.as_array()) {
      if (alternative.as_object().empty()) out.insert("");
      for (const auto& [name, scopes] : alternative.as_object()) out.insert(std::string(name));
    }
    return out;
  };
  for (const berth::control::Route& route : berth::control::routes()) {
    const json::object* op = operation(route.method, route.path);
    if (op == nullptr) continue;
    Expected want = expected(route.operation);
    SCOPED_TRACE(std::string(want.operationId));
    std::set<std::string> got = schemes(op->contains("security") ? op->at("security") : *global);
    if (route.operation == Operation::OpenApi || route.operation == Operation::CreateSession) {
      EXPECT_TRUE(got.empty() || got == std::set<std::string>{""}) << "must need no credentials";
    } else {
      // Basic credentials: a registry's own (under it), or a user's or service principal's of
      // the deployment (every route, by its roles).
      EXPECT_EQ(got, (std::set<std::string>{"operatorToken", "registryBasic", "session"}));
    }
  }
}

}  // namespace
