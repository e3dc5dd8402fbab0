#pragma once
// Opens the BlobStore a store URL names, with the credentials of its kind.
#include <string>

#include "storage/blob_store.hpp"
#include "storage/object/object_blob_store.hpp"
#include "storage/store_url.hpp"

namespace berth::storage {

// Credentials for object stores: from the configuration, else from the environment's standard
// variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AZURE_STORAGE_KEY,
// AZURE_STORAGE_SAS_TOKEN).
struct StoreCredentials {
  std::string awsAccessKeyId;
  std::string awsSecretAccessKey;
  std::string awsSessionToken;
  std::string azureStorageKey;
  std::string azureSasToken;
  // The configured values, with the environment's filling in what is not configured.
  StoreCredentials withEnvironment() const;
};

struct StoreOptions {
  StoreCredentials credentials;
  ObjectStoreOptions objects;
  size_t openBlobs = 256;  // filesystem: descriptors of recently read blobs kept open
};

// `probe`: one request to an object store first, so that a bad bucket, endpoint or key is
// refused now, in one line. Without it nothing is sent until the store is used.
Result<BlobStorePtr> openStore(const StoreUrl& url, const StoreOptions& options, bool probe);

}  // namespace berth::storage
