#pragma once
// The S3 operations the S3 driver uses, over HttpClient and SigV4: objects, multipart uploads,
// server-side copies, listings and presigned GETs. Works with AWS and with S3-compatible
// stores (path-style or virtual-hosted buckets, any endpoint).
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "storage/object/http_client.hpp"
#include "storage/object/rest_object_client.hpp"
#include "storage/object/sigv4.hpp"
#include "storage/store_url.hpp"

namespace berth::storage::object {

// Seconds since the epoch of an ISO 8601 time as the stores write it ("2026-12-05T07:50:57.442Z").
std::optional<int64_t> parseIsoTime(std::string_view text);

class S3Client final : public RestObjectClient {
 public:
  S3Client(const StoreUrl& url, sigv4::Credentials credentials, HttpOptions options = {});

  // One listing of the bucket under the prefix: answers whether the bucket exists and the
  // credentials may read it, in one line naming the problem when not.
  Result<void> probe() override;

  Result<std::string> beginParts(const std::string& key) override;  // the upload id
  // The part's ETag.
  Result<std::string> sendPart(const std::string& key, const std::string& uploadId, int part,
                               int fd, uint64_t offset, uint64_t length) override;
  Result<void> completeParts(const std::string& key, const std::string& uploadId,
                             const std::vector<std::pair<int, std::string>>& parts) override;
  Result<void> abortParts(const std::string& key, const std::string& uploadId) override;
  bool separateParts() const override { return true; }

  // A server-side copy of `from` (of `size` bytes) to `to`: one CopyObject up to 5 GiB, a
  // multipart copy above.
  Result<void> copy(const std::string& from, const std::string& to, uint64_t size) override;

  // Every object under `prefix`, in key order, until `visit` returns false; `pageSize` keys
  // per request.
  Result<void> list(const std::string& prefix, const std::function<bool(const ObjectInfo&)>& visit,
                    int pageSize = 1000) override;

  // A URL that GETs `key` without credentials for `seconds`.
  std::string readUrl(const std::string& key, int64_t seconds) const override;

 private:
  Result<HttpResponse> send(Call call) override;
  std::string_view rangeHeader() const override { return "Range"; }

  std::string pathOf(const std::string& key) const;

  StoreUrl url_;
  sigv4::Credentials credentials_;
  sigv4::Scope scope_;
  std::string scheme_, authority_;  // of the requests: "http", "bucket.s3.amazonaws.com"
  std::string basePath_;            // "/bucket" path-style, "" virtual-hosted
  HttpClient http_;
};

}  // namespace berth::storage::object
