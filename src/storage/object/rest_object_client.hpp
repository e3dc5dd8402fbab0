#pragma once
// What the S3 and Azure clients share: a request to the store (method, object, query, headers,
// a body from memory or a file, a sink for the answer), the plain object operations on top of
// it, and errors that name the store's own code and message.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/object/http_client.hpp"
#include "storage/object/object_api.hpp"

namespace berth::storage::object {

class RestObjectClient : public ObjectApi {
 public:
  Result<std::optional<uint64_t>> head(const std::string& key) override;
  Result<void> put(const std::string& key, std::string_view body) override;
  Result<void> putFile(const std::string& key, int fd, uint64_t offset, uint64_t length) override;
  Result<std::optional<std::string>> getSmall(const std::string& key, size_t limit) override;
  Result<void> get(const std::string& key, uint64_t first, uint64_t length,
                   const std::function<bool(const char*, size_t)>& onData) override;
  Result<void> remove(const std::string& key) override;

 protected:
  struct Call {
    std::string method;
    std::string key;  // empty: the bucket or container
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string_view body;
    int fd = -1;
    uint64_t offset = 0, length = 0;
    std::function<bool(const char*, size_t)> onData;
  };
  virtual Result<HttpResponse> send(Call call) = 0;
  // The header that asks for a byte range, and the headers a plain PUT of an object needs.
  virtual std::string_view rangeHeader() const = 0;
  virtual std::vector<std::pair<std::string, std::string>> putHeaders() const { return {}; }

  // How a store's listing reads: the element of one object and its fields, the field naming the
  // next page, and the format of its times.
  struct ListingShape {
    std::string_view entry, key, size, modified, next;
    std::optional<int64_t> (*time)(std::string_view);
  };
  // Pages through a listing: `query` makes a page's request parameters from the marker the last
  // page named (empty for the first).
  Result<void> listPages(
      const std::string& prefix, const ListingShape& shape,
      const std::function<std::vector<std::pair<std::string, std::string>>(const std::string&)>&
          query,
      const std::function<bool(const ObjectInfo&)>& visit);

  // The request for `call` at `base` (scheme, authority and path), its query encoded.
  static HttpRequest requestOf(Call& call, const std::string& base);

  static bool ok(const HttpResponse& r) { return r.status >= 200 && r.status < 300; }
  // "storage: <what> <key>: HTTP <status> <Code>: <Message>", for 503.
  static Error failure(std::string_view what, const std::string& key, const HttpResponse& r);
};

}  // namespace berth::storage::object
