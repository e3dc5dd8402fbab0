#include "storage/object/azure_client.hpp"

#include <boost/url/parse.hpp>
#include <chrono>
#include <ctime>
#include <thread>

#include "storage/object/shared_key.hpp"
#include "storage/object/signing.hpp"
#include "storage/object/sigv4.hpp"
#include "storage/object/xml.hpp"

namespace berth::storage::object {
namespace {

// "Sat, 05 Dec 2026 08:00:00 GMT" in seconds since the epoch.
std::optional<int64_t> parseHttpDate(std::string_view text) {
  std::tm tm{};
  if (!strptime(std::string(text).c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

// Block ids: base64 of the same length for every block of a blob.
std::string blockId(int number) {
  char text[32];
  std::snprintf(text, sizeof text, "berth-block-%06d", number);
  return signing::base64(text);
}

}  // namespace

AzureClient::AzureClient(const StoreUrl& url, std::string accountKey, std::string sasToken,
                         HttpOptions options)
    : url_(url), key_(std::move(accountKey)), sas_(std::move(sasToken)), http_(options) {
  while (sas_.starts_with('?')) sas_.erase(0, 1);
  auto endpoint = boost::urls::parse_absolute_uri(url.endpoint);
  scheme_ = endpoint ? std::string(endpoint->scheme()) : "https";
  authority_ = endpoint ? std::string(endpoint->encoded_authority()) : "";
  basePath_ = endpoint ? std::string(endpoint->encoded_path()) : "";
  while (basePath_.ends_with('/')) basePath_.pop_back();
}

std::string AzureClient::pathOf(const std::string& key) const {
  // Appended piece by piece: gcc 12 at -O3 warns (restrict) about "/" + a temporary.
  std::string path = basePath_;
  path += '/';
  path += url_.bucket;
  if (!key.empty()) {
    path += '/';
    path += sigv4::uriEncode(key, true);
  }
  return path;
}

std::string AzureClient::urlOf(const std::string& path, const std::string& query) const {
  std::string q = query;
  if (key_.empty() && !sas_.empty()) q += (q.empty() ? "" : "&") + sas_;
  return scheme_ + "://" + authority_ + path + (q.empty() ? "" : "?" + q);
}

Result<HttpResponse> AzureClient::send(Call call) {
  const std::string path = pathOf(call.key);
  HttpRequest request = requestOf(call, scheme_ + "://" + authority_ + path);
  if (key_.empty() && !sas_.empty()) {
    request.url += (call.query.empty() ? "?" : "&") + sas_;
  }
  const uint64_t length = call.fd >= 0 ? call.length : call.body.size();
  const bool sendsBody = call.method == "PUT" || call.method == "POST";
  return http_.perform(std::move(request), [&](HttpRequest& r) {
    r.headers.emplace_back("x-ms-date", sharedkey::httpDate(std::time(nullptr)));
    r.headers.emplace_back("x-ms-version", std::string(sharedkey::kVersion));
    if (key_.empty()) return;
    auto signedHeaders = r.headers;
    if (sendsBody) signedHeaders.emplace_back("Content-Length", std::to_string(length));
    auto authorization = sharedkey::authorization(
        sharedkey::Request{r.method, path, call.query, std::move(signedHeaders)}, url_.account,
        key_);
    if (authorization) r.headers.emplace_back("Authorization", *authorization);
  });
}

Result<void> AzureClient::probe() {
  if (key_.empty() && sas_.empty()) {
    return makeError(ApiCode::Unsupported,
                     "no credentials (set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN)");
  }
  if (!key_.empty() && !sharedkey::authorization({"GET", "/", {}, {}}, url_.account, key_)) {
    return makeError(ApiCode::Unsupported, "AZURE_STORAGE_KEY is not base64");
  }
  auto r = send(Call{
      "GET",
      "",
      {{"restype", "container"}, {"comp", "list"}, {"maxresults", "1"}, {"prefix", url_.prefix}}});
  if (!r) return r.takeError();
  if (ok(*r)) return {};
  auto error = failure("listing container", url_.bucket, *r);
  if (r->status == 403) error.detail += " (check AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN)";
  return error;
}

Result<void> AzureClient::createContainer() {
  auto r = send(Call{"PUT", "", {{"restype", "container"}}});
  if (!r) return r.takeError();
  if (!ok(*r) && r->status != 409) return failure("creating container", url_.bucket, *r);
  return {};
}

// Blocks need no upload to be started: they are staged on the blob's name.
Result<std::string> AzureClient::beginParts(const std::string&) { return std::string("blocks"); }

Result<std::string> AzureClient::sendPart(const std::string& key, const std::string&, int number,
                                          int fd, uint64_t offset, uint64_t length) {
  const std::string id = blockId(number);
  Call call{"PUT", key, {{"comp", "block"}, {"blockid", id}}};
  call.fd = fd;
  call.offset = offset;
  call.length = length;
  auto r = send(std::move(call));
  if (!r) return r.takeError();
  if (!ok(*r)) return failure("putting block " + std::to_string(number) + " of", key, *r);
  return id;
}

Result<void> AzureClient::completeParts(const std::string& key, const std::string&,
                                        const std::vector<std::pair<int, std::string>>& parts) {
  std::string body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const auto& [number, id] : parts) body += "<Latest>" + xmlEscape(id) + "</Latest>";
  body += "</BlockList>";
  auto r = send(Call{"PUT", key, {{"comp", "blocklist"}}, {}, body});
  if (!r) return r.takeError();
  if (!ok(*r)) return failure("committing the block list of", key, *r);
  return {};
}

// Uncommitted blocks cannot be deleted one by one: the service discards them (after a week)
// when no block list commits them.
Result<void> AzureClient::abortParts(const std::string&, const std::string&) { return {}; }

Result<void> AzureClient::copy(const std::string& from, const std::string& to, uint64_t) {
  // Within the account the request's own authorisation covers the source.
  const std::string source = urlOf(pathOf(from), "");
  auto r = send(Call{"PUT", to, {}, {{"x-ms-copy-source", source}}});
  if (!r) return r.takeError();
  if (!ok(*r)) return failure("copying to", to, *r);
  // A copy may finish later: wait for it, polling less and less often.
  auto status = r->header("x-ms-copy-status").value_or("success");
  auto wait = std::chrono::milliseconds(50);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(30);
  while (status == "pending") {
    if (std::chrono::steady_clock::now() > deadline) {
      return makeError(ApiCode::Unknown, "storage: copying to " + to + " did not finish", 503);
    }
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(2000));
    auto h = send(Call{"HEAD", to});
    if (!h) return h.takeError();
    if (!ok(*h)) return failure("copying to", to, *h);
    status = h->header("x-ms-copy-status").value_or("success");
  }
  if (status != "success") {
    return makeError(ApiCode::Unknown, "storage: copying to " + to + " ended " + status, 503);
  }
  return {};
}

Result<void> AzureClient::list(const std::string& prefix,
                               const std::function<bool(const ObjectInfo&)>& visit, int pageSize) {
  static constexpr ListingShape kShape{"Blob",          "Name",       "Content-Length",
                                       "Last-Modified", "NextMarker", parseHttpDate};
  return listPages(
      prefix, kShape,
      [&](const std::string& marker) {
        std::vector<std::pair<std::string, std::string>> query{
            {"restype", "container"},
            {"comp", "list"},
            {"prefix", prefix},
            {"maxresults", std::to_string(pageSize)}};
        if (!marker.empty()) query.emplace_back("marker", marker);
        return query;
      },
      visit);
}

std::string AzureClient::readUrl(const std::string& key, int64_t seconds) const {
  const std::string path = pathOf(key);
  if (key_.empty()) return urlOf(path, "");
  const std::time_t now = std::time(nullptr);
  // Started a little in the past: the store's clock may be behind ours.
  auto sas =
      sharedkey::serviceSas(url_.account, key_, url_.bucket, key, "r", now - 300, now + seconds);
  return scheme_ + "://" + authority_ + path + "?" + sas.value_or("");
}

}  // namespace berth::storage::object
