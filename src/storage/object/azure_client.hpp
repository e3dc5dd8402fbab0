#pragma once
// The Azure Blob operations the object store driver uses, over HttpClient: block blobs (parts
// are blocks, completed by a block list), ranges, copies within the account, listings and
// read-only SAS URLs. Authorised with the account key (Shared Key) or a SAS token.
#include <string>

#include "storage/object/http_client.hpp"
#include "storage/object/rest_object_client.hpp"
#include "storage/store_url.hpp"

namespace berth::storage::object {

class AzureClient final : public RestObjectClient {
 public:
  // `accountKey` (base64) signs every request; without it `sasToken` is appended to each URL.
  AzureClient(const StoreUrl& url, std::string accountKey, std::string sasToken,
              HttpOptions options = {});

  Result<void> probe() override;
  Result<std::string> beginParts(const std::string& key) override;
  Result<std::string> sendPart(const std::string& key, const std::string& upload, int number,
                               int fd, uint64_t offset, uint64_t length) override;
  Result<void> completeParts(const std::string& key, const std::string& upload,
                             const std::vector<std::pair<int, std::string>>& parts) override;
  Result<void> abortParts(const std::string& key, const std::string& upload) override;
  bool separateParts() const override { return false; }
  Result<void> copy(const std::string& from, const std::string& to, uint64_t size) override;
  Result<void> list(const std::string& prefix, const std::function<bool(const ObjectInfo&)>& visit,
                    int pageSize = 1000) override;
  std::string readUrl(const std::string& key, int64_t seconds) const override;

  // Creates the container (for tests and set-up; berth never creates one on its own).
  Result<void> createContainer();

 private:
  Result<HttpResponse> send(Call call) override;
  std::string_view rangeHeader() const override { return "x-ms-range"; }
  std::vector<std::pair<std::string, std::string>> putHeaders() const override {
    return {{"x-ms-blob-type", "BlockBlob"}};
  }

  std::string pathOf(const std::string& key) const;
  std::string urlOf(const std::string& path, const std::string& query) const;

  StoreUrl url_;
  std::string key_, sas_;
  std::string scheme_, authority_, basePath_;
  HttpClient http_;
};

}  // namespace berth::storage::object
