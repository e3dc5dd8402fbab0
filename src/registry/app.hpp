#pragma once
// The data plane: authenticates the caller, routes /v2/ paths, authorizes, and hands the
// request to the handler of its resource.
#include <memory>

#include "auth/authenticator.hpp"
#include "http/message.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"
#include "registry/context.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

struct RegistryDeps {
  meta::MetadataStore& meta;
  meta::IdentityStore& identities;
  storage::BlobStore& blobs;  // the default registry's
  auth::Authenticator& authenticator;
  meta::RegistryId defaultRegistry = 0;
  size_t manifestCacheEntries = 4096;
};

class RegistryApp final : public http::Application {
 public:
  explicit RegistryApp(RegistryDeps deps);
  ~RegistryApp() override;

  http::Dispatch dispatch(http::Request& request) override;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace berth::registry
