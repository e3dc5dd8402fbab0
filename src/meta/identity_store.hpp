#pragma once
// IdentityStore: who may use a registry. Registry settings, admin passwords, scope maps,
// tokens, and the keys that sign access tokens. Secrets appear here only as hashes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "meta/metadata_store.hpp"

namespace berth::meta {

struct RegistrySettings {
  RegistryId id = 0;
  std::string name;
  bool adminEnabled = false;
  bool anonymousPull = false;
};

struct StoredSecret {
  std::string name;
  std::string hash;
  std::optional<int64_t> expiry;  // unix seconds
};

struct ScopeRule {
  std::string pattern;
  uint8_t actions = 0;  // auth::ActionBit mask
};

struct ScopeMapRecord {
  std::string name;
  std::string description;
  std::vector<ScopeRule> rules;
};

struct TokenRecord {
  std::string name;
  std::string scopeMap;
  bool enabled = true;
  std::vector<StoredSecret> secrets;
  int64_t created = 0;
};

struct SigningKeyRecord {
  std::string kid;
  std::string privatePem;
  int64_t created = 0;
  std::optional<int64_t> retired;
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  virtual Result<std::optional<RegistrySettings>> registrySettings(RegistryId registry) = 0;
  virtual Result<void> updateRegistrySettings(RegistryId registry, std::optional<bool> adminEnabled,
                                              std::optional<bool> anonymousPull) = 0;

  virtual Result<std::vector<StoredSecret>> adminSecrets(RegistryId registry) = 0;
  virtual Result<void> setAdminSecret(RegistryId registry, std::string_view name,
                                      std::string_view hash) = 0;

  // CONFLICT when the name is taken.
  virtual Result<void> createScopeMap(RegistryId registry, const ScopeMapRecord& map) = 0;
  virtual Result<std::optional<ScopeMapRecord>> scopeMap(RegistryId registry,
                                                         std::string_view name) = 0;

  // CONFLICT when the name is taken.
  virtual Result<void> createToken(RegistryId registry, const TokenRecord& token) = 0;
  virtual Result<std::optional<TokenRecord>> token(RegistryId registry, std::string_view name) = 0;
  virtual Result<bool> setTokenEnabled(RegistryId registry, std::string_view name,
                                       bool enabled) = 0;

  // Newest first.
  virtual Result<std::vector<SigningKeyRecord>> signingKeys() = 0;
  virtual Result<void> addSigningKey(const SigningKeyRecord& key) = 0;
  // Marks every key but `keep` retired at `when` (they still verify until tokens expire).
  virtual Result<void> retireSigningKeys(std::string_view keep, int64_t when) = 0;
};
using IdentityStorePtr = std::unique_ptr<IdentityStore>;

}  // namespace berth::meta
