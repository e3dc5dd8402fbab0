#include "storage/open_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "storage/fs/fs_blob_store.hpp"
#include "storage/object/azure_client.hpp"
#include "storage/object/s3_client.hpp"

namespace berth::storage {
namespace {

void fill(std::string& value, const char* variable) {
  if (!value.empty()) return;
  if (const char* env = std::getenv(variable)) value = env;
}

// The CA file HTTPS requests to the store trust: configured, else (S3, as AWS's tools do)
// AWS_CA_BUNDLE; one that cannot be read is named now rather than at the first request.
Result<object::HttpOptions> httpOptions(const StoreUrl& url, const StoreOptions& options) {
  object::HttpOptions http = options.objects.http;
  if (url.kind == StoreUrl::Kind::S3) fill(http.caFile, "AWS_CA_BUNDLE");
  if (!http.caFile.empty()) {
    const int fd = ::open(http.caFile.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return explainedError(ApiCode::Unsupported, "storage " + url.str() + ": CA file " +
                                                      http.caFile + ": " + std::strerror(errno));
    }
    ::close(fd);
  }
  return http;
}

}  // namespace

StoreCredentials StoreCredentials::withEnvironment() const {
  StoreCredentials c = *this;
  fill(c.awsAccessKeyId, "AWS_ACCESS_KEY_ID");
  fill(c.awsSecretAccessKey, "AWS_SECRET_ACCESS_KEY");
  fill(c.awsSessionToken, "AWS_SESSION_TOKEN");
  fill(c.azureStorageKey, "AZURE_STORAGE_KEY");
  fill(c.azureSasToken, "AZURE_STORAGE_SAS_TOKEN");
  return c;
}

Result<BlobStorePtr> openStore(const StoreUrl& url, const StoreOptions& options, bool probe) {
  const auto credentials = options.credentials.withEnvironment();
  switch (url.kind) {
    case StoreUrl::Kind::File:
      return FsBlobStore::open(url.path, options.openBlobs);
    case StoreUrl::Kind::S3: {
      if (credentials.awsAccessKeyId.empty() || credentials.awsSecretAccessKey.empty()) {
        return explainedError(ApiCode::Unsupported,
                              "storage " + url.str() +
                                  ": no credentials (set AWS_ACCESS_KEY_ID and "
                                  "AWS_SECRET_ACCESS_KEY, or aws_access_key_id and "
                                  "aws_secret_access_key)");
      }
      auto http = httpOptions(url, options);
      if (!http) return http.takeError();
      auto api = std::make_unique<object::S3Client>(
          url,
          sigv4::Credentials{credentials.awsAccessKeyId, credentials.awsSecretAccessKey,
                             credentials.awsSessionToken},
          *http);
      return ObjectBlobStore::open(url, std::move(api), options.objects, probe);
    }
    case StoreUrl::Kind::Azure: {
      if (credentials.azureStorageKey.empty() && credentials.azureSasToken.empty()) {
        return explainedError(ApiCode::Unsupported,
                              "storage " + url.str() +
                                  ": no credentials (set AZURE_STORAGE_KEY or "
                                  "AZURE_STORAGE_SAS_TOKEN, or azure_storage_key or "
                                  "azure_storage_sas_token)");
      }
      auto http = httpOptions(url, options);
      if (!http) return http.takeError();
      auto api = std::make_unique<object::AzureClient>(url, credentials.azureStorageKey,
                                                       credentials.azureSasToken, *http);
      return ObjectBlobStore::open(url, std::move(api), options.objects, probe);
    }
  }
  return explainedError(ApiCode::Unsupported, "storage " + url.str() + ": unknown kind");
}

}  // namespace berth::storage
