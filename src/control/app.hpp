#pragma once
// The control plane: /api/v1, JSON in and out (docs/control-api.md). Registries, their
// credentials, repositories, scope maps and tokens.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "auth/authenticator.hpp"
#include "core/digest.hpp"
#include "events/secret_box.hpp"
#include "http/message.hpp"
#include "meta/event_store.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/upstream_store.hpp"
#include "storage/store_url.hpp"
#include "upstream/import_runner.hpp"
#include "upstream/replicator.hpp"

namespace berth::control {

// What the control plane needs from the process that hosts the registries.
class RegistryHost {
 public:
  virtual ~RegistryHost() = default;
  // "<name>.<domain>[:port]": where clients reach the registry.
  virtual std::string loginServer(std::string_view registry) const = 0;
  // The registry that answers on hosts outside the domain; it cannot be deleted.
  virtual std::string_view defaultRegistry() const = 0;
  // Where a registry's blobs live when its creator names no place.
  virtual storage::StoreUrl defaultStore(std::string_view registry) const = 0;
  // True when `presented` is the operator token (compared in constant time).
  virtual bool isOperatorToken(std::string_view presented) const = 0;
  // A one-way fingerprint of the operator token, kept with the operator's sign-in sessions: a
  // new operator token ends them.
  virtual std::string operatorFingerprint() const = 0;
  // Prepares the storage of a new registry (creates its directories).
  virtual Result<void> createStorage(const meta::RegistrySettings& registry) = 0;
  // Removes what berth stored for a deleted registry (its blobs and upload sessions).
  virtual Result<void> removeStorage(const meta::RegistrySettings& registry) = 0;
  // The registry's content or settings changed: drop what the data plane cached about it.
  virtual void forget(meta::RegistryId registry) = 0;
  // A blob of the registry of at most `limit` bytes, whole; nullopt when it is larger or not
  // stored. May wait for an object store: called off the network threads.
  virtual Result<std::optional<std::string>> readSmallBlob(const meta::RegistrySettings& registry,
                                                           const Digest& digest,
                                                           uint64_t limit) = 0;
};

// Webhooks and the audit log, as the control plane manages and reads them.
struct EventDeps {
  meta::EventStore& store;
  const events::SecretBox& secrets;
  bool allowLoopback = false;  // webhook URIs may name loopback and link-local addresses
  std::function<void()> wake;  // a ping was queued: the dispatcher should look now
};

// Sign-in sessions (POST /api/v1/session): how long one lasts and how many are kept.
struct SessionOptions {
  uint32_t lifetimeSeconds = 8 * 3600;
  size_t max = 10000;
  size_t perIdentity = 10;  // one identity signing in again and again ends only its own
};

// Other registries: credential sets and imports.
struct UpstreamDeps {
  meta::UpstreamStore& store;
  upstream::ImportRunner& imports;
  bool allowLoopback = false;  // sources may be on loopback and link-local addresses
  // The registry's cache rules changed: the pull-through cache reads them again.
  std::function<void(meta::RegistryId)> rulesChanged;
  // Replications: told of a changed replication and of a sync asked for (none in some tests).
  upstream::Replicator* replicator = nullptr;
};

struct ControlDeps {
  meta::MetadataStore& meta;
  meta::IdentityStore& identities;
  auth::Authenticator& authenticator;
  RegistryHost& host;
  EventDeps events;
  SessionOptions sessions;
  // Whether federated credentials may trust issuers over plain http (oidc_allow_http).
  bool federatedHttp = false;
  UpstreamDeps upstreams;
};

class ControlApp final : public http::Application {
 public:
  explicit ControlApp(ControlDeps deps);
  ~ControlApp() override;

  // Serves paths under /api/v1.
  http::Dispatch dispatch(http::Request& request) override;

 private:
  ControlDeps deps_;
};

}  // namespace berth::control
