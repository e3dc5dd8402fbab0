// Control API request bodies: any bytes as the JSON body of every route that takes one, sent
// by the operator. Bad input is a 4xx with the API's error shape, never a 5xx or a crash.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "auth/authenticator.hpp"
#include "control/app.hpp"
#include "meta/sqlite/identity_store.hpp"
#include "meta/sqlite/sqlite_events.hpp"
#include "meta/sqlite/sqlite_store.hpp"
#include "meta/sqlite/sqlite_upstreams.hpp"

using namespace berth;

namespace {

constexpr std::string_view kOperator = "fuzz-operator-token";

// Registries without storage: the fuzzer creates many.
class Host final : public control::RegistryHost {
 public:
  std::string loginServer(std::string_view r) const override {
    return std::string(r) + ".registry.example";
  }
  std::string_view defaultRegistry() const override { return "default"; }
  storage::StoreUrl defaultStore(std::string_view r) const override {
    storage::StoreUrl url;
    url.path = std::filesystem::path("/nonexistent") / r;
    return url;
  }
  bool isOperatorToken(std::string_view presented) const override { return presented == kOperator; }
  std::string operatorFingerprint() const override { return "fingerprint"; }
  Result<void> createStorage(const meta::RegistrySettings&) override { return {}; }
  Result<void> removeStorage(const meta::RegistrySettings&) override { return {}; }
  void forget(meta::RegistryId) override {}
  Result<std::optional<std::string>> readSmallBlob(const meta::RegistrySettings&, const Digest&,
                                                   uint64_t) override {
    return std::optional<std::string>();
  }
};

// Imports fail at once, before any request to an upstream: the fuzzer reaches no network.
struct NoStores final : upstream::ImportTarget {
  Result<std::shared_ptr<storage::BlobStore>> blobsOf(const meta::RegistrySettings&) override {
    return makeError(ApiCode::Unsupported, "no blob stores here");
  }
  void forget(meta::RegistryId) override {}
};

struct Plane {
  std::filesystem::path dir;
  meta::MetadataStorePtr meta;
  meta::IdentityStorePtr identities;
  meta::EventStorePtr events;
  meta::UpstreamStorePtr upstreams;
  std::optional<events::SecretBox> secrets;
  Host host;
  std::unique_ptr<auth::Authenticator> authenticator;
  NoStores importTarget;
  std::unique_ptr<upstream::Importer> importer;
  std::unique_ptr<upstream::ImportRunner> imports;
  std::unique_ptr<control::ControlApp> app;

  Plane() {
    dir = std::filesystem::temp_directory_path() / ("berth-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    meta = std::move(*meta::openSqliteStore(dir / "berth.db"));
    identities = std::move(*meta::openSqliteIdentityStore(dir / "berth.db"));
    events = std::move(*meta::openSqliteEventStore(dir / "berth.db"));
    secrets.emplace(std::move(*events::SecretBox::open(dir / "secret.key")));
    (void)*meta->ensureRegistry("default");
    authenticator = std::make_unique<auth::Authenticator>(*identities, auth::AuthOptions{});
    (void)authenticator->ensureSigningKey();
    upstreams = std::move(*meta::openSqliteUpstreamStore(dir / "berth.db"));
    importer = std::make_unique<upstream::Importer>(*meta, importTarget,
                                                    std::make_shared<storage::object::HttpClient>(),
                                                    upstream::ClientOptions{});
    imports = std::make_unique<upstream::ImportRunner>(*upstreams, *importer,
                                                       upstream::ImportRunnerOptions{});
    app =
        std::make_unique<control::ControlApp>(control::ControlDeps{*meta,
                                                                   *identities,
                                                                   *authenticator,
                                                                   host,
                                                                   {*events, *secrets},
                                                                   {},
                                                                   false,
                                                                   {*upstreams, *imports, false}});
    // Something for the routes that change an existing scope map or token to find.
    send(http::Method::Post, "/api/v1/registries/default/scope-maps",
         R"({"name":"map","actions":["repositories/team/*/content/read"]})");
    send(http::Method::Post, "/api/v1/registries/default/tokens",
         R"({"name":"tok","scopeMapName":"map"})");
  }
  ~Plane() { std::filesystem::remove_all(dir); }

  http::Response send(http::Method method, std::string path, std::string_view body) {
    http::Request req;
    req.method = method;
    req.path = std::move(path);
    req.headers.add("Authorization", "Bearer " + std::string(kOperator));
    req.headers.add("Content-Type", "application/json");
    req.remote = "192.0.2.1:1";
    auto dispatch = app->dispatch(req);
    while (dispatch.blocking) dispatch = dispatch.blocking();
    if (dispatch.response) return std::move(*dispatch.response);
    const bool accepted = dispatch.sink->write(body.data(), body.size());
    (void)accepted;
    return dispatch.sink->finish(true);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Plane plane;
  struct Route {
    http::Method method;
    const char* path;
  };
  static constexpr Route kRoutes[] = {
      {http::Method::Post, "/api/v1/registries"},
      {http::Method::Post, "/api/v1/registries/check-name"},
      {http::Method::Patch, "/api/v1/registries/default"},
      {http::Method::Post, "/api/v1/registries/default/credentials/renew"},
      {http::Method::Post, "/api/v1/registries/default/login"},
      {http::Method::Patch, "/api/v1/registries/default/repositories/team/app"},
      {http::Method::Patch, "/api/v1/registries/default/repositories/team/app/_tags/v1"},
      {http::Method::Post, "/api/v1/registries/default/scope-maps"},
      {http::Method::Patch, "/api/v1/registries/default/scope-maps/map"},
      {http::Method::Post, "/api/v1/registries/default/tokens"},
      {http::Method::Patch, "/api/v1/registries/default/tokens/tok"},
      {http::Method::Post, "/api/v1/registries/default/tokens/tok/credentials"},
  };
  if (size == 0) return 0;
  const auto& route = kRoutes[data[0] % std::size(kRoutes)];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const http::Response resp = plane.send(route.method, route.path, body);
  if (resp.status >= 500) std::abort();
  if (resp.status >= 400) {
    boost::system::error_code ec;
    const auto doc = boost::json::parse(resp.body, ec);
    const auto* error = !ec && doc.is_object() ? doc.as_object().if_contains("error") : nullptr;
    if (error == nullptr || !error->is_object() || !error->as_object().contains("code")) {
      std::abort();  // every refusal has the API's error shape
    }
  }
  return 0;
}
