#pragma once
// The composition root: opens the stores of a data directory and wires the planes of one
// berth process: data plane /v2, auth plane /oauth2, control plane /api/v1, and /healthz.
#include <filesystem>
#include <memory>
#include <string>

#include "auth/authenticator.hpp"
#include "http/message.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"

namespace berth::app {

inline constexpr std::string_view kDefaultRegistry = "default";

// The stores of one data directory, shared by the server and `berth admin`.
struct Stores {
  meta::MetadataStorePtr meta;
  meta::IdentityStorePtr identities;
  meta::RegistryId defaultRegistry = 0;

  static Result<Stores> open(const std::filesystem::path& dataDir);
};

struct NodeOptions {
  std::filesystem::path dataDir;
  size_t manifestCacheEntries = 4096;
  auth::AuthOptions auth;
  // Registry <name> answers at <name>.<domain>; other hosts reach the default registry.
  std::string domain = "localhost";
  // Holds the operator token of the control API; created when missing. Empty:
  // <data>/operator-token.
  std::filesystem::path operatorTokenFile;
};

class Node final : public http::Application {
 public:
  static Result<std::unique_ptr<Node>> open(NodeOptions options);
  ~Node() override;

  http::Dispatch dispatch(http::Request& request) override;

  struct Planes;

 private:
  Node(Stores stores, std::unique_ptr<Planes> planes);
  Stores stores_;
  std::unique_ptr<Planes> planes_;
};

}  // namespace berth::app
