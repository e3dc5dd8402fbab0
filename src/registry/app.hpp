#pragma once
// The data plane: resolves the registry, routes /v2/ paths, authorizes, and hands the request
// to the handler of its resource.
#include <filesystem>
#include <memory>

#include "http/message.hpp"
#include "meta/metadata_store.hpp"
#include "registry/context.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

struct RegistryOptions {
  std::filesystem::path dataDir;
  size_t manifestCacheEntries = 4096;
};

class RegistryApp final : public http::Application {
 public:
  // Opens (creating when missing) the metadata database and the default registry's storage.
  static Result<std::unique_ptr<RegistryApp>> open(const RegistryOptions& options,
                                                   std::unique_ptr<Authorizer> authorizer);
  ~RegistryApp() override;

  http::Dispatch dispatch(http::Request& request) override;

  struct State;

 private:
  explicit RegistryApp(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace berth::registry
