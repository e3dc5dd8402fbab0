// The control plane (docs/control-api.md) driven through ControlApp::dispatch, on SQLite stores in
// a temporary directory, with a RegistryHost that records what the plane asks of it.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "auth/authenticator.hpp"
#include "auth/base64url.hpp"
#include "auth/password.hpp"
#include "control/app.hpp"
#include "control/errors.hpp"
#include "control/json.hpp"
#include "core/random.hpp"
#include "meta/sqlite/identity_store.hpp"
#include "meta/sqlite/sqlite_events.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "meta/sqlite/sqlite_upstreams.hpp"

namespace berth::control {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kOperator = "operator-token-for-tests";
constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";

std::string digestOf(char c) { return "sha256:" + std::string(64, c); }

class FakeHost final : public RegistryHost {
 public:
  explicit FakeHost(fs::path root) : root_(std::move(root)) {}
  std::string loginServer(std::string_view registry) const override {
    return std::string(registry) + ".registry.test";
  }
  std::string_view defaultRegistry() const override { return "default"; }
  storage::StoreUrl defaultStore(std::string_view registry) const override {
    storage::StoreUrl url;
    url.path = root_ / "registries" / std::string(registry);
    return url;
  }
  bool isOperatorToken(std::string_view presented) const override { return presented == kOperator; }
  std::string operatorFingerprint() const override { return fingerprint; }
  Result<void> createStorage(const meta::RegistrySettings& registry) override {
    if (failCreate) return makeError(ApiCode::Unknown, "disk full");
    created.insert(registry.name);
    return {};
  }
  Result<void> removeStorage(const meta::RegistrySettings& registry) override {
    removed.insert(registry.name);
    return {};
  }
  void forget(meta::RegistryId registry) override { forgotten.insert(registry); }
  Result<std::optional<std::string>> readSmallBlob(const meta::RegistrySettings&,
                                                   const Digest& digest, uint64_t limit) override {
    auto it = blobs.find(digest.str());
    if (it == blobs.end() || it->second.size() > limit) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  bool failCreate = false;
  std::string fingerprint = "fingerprint";   // of the operator token
  std::map<std::string, std::string> blobs;  // digest -> bytes, for readSmallBlob
  std::set<std::string> created, removed;
  std::set<meta::RegistryId> forgotten;

 private:
  fs::path root_;
};

struct Reply {
  int status = 0;
  http::Headers headers;
  std::string body;

  json::value doc() const { return json::parse(body); }
  // The error's code, or what came instead, so that a failed expectation shows the reply.
  std::string code() const { return errorMember("code"); }
  std::string message() const { return errorMember("message"); }
  std::string errorMember(std::string_view key) const {
    boost::system::error_code ec;
    const auto v = json::parse(body, ec);
    const auto* e = ec || !v.is_object() ? nullptr : v.as_object().if_contains("error");
    const auto* m = e != nullptr && e->is_object() ? e->as_object().if_contains(key) : nullptr;
    if (m == nullptr || !m->is_string()) return std::to_string(status) + " " + body;
    return std::string(m->as_string());
  }
};

std::string basic(std::string_view user, std::string_view password) {
  return "Basic " + auth::base64Encode(std::string(user) + ":" + std::string(password));
}

class ControlAppTest : public ::testing::Test {
 protected:
  ControlAppTest() {
    fs::create_directories(dir_);
    meta_ = std::move(*meta::openSqliteStore(dir_ / "berth.db"));
    identities_ = std::move(*meta::openSqliteIdentityStore(dir_ / "berth.db"));
    events_ = std::move(*meta::openSqliteEventStore(dir_ / "berth.db"));
    secrets_.emplace(std::move(*events::SecretBox::open(dir_ / "secret.key")));
    defaultId_ = *meta_->ensureRegistry("default");
    auth::AuthOptions options;
    options.loginServer = [this](std::string_view r) { return host_.loginServer(r); };
    authenticator_ = std::make_unique<auth::Authenticator>(*identities_, options);
    EXPECT_TRUE(authenticator_->ensureSigningKey());
    upstreams_ = std::move(*meta::openSqliteUpstreamStore(dir_ / "berth.db"));
    importer_ = std::make_unique<upstream::Importer>(
        *meta_, importTarget_, std::make_shared<storage::object::HttpClient>(),
        upstream::ClientOptions{});
    imports_ = std::make_unique<upstream::ImportRunner>(*upstreams_, *importer_,
                                                        upstream::ImportRunnerOptions{});
    app_ = std::make_unique<ControlApp>(ControlDeps{*meta_,
                                                    *identities_,
                                                    *authenticator_,
                                                    host_,
                                                    {*events_, *secrets_, false, {}},
                                                    {},
                                                    false,
                                                    {*upstreams_, *imports_, false}});
  }
  ~ControlAppTest() override { fs::remove_all(dir_); }

  Reply send(std::string_view method, std::string_view target, std::optional<std::string> body = {},
             std::string authorization = "Bearer " + std::string(kOperator),
             const http::Headers& extra = {}) {
    http::Request req;
    for (auto m : {http::Method::Get, http::Method::Post, http::Method::Patch, http::Method::Delete,
                   http::Method::Put}) {
      if (http::methodName(m) == method) req.method = m;
    }
    const auto question = target.find('?');
    req.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) {
      req.query = http::parseForm(target.substr(question + 1));
    }
    if (!authorization.empty()) req.headers.add("Authorization", authorization);
    for (const auto& [name, value] : extra.all()) req.headers.add(name, value);
    if (body) req.headers.add("Content-Length", std::to_string(body->size()));
    req.remote = "192.0.2.1:4000";
    req.requestId = "test";
    auto dispatch = app_->dispatch(req);
    while (dispatch.blocking) dispatch = dispatch.blocking();  // the server's blocking pool
    http::Response resp;
    if (dispatch.response) {
      resp = std::move(*dispatch.response);
    } else {
      // A sink that refuses more bytes explains why in finish().
      if (body && !body->empty()) dispatch.sink->write(body->data(), body->size());
      resp = dispatch.sink->finish(true);
    }
    audited_ = {std::string(req.auditAction), req.auditTarget, req.identity};
    return Reply{resp.status, resp.headers, resp.body};
  }
  Reply get(std::string_view target) { return send("GET", target); }
  // What the last request asked the audit log to record: action, target, identity.
  std::vector<std::string> audited_;

  // A registry with its admin enabled; returns the admin's password.
  std::string adminOf(const std::string& name, std::string extra = "") {
    EXPECT_EQ(send("POST", "/api/v1/registries",
                   R"({"name":")" + name + R"(","adminUserEnabled":true)" + extra + "}")
                  .status,
              201);
    Reply renewed =
        send("POST", "/api/v1/registries/" + name + "/credentials/renew", R"({"name":"password"})");
    EXPECT_EQ(renewed.status, 200) << renewed.body;
    return std::string(renewed.doc().at("passwords").at(0).at("value").as_string());
  }
  meta::RegistryId idOf(const std::string& name) {
    return (*identities_->registryByName(name))->id;
  }

  // team/app with an image tagged v1 and latest, an index tagged multi and a signature.
  void seedRepository(meta::RegistryId registry) {
    auto repo = *meta_->ensureRepository(registry, "team/app");
    ASSERT_TRUE(meta_->linkBlob(registry, repo, digestOf('c'), 10));
    ASSERT_TRUE(meta_->linkBlob(registry, repo, digestOf('d'), 100));
    meta::ManifestRecord image;
    image.digest = digestOf('a');
    image.mediaType = kOciManifest;
    image.payload = R"({"schemaVersion":2,"config":{"digest":")" + digestOf('c') +
                    R"(","size":10},"layers":[{"digest":")" + digestOf('d') + R"(","size":100}]})";
    image.size = image.payload.size();
    image.artifactType = "application/vnd.oci.image.config.v1+json";  // as the data plane stores it
    imageSize_ = image.size;
    const std::vector<meta::ManifestRef> refs{{digestOf('c'), false}, {digestOf('d'), false}};
    ASSERT_TRUE(meta_->putManifest(registry, repo, image, refs, "v1"));
    ASSERT_TRUE(meta_->putManifest(registry, repo, image, refs, "latest"));
    meta::ManifestRecord index;
    index.digest = digestOf('b');
    index.mediaType = kOciIndex;
    index.payload =
        R"({"schemaVersion":2,"manifests":[{"digest":")" + digestOf('a') +
        R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})";
    index.size = index.payload.size();
    ASSERT_TRUE(meta_->putManifest(registry, repo, index, {{digestOf('a'), true}}, "multi"));
    meta::ManifestRecord sig;
    sig.digest = digestOf('e');
    sig.mediaType = kOciManifest;
    sig.artifactType = "application/vnd.example.sig";
    sig.subject = digestOf('a');
    sig.payload = R"({"artifactType":"application/vnd.example.sig"})";
    sig.size = sig.payload.size();
    ASSERT_TRUE(meta_->putManifest(registry, repo, sig, {}, std::nullopt));
  }

  fs::path dir_ = fs::temp_directory_path() / ("berth-control-" + newUuid());
  meta::MetadataStorePtr meta_;
  meta::IdentityStorePtr identities_;
  meta::EventStorePtr events_;
  std::optional<events::SecretBox> secrets_;
  meta::RegistryId defaultId_ = 0;
  uint64_t imageSize_ = 0;
  FakeHost host_{dir_};
  std::unique_ptr<auth::Authenticator> authenticator_;
  // Imports: the routes are here; the copying is tested end to end (tests/e2e/import.sh).
  struct NoStores final : upstream::ImportTarget {
    Result<std::shared_ptr<storage::BlobStore>> blobsOf(const meta::RegistrySettings&) override {
      return makeError(ApiCode::Unsupported, "no blob stores in this test");
    }
    void forget(meta::RegistryId) override {}
  };
  meta::UpstreamStorePtr upstreams_;
  NoStores importTarget_;
  std::unique_ptr<upstream::Importer> importer_;
  std::unique_ptr<upstream::ImportRunner> imports_;
  std::unique_ptr<ControlApp> app_;
};

// ---- routing ----

TEST(ControlErrors, AFullDiskIs507InsufficientStorage) {
  const auto resp =
      errorResponse(makeError(ApiCode::InsufficientStorage, "metadata store: disk full"));
  EXPECT_EQ(resp.status, 507);
  const auto doc = json::parse(resp.body);
  EXPECT_EQ(doc.at("error").at("code").as_string(), "INSUFFICIENT_STORAGE") << resp.body;
}

TEST_F(ControlAppTest, UnknownPathIs404NamingTheRoute) {
  Reply r = get("/api/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            R"({"error":{"code":"NOT_FOUND","message":"no such route: GET /api/v1/nothing"}})");
  EXPECT_EQ(get("/api/v1/registries/").status, 404);
  // {repository} never spans a _tags or _manifests segment.
  EXPECT_EQ(get("/api/v1/registries/default/repositories/a/_tags/b/_tags").code(), "NOT_FOUND");
}

TEST_F(ControlAppTest, KnownPathOtherMethodIs405WithAllow) {
  Reply r = send("PUT", "/api/v1/registries", "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.code(), "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.headers.get("Allow"), "GET, POST");
  EXPECT_EQ(send("GET", "/api/v1/registries/default/login").headers.get("Allow"), "POST");
  // check-name is a route for POST only; for GET it is a registry's name.
  EXPECT_EQ(get("/api/v1/registries/check-name").message(), "registry check-name not found");
}

TEST_F(ControlAppTest, OpenApiNeedsNoCredentials) {
  Reply r = send("GET", "/api/v1/openapi.json", std::nullopt, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.doc().as_object().contains("paths"));
}

TEST_F(ControlAppTest, BadRepositoryTagOrDigestIs400) {
  seedRepository(defaultId_);
  EXPECT_EQ(get("/api/v1/registries/default/repositories/Team/App").code(), "INVALID_ARGUMENT");
  EXPECT_EQ(get("/api/v1/registries/default/repositories/team/app/_tags/-v1").code(),
            "INVALID_ARGUMENT");
  EXPECT_EQ(get("/api/v1/registries/default/repositories/team/app/_manifests/sha256:12").code(),
            "INVALID_ARGUMENT");
  EXPECT_EQ(get("/api/v1/registries/default/repositories/team/app/_tags/v1").status, 200);
}

// ---- authentication and authorization ----

TEST_F(ControlAppTest, MissingOrWrongCredentialsAre401WithChallenge) {
  for (std::string authorization :
       {std::string(), std::string("Bearer nope"), std::string("Digest x"), basic("x", "y"),
        std::string("Basic !!!")}) {
    SCOPED_TRACE(authorization);
    Reply r = send("GET", "/api/v1/registries/default", std::nullopt, authorization);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.code(), "UNAUTHORIZED");
    EXPECT_EQ(r.headers.get("WWW-Authenticate"), "Basic realm=\"berth\"");
  }
}

TEST_F(ControlAppTest, AdminIsConfinedToItsRegistry) {
  const auto pw = adminOf("first");
  adminOf("second");
  const auto admin = basic("first", pw);
  EXPECT_EQ(send("GET", "/api/v1/registries/first", std::nullopt, admin).status, 200);
  EXPECT_EQ(send("GET", "/api/v1/registries/first/tokens", std::nullopt, admin).status, 200);
  EXPECT_EQ(send("PATCH", "/api/v1/registries/first", "{}", admin).code(), "DENIED");
  EXPECT_EQ(send("DELETE", "/api/v1/registries/first", std::nullopt, admin).code(), "DENIED");
  EXPECT_EQ(send("GET", "/api/v1/registries", std::nullopt, admin).code(), "DENIED");
  EXPECT_EQ(send("POST", "/api/v1/registries/check-name", R"({"name":"third"})", admin).code(),
            "DENIED");
  EXPECT_EQ(send("GET", "/api/v1/registries/second", std::nullopt, admin).code(), "UNAUTHORIZED");
  // An unknown registry is no more than unknown credentials.
  EXPECT_EQ(send("GET", "/api/v1/registries/nosuch", std::nullopt, admin).code(), "UNAUTHORIZED");
  EXPECT_EQ(get("/api/v1/registries/nosuch").code(), "NOT_FOUND");
}

TEST_F(ControlAppTest, FailedLoginsAreThrottled) {
  adminOf("first");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(send("GET", "/api/v1/registries/first", std::nullopt, basic("first", "x")).status,
              401);
  }
  Reply r = send("GET", "/api/v1/registries/first", std::nullopt, basic("first", "x"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.code(), "TOO_MANY_REQUESTS");
  EXPECT_TRUE(r.headers.get("Retry-After"));
}

TEST_F(ControlAppTest, TokensAreHeldToTheirScopeMaps) {
  seedRepository(defaultId_);
  ASSERT_TRUE(meta_->ensureRepository(defaultId_, "other/app"));
  ASSERT_EQ(send("POST", "/api/v1/registries/default/scope-maps",
                 R"({"name":"team-read","actions":["repositories/team/*/metadata/read"]})")
                .status,
            201);
  Reply token = send("POST", "/api/v1/registries/default/tokens",
                     R"({"name":"reader","scopeMapName":"team-read"})");
  ASSERT_EQ(token.status, 201) << token.body;
  const auto pw =
      std::string(token.doc().at("credentials").at("passwords").at(0).at("value").as_string());
  const auto reader = basic("reader", pw);
  const std::string repo = "/api/v1/registries/default/repositories/team/app";

  Reply list = send("GET", "/api/v1/registries/default/repositories", std::nullopt, reader);
  EXPECT_EQ(json::serialize(list.doc()), R"(["team/app"])") << "filtered by metadata/read";
  EXPECT_EQ(send("GET", repo, std::nullopt, reader).status, 200);
  EXPECT_EQ(send("GET", repo + "/_manifests", std::nullopt, reader).status, 200);
  EXPECT_EQ(
      send("GET", "/api/v1/registries/default/repositories/other/app", std::nullopt, reader).code(),
      "DENIED");
  EXPECT_EQ(send("PATCH", repo, R"({"writeEnabled":false})", reader).code(), "DENIED");
  EXPECT_EQ(send("DELETE", repo + "/_tags/v1", std::nullopt, reader).code(), "DENIED");
  // Right credentials above registries are refused, wrong ones unknown.
  EXPECT_EQ(send("GET", "/api/v1/registries", std::nullopt, reader).code(), "DENIED");
  EXPECT_EQ(send("GET", "/api/v1/registries", std::nullopt, basic("reader", "wrong")).code(),
            "UNAUTHORIZED");
  for (const char* p : {"", "/usage", "/credentials", "/scope-maps", "/tokens"}) {
    EXPECT_EQ(
        send("GET", std::string("/api/v1/registries/default") + p, std::nullopt, reader).code(),
        "DENIED")
        << p;
  }
}

// ---- bodies ----

TEST_F(ControlAppTest, BodiesAreBoundedAndChecked) {
  const std::string big = R"({"name":")" + std::string(70 * 1024, 'a') + R"("})";
  EXPECT_EQ(send("POST", "/api/v1/registries", big).code(), "TOO_LARGE");
  for (std::string body :
       {"{", "[]", "null", R"({"name":"okname1","extra":1})",
        R"({"name":"okname1","adminUserEnabled":null})", R"({"name":"okname1","quotaBytes":-1})",
        R"({"name":"okname1","sku":"Gold"})", R"({"name":"okname1","storagePath":"relative/dir"})",
        R"({"name":"OK"})", "{}"}) {
    SCOPED_TRACE(body);
    Reply r = send("POST", "/api/v1/registries", body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.code(), "INVALID_ARGUMENT");
  }
  EXPECT_EQ(send("POST", "/api/v1/registries", R"({"name":"okname1","extra":1})").message(),
            "unknown field \"extra\"");
  EXPECT_TRUE(host_.created.empty());
}

// ---- registries ----

TEST_F(ControlAppTest, CreateShowUpdateDeleteRegistry) {
  Reply created = send("POST", "/api/v1/registries", R"({"name":"first","sku":"Standard"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json::value doc = created.doc();
  const auto& r = doc.as_object();
  EXPECT_EQ(r.at("loginServer"), "first.registry.test");
  EXPECT_EQ(r.at("quota").at("storageBytes").to_number<uint64_t>(), 100 * meta::kGiB);
  EXPECT_EQ(r.at("storagePath"), json::value((dir_ / "registries" / "first").string()));
  EXPECT_TRUE(parseRfc3339(r.at("creationDate").as_string()));
  EXPECT_EQ(host_.created, std::set<std::string>{"first"});
  EXPECT_EQ(send("POST", "/api/v1/registries", R"({"name":"first"})").code(), "CONFLICT");

  Reply check = send("POST", "/api/v1/registries/check-name", R"({"name":"first"})");
  EXPECT_EQ(check.doc().at("reason"), "AlreadyExists");
  check = send("POST", "/api/v1/registries/check-name", R"({"name":"x"})");
  EXPECT_EQ(check.doc().at("reason"), "Invalid");
  check = send("POST", "/api/v1/registries/check-name", R"({"name":"fresh"})");
  EXPECT_EQ(check.doc().at("nameAvailable"), true);
  EXPECT_TRUE(check.doc().at("reason").is_null());

  // A new SKU brings its quota unless one is named.
  Reply updated = send("PATCH", "/api/v1/registries/first", R"({"sku":"Premium"})");
  EXPECT_EQ(updated.doc().at("quota").at("storageBytes").to_number<uint64_t>(), 500 * meta::kGiB);
  updated = send("PATCH", "/api/v1/registries/first", R"({"sku":"Basic","quotaBytes":5})");
  EXPECT_EQ(updated.doc().at("quota").at("storageBytes").to_number<uint64_t>(), 5u);
  EXPECT_TRUE(host_.forgotten.count(idOf("first")));

  EXPECT_EQ(send("DELETE", "/api/v1/registries/default").code(), "CONFLICT");
  EXPECT_EQ(send("DELETE", "/api/v1/registries/first").status, 204);
  EXPECT_EQ(host_.removed, std::set<std::string>{"first"});
  EXPECT_EQ(send("DELETE", "/api/v1/registries/first").code(), "NOT_FOUND");
}

TEST_F(ControlAppTest, StorageIsNeverShared) {
  EXPECT_EQ(send("POST", "/api/v1/registries",
                 R"({"name":"inside","storagePath":")" + (dir_ / "registries").string() + R"("})")
                .code(),
            "CONFLICT");
  EXPECT_EQ(send("POST", "/api/v1/registries",
                 R"({"name":"custom","storagePath":")" + (dir_ / "elsewhere/").string() + R"("})")
                .status,
            201);
  EXPECT_EQ(
      send("POST", "/api/v1/registries",
           R"({"name":"nested","storagePath":")" + (dir_ / "elsewhere/sub").string() + R"("})")
          .code(),
      "CONFLICT");
}

TEST_F(ControlAppTest, FailedStorageLeavesNoRegistry) {
  host_.failCreate = true;
  Reply r = send("POST", "/api/v1/registries", R"({"name":"doomed"})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.code(), "INTERNAL_ERROR");
  EXPECT_FALSE(*identities_->registryByName("doomed"));
}

TEST_F(ControlAppTest, SkuTooSmallForTheScopeMapsIs409) {
  adminOf("first", R"(,"sku":"Standard")");
  for (int i = 0; i < 101; ++i) {
    ASSERT_TRUE(identities_->createScopeMap(
        idOf("first"), {"map" + std::to_string(i), "", {{"a", auth::kContentRead}}, 0}));
  }
  EXPECT_EQ(send("PATCH", "/api/v1/registries/first", R"({"sku":"Basic"})").code(), "CONFLICT");
  Reply usage = get("/api/v1/registries/first/usage");
  EXPECT_EQ(usage.doc().at("value").at(2).at("currentValue").to_number<int>(), 101);
}

TEST_F(ControlAppTest, ScopeMapLimitOfTheSku) {
  adminOf("first");
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(identities_->createScopeMap(
        idOf("first"), {"map" + std::to_string(i), "", {{"a", auth::kContentRead}}, 0}));
  }
  Reply r = send("POST", "/api/v1/registries/first/scope-maps",
                 R"({"name":"onemore","actions":["repositories/a/content/read"]})");
  EXPECT_EQ(r.code(), "DENIED");
  EXPECT_NE(r.message().find("Basic"), std::string::npos) << r.message();
}

// ---- credentials, scope maps, tokens ----

TEST_F(ControlAppTest, RenewedAdminPasswordIsStoredAsAHash) {
  const auto pw = adminOf("first");
  auto secrets = *identities_->adminSecrets(idOf("first"));
  ASSERT_EQ(secrets.size(), 1u);
  EXPECT_TRUE(auth::verifySecret(secrets[0].hash, pw));
  Reply shown = get("/api/v1/registries/first/credentials");
  EXPECT_EQ(json::serialize(shown.doc()),
            R"({"username":"first","passwords":[{"name":"password","value":null},)"
            R"({"name":"password2","value":null}]})");
  EXPECT_EQ(send("POST", "/api/v1/registries/first/credentials/renew", R"({"name":"pw"})").code(),
            "INVALID_ARGUMENT");
}

TEST_F(ControlAppTest, ScopeMapLifecycle) {
  const std::string maps = "/api/v1/registries/default/scope-maps";
  Reply list = get(maps);
  EXPECT_EQ(list.doc().at(0).at("type"), "SystemDefined");
  Reply created = send("POST", maps,
                       R"({"name":"ci","actions":["repositories/team/*/content/read",)"
                       R"("repositories/team/*/content/write"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.doc().at("type"), "UserDefined");
  EXPECT_EQ(send("POST", maps, R"({"name":"ci","actions":["repositories/a/content/read"]})").code(),
            "CONFLICT");
  EXPECT_EQ(send("POST", maps, R"({"name":"bad","actions":["repositories/a/content/fly"]})").code(),
            "INVALID_ARGUMENT");
  Reply updated = send("PATCH", maps + "/ci",
                       R"({"addActions":["repositories/x/metadata/read"],)"
                       R"("removeActions":["repositories/team/*/content/write"]})");
  EXPECT_EQ(json::serialize(updated.doc().at("actions")),
            R"(["repositories/team/*/content/read","repositories/x/metadata/read"])");
  EXPECT_EQ(send("PATCH", maps + "/_repositories_pull", R"({"description":"x"})").code(), "DENIED");
  EXPECT_EQ(send("DELETE", maps + "/_repositories_pull").code(), "DENIED");
  ASSERT_EQ(send("POST", "/api/v1/registries/default/tokens",
                 R"({"name":"user","scopeMapName":"ci","noPasswords":true})")
                .status,
            201);
  EXPECT_EQ(send("DELETE", maps + "/ci").code(), "CONFLICT");
  EXPECT_EQ(send("DELETE", "/api/v1/registries/default/tokens/user").status, 204);
  EXPECT_EQ(send("DELETE", maps + "/ci").status, 204);
  EXPECT_EQ(send("DELETE", maps + "/ci").code(), "NOT_FOUND");
}

TEST_F(ControlAppTest, TokenLifecycle) {
  const std::string tokens = "/api/v1/registries/default/tokens";
  EXPECT_EQ(
      send("POST", tokens, R"({"name":"default","scopeMapName":"_repositories_pull"})").code(),
      "CONFLICT");
  EXPECT_EQ(
      send("POST", tokens,
           R"({"name":"00000000-0000-0000-0000-000000000000","scopeMapName":"_repositories_pull"})")
          .code(),
      "CONFLICT");
  EXPECT_EQ(send("POST", tokens, R"({"name":"ci","scopeMapName":"nosuchmap"})").code(),
            "NOT_FOUND");
  EXPECT_EQ(
      send("POST", tokens, R"({"name":"ci","scopeMapName":"_repositories_pull","expiry":"soon"})")
          .code(),
      "INVALID_ARGUMENT");
  Reply created = send("POST", tokens,
                       R"({"name":"ci","scopeMapName":"_repositories_pull",)"
                       R"("expiry":"2099-01-01T01:00:00+01:00"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json::value createdDoc = created.doc();
  const auto& passwords = createdDoc.at("credentials").at("passwords").as_array();
  ASSERT_EQ(passwords.size(), 2u);
  EXPECT_EQ(passwords[0].at("expiry"), "2099-01-01T00:00:00Z");
  const auto pw1 = std::string(passwords[0].at("value").as_string());
  auto settings = **identities_->registrySettings(defaultId_);
  EXPECT_TRUE(authenticator_->login(settings, "ci", pw1, "192.0.2.9:1").ok());

  Reply generated = send("POST", tokens + "/ci/credentials", R"({"name":"password1"})");
  ASSERT_EQ(generated.status, 200) << generated.body;
  EXPECT_TRUE(generated.doc().at("credentials").at("passwords").at(1).at("value").is_null());
  EXPECT_FALSE(authenticator_->login(settings, "ci", pw1, "192.0.2.9:1").ok());

  Reply updated = send("PATCH", tokens + "/ci", R"({"status":"disabled"})");
  EXPECT_EQ(updated.doc().at("status"), "disabled");
  EXPECT_EQ(send("PATCH", tokens + "/ci", R"({"scopeMapName":"nosuchmap"})").code(), "NOT_FOUND");
  EXPECT_EQ(send("PATCH", tokens + "/none", R"({"status":"enabled"})").code(), "NOT_FOUND");
  EXPECT_EQ(send("DELETE", tokens + "/ci").status, 204);
  EXPECT_EQ(get(tokens + "/ci").code(), "NOT_FOUND");
}

// ---- repositories, tags, manifests ----

TEST_F(ControlAppTest, RepositoriesArePaged) {
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(meta_->ensureRepository(defaultId_, name));
  Reply first = get("/api/v1/registries/default/repositories?n=2");
  EXPECT_EQ(json::serialize(first.doc()), R"(["a","b"])");
  EXPECT_EQ(first.headers.get("Link"),
            R"(</api/v1/registries/default/repositories?last=b&n=2>; rel="next")");
  Reply second = get("/api/v1/registries/default/repositories?n=2&last=b");
  EXPECT_EQ(json::serialize(second.doc()), R"(["c"])");
  EXPECT_FALSE(second.headers.get("Link"));
  EXPECT_EQ(get("/api/v1/registries/default/repositories?n=0").code(), "INVALID_ARGUMENT");
}

TEST_F(ControlAppTest, RepositoryTagsAndManifests) {
  seedRepository(defaultId_);
  const std::string repo = "/api/v1/registries/default/repositories/team/app";
  Reply shown = get(repo);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(shown.doc().at("registry"), "default.registry.test");
  EXPECT_EQ(shown.doc().at("tagCount").to_number<int>(), 3);

  Reply tags = get(repo + "/_tags?orderby=name");
  EXPECT_EQ(tags.doc().at("imageName"), "team/app");
  const json::value tagsDoc = tags.doc();
  const auto& list = tagsDoc.at("tags").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("name"), "latest");
  EXPECT_EQ(list[2].at("name"), "v1");
  EXPECT_EQ(get(repo + "/_tags?orderby=size").code(), "INVALID_ARGUMENT");

  Reply image = get(repo + "/_manifests/" + digestOf('a'));
  ASSERT_EQ(image.status, 200) << image.body;
  const json::value imageDoc = image.doc();
  const auto& m = imageDoc.as_object();
  EXPECT_EQ(json::serialize(m.at("tags")), R"(["latest","v1"])");
  EXPECT_EQ(m.at("size").to_number<uint64_t>(), imageSize_ + 10 + 100) << "with config and layer";
  EXPECT_TRUE(m.at("artifactType").is_null()) << "an image declares no artifactType";
  EXPECT_EQ(get(repo + "/_manifests/" + digestOf('e')).doc().at("artifactType"),
            "application/vnd.example.sig");
  EXPECT_EQ(
      json::serialize(m.at("referrers")),
      R"([{"digest":")" + digestOf('e') + R"(","artifactType":"application/vnd.example.sig"}])");
  Reply index = get(repo + "/_manifests/" + digestOf('b'));
  EXPECT_EQ(json::serialize(index.doc().at("platforms")),
            R"([{"os":"linux","architecture":"arm64","variant":"v8","osVersion":null,"digest":")" +
                digestOf('a') + R"("}])");
  EXPECT_EQ(get(repo + "/_manifests?orderby=name").code(), "INVALID_ARGUMENT");
  EXPECT_EQ(get(repo + "/_manifests").doc().at("manifests").as_array().size(), 3u);

  // Locks refuse deletes with 403; attributes come back in the reply.
  Reply locked = send("PATCH", repo + "/_tags/v1", R"({"deleteEnabled":false})");
  EXPECT_EQ(locked.doc().at("changeableAttributes").at("deleteEnabled"), false);
  EXPECT_EQ(send("PATCH", repo + "/_tags/v1", R"({"readEnabled":false})").code(),
            "INVALID_ARGUMENT");
  EXPECT_EQ(send("DELETE", repo + "/_tags/v1").code(), "DENIED");
  EXPECT_EQ(send("DELETE", repo).code(), "DENIED");
  send("PATCH", repo + "/_tags/v1", R"({"deleteEnabled":true})");
  EXPECT_EQ(send("DELETE", repo + "/_tags/v1").status, 204);
  EXPECT_EQ(send("DELETE", repo + "/_tags/v1").code(), "NOT_FOUND");
  EXPECT_EQ(send("DELETE", repo + "/_manifests/" + digestOf('e')).status, 204);

  Reply deleted = send("DELETE", repo);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.doc().at("manifestsDeleted").as_array().size(), 2u);
  EXPECT_EQ(get(repo).code(), "NOT_FOUND");
  EXPECT_TRUE(host_.forgotten.count(defaultId_));
}

// ---- JSON helpers ----

TEST(ControlJson, Rfc3339) {
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(parseRfc3339("2026-11-27T04:00:00Z"), 1795752000);
  EXPECT_EQ(parseRfc3339("2026-11-27T05:30:00.123+01:30"), 1795752000);
  EXPECT_EQ(parseRfc3339("2024-02-29T00:00:00z"), 1709164800);
  for (const char* bad : {"", "2026-11-27", "2026-11-27T04:00:00", "2026-13-01T00:00:00Z",
                          "2025-02-29T00:00:00Z", "2026-11-27T04:00:00Zx", "2026-11-27T24:00:00Z",
                          "2026-11-27T04:00:00.Z", "2026-11-27 04:00:00Z"}) {
    EXPECT_FALSE(parseRfc3339(bad)) << bad;
  }
}

// ---- webhooks and the audit log ----

TEST_F(ControlAppTest, AnOperatorSessionEndsWhenTheOperatorTokenIsReplaced) {
  http::Headers portal;
  portal.add("X-Berth-Request", "1");
  Reply in = send("POST", "/api/v1/session",
                  R"({"operatorToken":")" + std::string(kOperator) + R"("})", "", portal);
  ASSERT_EQ(in.status, 201) << in.body;
  const std::string set(in.headers.get("Set-Cookie").value_or(""));
  http::Headers withCookie = portal;
  withCookie.add("Cookie", set.substr(0, set.find(';')));
  EXPECT_EQ(send("GET", "/api/v1/registries", std::nullopt, "", withCookie).status, 200);
  // The server starts again with another operator token: the session signed in with the old
  // one is over.
  host_.fingerprint = "another";
  Reply after = send("GET", "/api/v1/registries", std::nullopt, "", withCookie);
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(after.message().find("operator token"), std::string::npos) << after.message();
  host_.fingerprint = "fingerprint";
  EXPECT_EQ(send("GET", "/api/v1/registries", std::nullopt, "", withCookie).status, 401)
      << "an ended session stays ended";
}

TEST_F(ControlAppTest, WebhooksAreCreatedCheckedAndTheirSecretShownOnce) {
  const std::string base = "/api/v1/registries/default/webhooks";
  auto created = send("POST", base,
                      R"({"name":"deploy","serviceUri":"https://ci.example/hook",)"
                      R"("actions":["push","delete","push"],"scopes":["team/*:v*"],)"
                      R"("customHeaders":{"Authorization":"Bearer x"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto doc = created.doc().as_object();
  EXPECT_EQ(doc.at("secret").as_string().size(), 43u);
  EXPECT_EQ(doc.at("actions"), json::parse(R"(["push","delete"])"));
  EXPECT_EQ(doc.at("customHeaderNames"), json::parse(R"(["Authorization"])"));
  EXPECT_EQ(audited_, (std::vector<std::string>{"webhook.create", "deploy", "operator"}));
  // The secret is sealed in the database, and shown by nothing else.
  const auto stored = (*events_->webhook(defaultId_, "deploy"))->sealedSecret;
  EXPECT_EQ(stored.find(std::string(doc.at("secret").as_string())), std::string::npos);
  EXPECT_EQ(*secrets_->unseal(stored), doc.at("secret").as_string());
  EXPECT_FALSE(get(base + "/deploy").doc().as_object().contains("secret"));
  EXPECT_EQ(get(base + "/deploy/config").doc().at("customHeaders").at("Authorization"),
            json::value("Bearer x"));
  EXPECT_EQ(send("POST", base, R"({"name":"deploy","serviceUri":"https://a/","actions":["push"]})")
                .status,
            409);

  struct Bad {
    const char* body;
    const char* says;
  };
  for (const Bad& bad : std::initializer_list<Bad>{
           {R"({"serviceUri":"https://a/","actions":["push"]})", "name"},
           {R"({"name":"-x","serviceUri":"https://a/","actions":["push"]})", "name"},
           {R"({"name":"b","serviceUri":"ftp://a/","actions":["push"]})", "scheme"},
           {R"({"name":"b","serviceUri":"http://127.0.0.1:9/","actions":["push"]})", "loopback"},
           {R"({"name":"b","serviceUri":"http://169.254.169.254/","actions":["push"]})",
            "link-local"},
           {R"({"name":"b","serviceUri":"https://a/","actions":[]})", "action"},
           {R"({"name":"b","serviceUri":"https://a/","actions":["quarantine"]})", "quarantine"},
           {R"({"name":"b","serviceUri":"https://a/","actions":["push"],"scopes":["Bad:x"]})",
            "scope"},
           {R"({"name":"b","serviceUri":"https://a/","actions":["push"],)"
            R"("customHeaders":{"X-Berth-Event":"x"}})",
            "set by berth"},
           {R"({"name":"b","serviceUri":"https://a/","actions":["push"],)"
            R"("customHeaders":{"X":"a\r\nY: b"}})",
            "one line"},
           {R"({"name":"b","serviceUri":"https://a/","actions":["push"],"status":"on"})", "status"},
           {R"({"name":"b","serviceUri":"https://a/","actions":["push"],"extra":1})", "extra"},
       }) {
    auto r = send("POST", base, bad.body);
    EXPECT_EQ(r.status, 400) << bad.body;
    EXPECT_NE(r.message().find(bad.says), std::string::npos) << bad.body << " -> " << r.message();
  }
  EXPECT_TRUE(events_->webhook(defaultId_, "b")->value_or(meta::Webhook{}).name.empty());

  // Basic allows two webhooks.
  ASSERT_EQ(send("POST", base, R"({"name":"second","serviceUri":"https://a/","actions":["push"]})")
                .status,
            201);
  auto third =
      send("POST", base, R"({"name":"third","serviceUri":"https://a/","actions":["push"]})");
  EXPECT_EQ(third.status, 409);
  EXPECT_NE(third.message().find("Basic SKU allows 2 webhooks"), std::string::npos);
  auto usage = get("/api/v1/registries/default/usage").doc().at("value").as_array();
  EXPECT_EQ(usage.back().at("name"), json::value("Webhooks"));
  EXPECT_EQ(usage.back().at("currentValue").to_number<int>(), 2);
  EXPECT_EQ(usage.back().at("limit").to_number<int>(), 2);
}

TEST_F(ControlAppTest, WebhooksUpdatePingListAndDelete) {
  const std::string base = "/api/v1/registries/default/webhooks";
  auto created =
      send("POST", base, R"({"name":"deploy","serviceUri":"https://a/","actions":["push"]})");
  ASSERT_EQ(created.status, 201);
  auto updated = send("PATCH", base + "/deploy",
                      R"({"status":"disabled","scopes":["app"],"regenerateSecret":true})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.doc().at("status"), json::value("disabled"));
  EXPECT_EQ(updated.doc().at("scopes"), json::parse(R"(["app"])"));
  EXPECT_NE(updated.doc().at("secret"), created.doc().at("secret"));
  EXPECT_EQ(send("PATCH", base + "/deploy", R"({"serviceUri":"http://localhost/"})").status, 400);
  EXPECT_EQ(send("PATCH", base + "/nope", R"({"status":"enabled"})").status, 404);

  for (int i = 0; i < 3; ++i) {
    auto ping = send("POST", base + "/deploy/ping");
    ASSERT_EQ(ping.status, 202) << ping.body;
    EXPECT_TRUE(isUuid(std::string(ping.doc().at("id").as_string())));
  }
  auto page = get(base + "/deploy/events?n=2").doc().as_object();
  ASSERT_EQ(page.at("events").as_array().size(), 2u);
  const auto first = page.at("events").as_array()[0].as_object();
  EXPECT_EQ(first.at("action"), json::value("ping"));
  EXPECT_EQ(first.at("state"), json::value("pending"));
  EXPECT_EQ(first.at("eventRequestMessage").at("content").at("action"), json::value("ping"));
  EXPECT_EQ(first.at("eventRequestMessage").at("requestUri"), json::value("https://a/"));
  auto rest = get(base + "/deploy/events?n=2&last=" + std::to_string(page.at("next").as_int64()));
  EXPECT_EQ(rest.doc().at("events").as_array().size(), 1u);
  EXPECT_EQ(get(base + "/deploy/events?n=0").status, 400);
  EXPECT_EQ(get(base + "/deploy/events?last=x").status, 400);

  EXPECT_EQ(send("DELETE", base + "/deploy").status, 204);
  EXPECT_EQ(get(base + "/deploy").status, 404);
  EXPECT_TRUE(events_->deliveries(defaultId_, "deploy", 0, 10)->empty());
}

TEST_F(ControlAppTest, WebhooksAndTheAuditAreTheAdminsNotATokens) {
  const auto password = adminOf("teamreg");
  const std::string base = "/api/v1/registries/teamreg/webhooks";
  ASSERT_EQ(send("POST", base, R"({"name":"h","serviceUri":"https://a/","actions":["push"]})",
                 basic("teamreg", password))
                .status,
            201);
  EXPECT_EQ(audited_[2], "admin");
  EXPECT_EQ(send("GET", "/api/v1/registries/teamreg/audit", {}, basic("teamreg", password)).status,
            200);
  // The deployment's audit is the operator's only.
  EXPECT_EQ(send("GET", "/api/v1/audit", {}, basic("teamreg", password)).status, 403);
  ASSERT_EQ(
      send(
          "POST", "/api/v1/registries/teamreg/scope-maps",
          R"({"name":"all","actions":["repositories/*/content/read","repositories/*/metadata/read"]})")
          .status,
      201);
  auto token =
      send("POST", "/api/v1/registries/teamreg/tokens", R"({"name":"ci","scopeMapName":"all"})");
  ASSERT_EQ(token.status, 201) << token.body;
  const std::string tokenPassword(
      token.doc().at("credentials").at("passwords").at(0).at("value").as_string());
  EXPECT_EQ(send("GET", base, {}, basic("ci", tokenPassword)).status, 403);
  EXPECT_EQ(send("GET", "/api/v1/registries/teamreg/audit", {}, basic("ci", tokenPassword)).status,
            403);
  // A wrong password is a failed login, by the user name it gave.
  EXPECT_EQ(send("GET", base, {}, basic("teamreg", "wrong")).status, 401);
  EXPECT_EQ(audited_, (std::vector<std::string>{"login", "", "teamreg"}));
  // Reads are not recorded.
  get(base);
  EXPECT_EQ(audited_[0], "");
}

TEST_F(ControlAppTest, TheAuditListFiltersAndPages) {
  std::vector<meta::AuditRecord> records;
  for (int i = 0; i < 5; ++i) {
    meta::AuditRecord r;
    r.timeMs = 1764979200000 + i * 1000;
    r.registry = i % 2 ? "default" : "";
    r.identity = i == 4 ? "token:ci" : "admin";
    r.action = i == 3 ? "login" : "manifest.push";
    r.outcome = "success";
    records.push_back(r);
  }
  ASSERT_TRUE(events_->appendAudit(records));
  EXPECT_EQ(get("/api/v1/audit").doc().at("records").as_array().size(), 5u);
  EXPECT_EQ(get("/api/v1/registries/default/audit").doc().at("records").as_array().size(), 2u);
  EXPECT_EQ(get("/api/v1/audit?action=manifest").doc().at("records").as_array().size(), 4u);
  EXPECT_EQ(get("/api/v1/audit?identity=token%3Aci").doc().at("records").as_array().size(), 1u);
  EXPECT_EQ(get("/api/v1/audit?since=2025-12-06T00:00:03Z").doc().at("records").as_array().size(),
            2u);
  auto page = get("/api/v1/audit?n=3").doc().as_object();
  EXPECT_EQ(page.at("records").as_array().size(), 3u);
  EXPECT_EQ(page.at("records").as_array()[0].at("time"), json::value("2025-12-06T00:00:04.000Z"));
  auto rest = get("/api/v1/audit?n=3&last=" + std::to_string(page.at("next").as_int64()));
  EXPECT_EQ(rest.doc().at("records").as_array().size(), 2u);
  EXPECT_EQ(get("/api/v1/audit?since=yesterday").status, 400);
}

}  // namespace
}  // namespace berth::control
