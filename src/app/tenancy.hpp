#pragma once
// Many registries in one process: which registry a Host names, where each registry's blobs
// live, and the operator's token. The data plane sees it as a TenantResolver, the control
// plane as a RegistryHost.
#include <filesystem>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "control/app.hpp"
#include "meta/identity_store.hpp"
#include "registry/app.hpp"
#include "storage/blob_store.hpp"
#include "storage/open_store.hpp"

namespace berth::app {

struct TenancyOptions {
  std::filesystem::path dataDir;
  // Registry <name> answers at <name>.<domain>; the domain may carry the port clients use
  // (`registry.example:5000`), which appears in login servers but is ignored for matching.
  std::string domain = "localhost";
  std::string defaultRegistry = "default";
  std::string operatorToken;
  // The server's store; each registry not given its own lives at <store>/<name>.
  storage::StoreUrl store;
  storage::StoreOptions storeOptions;
};

class Tenancy final : public registry::TenantResolver, public control::RegistryHost {
 public:
  Tenancy(meta::IdentityStore& identities, TenancyOptions options);

  // TenantResolver
  Result<registry::Tenant> resolve(std::string_view host) override;

  // RegistryHost
  std::string loginServer(std::string_view registry) const override;
  std::string_view defaultRegistry() const override { return options_.defaultRegistry; }
  storage::StoreUrl defaultStore(std::string_view registry) const override;
  bool isOperatorToken(std::string_view presented) const override;
  std::string operatorFingerprint() const override;
  Result<void> createStorage(const meta::RegistrySettings& registry) override;
  Result<void> removeStorage(const meta::RegistrySettings& registry) override;
  void forget(meta::RegistryId registry) override;
  Result<std::optional<std::string>> readSmallBlob(const meta::RegistrySettings& registry,
                                                   const Digest& digest, uint64_t limit) override;

  // Called after forget(): the data plane drops its caches.
  void onForget(std::function<void()> callback) { onForget_ = std::move(callback); }
  // The blob store of a registry, opened on first use.
  Result<std::shared_ptr<storage::BlobStore>> blobsOf(const meta::RegistrySettings& registry);
  // The registry a host names, by the rules above; nullopt for hosts outside the domain.
  std::optional<std::string> registryOfHost(std::string_view host) const;
  // Where a registry's blobs live.
  Result<storage::StoreUrl> storeOf(const meta::RegistrySettings& registry) const;

 private:
  Result<void> removeObjects(const storage::StoreUrl& url);

  meta::IdentityStore& identities_;
  TenancyOptions options_;
  std::string domainHost_;  // the domain without its port, lower case
  std::function<void()> onForget_;
  std::shared_mutex mutex_;
  std::unordered_map<meta::RegistryId, std::shared_ptr<storage::BlobStore>> blobs_;
};

// Where a registry's blobs live: the place given at creation (a path or a store URL), else
// `store`/<name>.
Result<storage::StoreUrl> storeOf(const storage::StoreUrl& store,
                                  const meta::RegistrySettings& registry);
// The server's store when none is configured: <data>/registries.
storage::StoreUrl defaultServerStore(const std::filesystem::path& dataDir);

// The server's `storage` setting (empty: <data>/registries) and how to reach object stores,
// for the tools that work on a data directory beside the server.
struct ServerStorage {
  std::string store;
  storage::StoreOptions options;
};
// A registry's store as the server would open it; object stores get one request first.
Result<storage::BlobStorePtr> openRegistryStore(const std::filesystem::path& dataDir,
                                                const ServerStorage& storage,
                                                const meta::RegistrySettings& settings);

// Reads the operator token from `file`, creating the file with a fresh random token (mode
// 0600) when it does not exist.
Result<std::string> loadOperatorToken(const std::filesystem::path& file);

}  // namespace berth::app
