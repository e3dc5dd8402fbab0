#pragma once
// Who is asking, of which registry: resolved once per request and handed to every handler.
#include <string>
#include <string_view>

#include "meta/metadata_store.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

// The authenticated caller. Authentication arrives in a later component; today every caller
// is anonymous.
struct Caller {
  std::string subject;
  bool anonymous = true;
};

struct RequestContext {
  meta::RegistryId registry = 0;
  std::string registryName;
  storage::BlobStore* blobs = nullptr;
  Caller caller;
  std::string requestId;
};

enum class Action { Pull, Push, Delete, Catalog };

// Decides every data-plane request from (caller, registry, repository, action).
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual bool allowed(const RequestContext& ctx, std::string_view repository, Action action) = 0;
};

// Until authentication exists every request is allowed.
class AllowAllAuthorizer final : public Authorizer {
 public:
  bool allowed(const RequestContext&, std::string_view, Action) override { return true; }
};

}  // namespace berth::registry
