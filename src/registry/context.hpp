#pragma once
// Who is asking, of which registry: resolved once per request and handed to every handler.
#include <memory>
#include <string>
#include <string_view>

#include "auth/authenticator.hpp"
#include "meta/metadata_store.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

struct RequestContext {
  meta::RegistryId registry = 0;
  bool anonymousPull = false;
  // Shared: a request streaming a body keeps the store alive should its registry be deleted.
  std::shared_ptr<storage::BlobStore> blobs;
  auth::Identity caller;
  std::string requestId;
  std::string registryName;
  std::string remote;                   // the client's address and port
  std::string host, method, userAgent;  // of the request, for the outbox's events
};

// Who makes a change, as the tag history records it.
meta::Actor actorOf(const RequestContext& ctx);

enum class Action { Pull, ListTags, Push, Delete, Catalog };

// Decides every data-plane request from (caller, registry, repository, action).
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual bool allowed(const RequestContext& ctx, std::string_view repository, Action action) = 0;
};

// Scope maps and token access claims, as carried by the caller's permissions; anonymous
// callers may pull where the registry allows anonymous pull.
class ScopeAuthorizer final : public Authorizer {
 public:
  bool allowed(const RequestContext& ctx, std::string_view repository, Action action) override;
};

}  // namespace berth::registry
