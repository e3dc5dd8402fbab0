#include "control_support.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

namespace berth_test::control {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

}  // namespace

// ---------------------------------------------------------------------------
// Assertions and JSON
// ---------------------------------------------------------------------------
::testing::AssertionResult IsApiError(const Response& r, long status, const std::string& code) {
  if (r.status != status)
    return ::testing::AssertionFailure()
           << "expected " << status << " " << code << ", got status " << r.status << "\n"
           << r;
  if (r.method == "HEAD") return ::testing::AssertionSuccess();
  if (auto ct = HasContentType(r, "application/json"); !ct)
    return ::testing::AssertionFailure() << "error reply: " << ct.message();
  auto doc = json::parse(r.body);
  const json::Value* err = doc ? doc->find("error") : nullptr;
  if (err == nullptr || !err->isObject())
    return ::testing::AssertionFailure()
           << "error body is not {\"error\":{\"code\",\"message\"}} (expected " << code << ")\n"
           << r;
  auto got = err->getString("code");
  if (!got) return ::testing::AssertionFailure() << "error without a string code\n" << r;
  if (!err->find("message") || !err->find("message")->isString())
    return ::testing::AssertionFailure() << "error without a string message\n" << r;
  if (*got != code)
    return ::testing::AssertionFailure() << "expected code " << code << ", got " << *got << "\n"
                                         << r;
  return ::testing::AssertionSuccess();
}

std::string errorMessages(const Response& r) {
  std::string out;
  auto doc = json::parse(r.body);
  const json::Value* errs = doc ? doc->find("errors") : nullptr;
  if (errs == nullptr || !errs->isArray()) return out;
  for (const auto& e : errs->asArray()) {
    if (!out.empty()) out += " | ";
    out += e.getString("message").value_or("");
  }
  return out;
}

json::Value expectJson(const Response& r, long status) {
  if (r.status != status) {
    ADD_FAILURE() << "expected " << status << "\n" << r;
    throw HelperFailure("unexpected status");
  }
  auto doc = json::parse(r.body);
  if (!doc) {
    ADD_FAILURE() << "body is not JSON\n" << r;
    throw HelperFailure("no JSON body");
  }
  return *doc;
}

std::string str(const json::Value& v, std::string_view key) {
  return v.getString(key).value_or("");
}

std::optional<bool> boolean(const json::Value& v, std::string_view key) {
  const json::Value* m = v.find(key);
  if (m == nullptr || !m->isBool()) return std::nullopt;
  return m->asBool();
}

std::optional<long long> integer(const json::Value& v, std::string_view key) {
  const json::Value* m = v.find(key);
  if (m == nullptr || !m->isNumber()) return std::nullopt;
  const std::string& t = m->numberText();
  if (t.empty() || t.find_first_of(".eE") != std::string::npos) return std::nullopt;
  return std::stoll(t);
}

const json::Value* member(const json::Value& v, std::string_view path) {
  const json::Value* cur = &v;
  while (cur != nullptr && !path.empty()) {
    auto dot = path.find('.');
    cur = cur->find(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

std::vector<std::string> strings(const json::Value* array, std::string_view key) {
  std::vector<std::string> out;
  if (array == nullptr || !array->isArray()) return out;
  for (const auto& e : array->asArray()) {
    if (key.empty()) {
      if (e.isString()) out.push_back(e.asString());
    } else if (auto s = e.getString(key)) {
      out.push_back(*s);
    }
  }
  return out;
}

bool jsonEqual(const json::Value& a, const json::Value& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::Value::Type::Null:
      return true;
    case json::Value::Type::Bool:
      return a.asBool() == b.asBool();
    case json::Value::Type::Number:
      return a.asNumber() == b.asNumber();
    case json::Value::Type::String:
      return a.asString() == b.asString();
    case json::Value::Type::Array:
      return std::equal(a.asArray().begin(), a.asArray().end(), b.asArray().begin(),
                        b.asArray().end(), jsonEqual);
    case json::Value::Type::Object: {
      if (a.asObject().size() != b.asObject().size()) return false;
      for (const auto& [k, v] : a.asObject()) {
        const json::Value* w = b.find(k);
        if (w == nullptr || !jsonEqual(v, *w)) return false;
      }
      return true;
    }
  }
  return false;
}

bool isRfc3339Utc(std::string_view s) {
  static const std::regex re(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00))");
  return std::regex_match(s.begin(), s.end(), re);
}

std::string uniqueRegistryName() { return "r" + randomHex(11); }

std::string jsonStrings(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ',';
    out += json::quote(i);
  }
  return out;
}

// ---------------------------------------------------------------------------
// RegistryClient
// ---------------------------------------------------------------------------
RegistryClient::RegistryClient(const std::string& baseUrl, std::string host,
                               const std::string& authorization)
    : http_(std::make_unique<HttpClient>(baseUrl)), host_(std::move(host)) {
  http_->setDefaultHeaders({{"Host", host_}});
  http_->setAuthorization(authorization);
}

Response RegistryClient::postBlob(const std::string& repo, std::string_view data) {
  return post("/v2/" + repo + "/blobs/uploads/?digest=" + sha256Digest(data), data,
              {{"Content-Type", "application/octet-stream"}});
}

Response RegistryClient::chunkedBlob(const std::string& repo, std::string_view data) {
  Response r = post("/v2/" + repo + "/blobs/uploads/");
  auto loc = r.header("Location");
  if (r.status != 202 || !loc) {
    ADD_FAILURE() << "chunkedBlob: POST expected 202 with Location\n" << r;
    throw HelperFailure("upload POST failed");
  }
  r = patch(*loc, data,
            {{"Content-Type", "application/octet-stream"},
             {"Content-Range", "0-" + std::to_string(data.size() - 1)}});
  loc = r.header("Location");
  if (r.status != 202 || !loc) {
    ADD_FAILURE() << "chunkedBlob: PATCH expected 202 with Location\n" << r;
    throw HelperFailure("upload PATCH failed");
  }
  return put(appendQuery(*loc, "digest=" + sha256Digest(data)), "",
             {{"Content-Type", "application/octet-stream"}});
}

std::string RegistryClient::pushBlob(const std::string& repo, std::string_view data) {
  std::string d = sha256Digest(data);
  Response r = postBlob(repo, data);
  if (r.status == 202 && r.header("Location")) {
    r = put(appendQuery(*r.header("Location"), "digest=" + d), data,
            {{"Content-Type", "application/octet-stream"}});
  }
  if (r.status != 201) {
    ADD_FAILURE() << "pushBlob(" << host_ << " " << repo << ") expected 201\n" << r;
    throw HelperFailure("pushBlob failed");
  }
  return d;
}

Descriptor RegistryClient::pushBlobAs(const std::string& repo, std::string_view mediaType,
                                      std::string_view data) {
  pushBlob(repo, data);
  return describe(mediaType, data);
}

Response RegistryClient::putManifest(const std::string& repo, std::string_view ref,
                                     std::string_view mediaType, std::string_view body) {
  return put("/v2/" + repo + "/manifests/" + std::string(ref), body,
             {{"Content-Type", std::string(mediaType)}});
}

std::string RegistryClient::pushManifest(const std::string& repo, std::string_view ref,
                                         std::string_view mediaType, std::string_view body) {
  Response r = putManifest(repo, ref, mediaType, body);
  if (r.status != 201) {
    ADD_FAILURE() << "pushManifest(" << host_ << " " << repo << ":" << ref << ") expected 201\n"
                  << r;
    throw HelperFailure("pushManifest failed");
  }
  return sha256Digest(body);
}

RegistryClient::Image RegistryClient::pushImage(const std::string& repo, std::string_view tag,
                                                std::size_t layerSize,
                                                const ManifestOptions& opts) {
  Image img;
  std::string config =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"nonce\":\"" + randomHex(16) + "\"}";
  img.config = pushBlobAs(repo, mt::kOciConfig, config);
  img.layer = pushBlobAs(repo, mt::kOciLayerGzip, randomBytes(layerSize));
  img.body = makeImageManifest(img.config, {img.layer}, opts);
  std::string mediaType = opts.mediaType.empty() ? mt::kOciManifest : opts.mediaType;
  img.manifest = describe(mediaType, img.body);
  pushManifest(repo, tag.empty() ? std::string_view(img.manifest.digest) : tag, mediaType,
               img.body);
  return img;
}

Response RegistryClient::getManifest(const std::string& repo, std::string_view ref) {
  return get("/v2/" + repo + "/manifests/" + std::string(ref), manifestAccept());
}

Response RegistryClient::getBlob(const std::string& repo, std::string_view digest) {
  return get("/v2/" + repo + "/blobs/" + std::string(digest));
}

Response RegistryClient::tags(const std::string& repo) { return get("/v2/" + repo + "/tags/list"); }

Response RegistryClient::catalog() { return get("/v2/_catalog"); }

// ---------------------------------------------------------------------------
// ControlTest
// ---------------------------------------------------------------------------
void ControlTest::SetUp() {
  setExtraServeArgs(serveArgs());
  RegistryTest::SetUpTestSuite();
  RegistryTest::SetUp();
  if (HasFatalFailure()) return;
  if (berthBin().empty())
    GTEST_SKIP() << "the control tests start berth with --domain and read its operator token: "
                    "they need $BERTH_BIN, not $REGISTRY_URL";
  std::string file = operatorTokenFile();
  std::ifstream in(file, std::ios::binary);
  if (!in) GTEST_FAIL() << "no operator token file " << file << " after berth serve started";
  operatorToken_ =
      trim(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
  if (operatorToken_.empty()) GTEST_FAIL() << "the operator token file " << file << " is empty";
  api_ = std::make_unique<HttpClient>(baseUrl());
  api_->setCheckApiVersion(false);
  api_->setAuthorization(operatorAuth());
}

void ControlTest::TearDown() {
  RegistryTest::TearDownTestSuite();
  setExtraServeArgs({});
}

std::string ControlTest::operatorTokenFile() const { return dataDir() + "/operator-token"; }

Response ControlTest::apiAs(const std::string& authorization, std::string_view method,
                            const std::string& target, std::optional<std::string_view> body) {
  Headers h{{"Authorization", authorization}};
  if (body) h.emplace_back("Content-Type", "application/json");
  return api().request(method, target, h, body);
}

std::string ControlTest::regPath(const std::string& registry, std::string_view suffix) {
  return "/api/v1/registries/" + registry + std::string(suffix);
}

ConfiguredRegistryTest::ConfiguredRegistryTest(std::string_view json) {
  static std::atomic<int> made{0};
  config_ = std::filesystem::temp_directory_path() /
            ("berth-config-" + std::to_string(::getpid()) + "-" + std::to_string(made++) + ".json");
  std::ofstream(config_) << json;
}

ConfiguredRegistryTest::~ConfiguredRegistryTest() {
  std::error_code ec;
  std::filesystem::remove(config_, ec);
}

void AdminRegistryTest::SetUp() {
  ControlTest::SetUp();
  if (HasFatalFailure() || IsSkipped()) return;
  reg_ = uniqueRegistryName();
  createRegistry(reg_);
  admin_ = enableAdmin(reg_);
  p_ = plane(reg_, admin_.basic());
}

std::string ControlTest::repoPath(const std::string& registry, const std::string& repository,
                                  std::string_view suffix) {
  return regPath(registry, "/repositories/" + repository + std::string(suffix));
}

std::string ControlTest::registryHost(const std::string& name) {
  std::string hp = hostPort();
  return name + "." + kDomain + hp.substr(hp.rfind(':'));
}

json::Value ControlTest::createRegistry(const std::string& name, const std::string& extraMembers) {
  std::string body = "{\"name\":" + json::quote(name);
  if (!extraMembers.empty()) body += "," + extraMembers;
  body += "}";
  return expectJson(api().post("/api/v1/registries", body, {{"Content-Type", "application/json"}}),
                    201);
}

Identity ControlTest::createRegistryWithAdmin(const std::string& name,
                                              const std::string& extraMembers) {
  createRegistry(name, extraMembers);
  return enableAdmin(name);
}

Identity ControlTest::enableAdmin(const std::string& registry) {
  json::Value reg = expectJson(api().patch(regPath(registry), R"({"adminUserEnabled":true})",
                                           {{"Content-Type", "application/json"}}),
                               200);
  if (boolean(reg, "adminUserEnabled") != true) {
    ADD_FAILURE() << "PATCH adminUserEnabled=true: the reply does not say so";
    throw HelperFailure("admin not enabled");
  }
  return {registry, renewPassword(registry, "password")};
}

std::string ControlTest::renewPassword(const std::string& registry, const std::string& which) {
  json::Value creds = expectJson(
      api().post(regPath(registry, "/credentials/renew"), "{\"name\":" + json::quote(which) + "}",
                 {{"Content-Type", "application/json"}}),
      200);
  if (const json::Value* pw = creds.find("passwords"); pw != nullptr && pw->isArray()) {
    for (const auto& p : pw->asArray()) {
      if (p.getString("name") == which && p.getString("value") && !p.getString("value")->empty())
        return *p.getString("value");
    }
  }
  ADD_FAILURE() << "credentials/renew " << which << ": no value in the reply";
  throw HelperFailure("renew without a value");
}

json::Value ControlTest::createScopeMap(const std::string& registry, const std::string& name,
                                        const std::vector<std::string>& actions) {
  std::string body =
      "{\"name\":" + json::quote(name) + ",\"actions\":[" + jsonStrings(actions) + "]}";
  return expectJson(
      api().post(regPath(registry, "/scope-maps"), body, {{"Content-Type", "application/json"}}),
      201);
}

Identity ControlTest::createToken(const std::string& registry, const std::string& name,
                                  const std::string& scopeMapName,
                                  const std::string& extraMembers) {
  std::string body =
      "{\"name\":" + json::quote(name) + ",\"scopeMapName\":" + json::quote(scopeMapName);
  if (!extraMembers.empty()) body += "," + extraMembers;
  body += "}";
  json::Value tok = expectJson(
      api().post(regPath(registry, "/tokens"), body, {{"Content-Type", "application/json"}}), 201);
  if (const json::Value* pw = member(tok, "credentials.passwords"); pw && pw->isArray()) {
    for (const auto& p : pw->asArray()) {
      if (p.getString("name") == "password1" && p.getString("value"))
        return {name, *p.getString("value")};
    }
  }
  ADD_FAILURE() << "token create " << name << ": no password1 value";
  throw HelperFailure("token without password");
}

Identity ControlTest::createTokenWithActions(const std::string& registry, const std::string& name,
                                             const std::vector<std::string>& actions) {
  createScopeMap(registry, name + "-map", actions);
  return createToken(registry, name, name + "-map");
}

json::Value ControlTest::usage(const std::string& registry) {
  return expectJson(api().get(regPath(registry, "/usage")), 200);
}

const json::Value* ControlTest::usageEntry(const json::Value& usage, std::string_view name) {
  const json::Value* v = usage.find("value");
  if (v == nullptr || !v->isArray()) return nullptr;
  for (const auto& e : v->asArray())
    if (e.getString("name") == name) return &e;
  return nullptr;
}

std::unique_ptr<RegistryClient> ControlTest::plane(const std::string& registry,
                                                   const std::string& authorization) {
  return planeAtHost(registryHost(registry), authorization);
}

std::unique_ptr<RegistryClient> ControlTest::planeAtHost(const std::string& host,
                                                         const std::string& authorization) {
  return std::make_unique<RegistryClient>(baseUrl(), host, authorization);
}

Response signInSession(HttpClient& api, const std::string& body, bool csrf) {
  Headers h{noAuth(), {"Content-Type", "application/json"}};
  if (csrf) h.emplace_back("X-Berth-Request", "1");
  return api.request("POST", "/api/v1/session", h, body);
}

std::string sessionCookieOf(const Response& r) {
  const auto set = r.header("Set-Cookie");
  EXPECT_TRUE(set) << r;
  if (!set) return "";
  const std::string prefix = "berth_session=";
  EXPECT_EQ(set->rfind(prefix, 0), 0u) << *set;
  return set->substr(prefix.size(), set->find(';') - prefix.size());
}

Response asSession(HttpClient& api, const std::string& cookie, std::string_view method,
                   const std::string& target, std::optional<std::string_view> body, bool csrf) {
  Headers h{noAuth(), {"Cookie", "theme=dark; berth_session=" + cookie}};
  if (csrf) h.emplace_back("X-Berth-Request", "portal");
  if (body) h.emplace_back("Content-Type", "application/json");
  return api.request(method, target, h, body);
}

}  // namespace berth_test::control
