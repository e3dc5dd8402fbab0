#pragma once
// The data plane: authenticates the caller, routes /v2/ paths, authorizes, and hands the
// request to the handler of its resource.
#include <memory>

#include "auth/authenticator.hpp"
#include "http/message.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"
#include "registry/context.hpp"
#include "registry/pull_through.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

// A registry as one request sees it: its settings and where its blobs are.
struct Tenant {
  meta::RegistrySettings settings;
  std::shared_ptr<storage::BlobStore> blobs;
};

// Chooses the registry a request is for from the Host it reached.
class TenantResolver {
 public:
  virtual ~TenantResolver() = default;
  // NOT_FOUND naming the host when no registry is served there.
  virtual Result<Tenant> resolve(std::string_view host) = 0;
};

struct RegistryDeps {
  meta::MetadataStore& meta;
  auth::Authenticator& authenticator;
  TenantResolver& tenants;
  size_t manifestCacheEntries = 4096;
  PullThrough* pullThrough = nullptr;  // the pull-through cache, when there is one
};

class RegistryApp final : public http::Application {
 public:
  explicit RegistryApp(RegistryDeps deps);
  ~RegistryApp() override;

  http::Dispatch dispatch(http::Request& request) override;
  // Drops every cached repository, manifest and tag: their registry changed elsewhere.
  void forgetCached();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace berth::registry
