#include "storage/object/s3_client.hpp"

#include <boost/url/parse.hpp>
#include <cstdio>

#include "core/log.hpp"
#include "storage/object/signing.hpp"
#include "storage/object/xml.hpp"

namespace berth::storage::object {
namespace {

constexpr uint64_t kCopyObjectLimit = 5ull << 30;  // CopyObject's largest source
constexpr uint64_t kCopyPart = 1ull << 30;

}  // namespace

std::optional<int64_t> parseIsoTime(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  const std::string s(text.substr(0, 19));
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &year, &month, &day, &hour, &minute,
                  &second) != 6) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm));
}

S3Client::S3Client(const StoreUrl& url, sigv4::Credentials credentials, HttpOptions options)
    : url_(url), credentials_(std::move(credentials)), scope_{url.region, "s3"}, http_(options) {
  // The endpoint was checked when the URL was parsed.
  auto endpoint = boost::urls::parse_absolute_uri(url.endpoint);
  scheme_ = endpoint ? std::string(endpoint->scheme()) : "https";
  const std::string authority = endpoint ? std::string(endpoint->encoded_authority()) : "";
  std::string path = endpoint ? std::string(endpoint->encoded_path()) : "";
  while (path.ends_with('/')) path.pop_back();
  if (url.pathStyle) {
    authority_ = authority;
    basePath_ = path + "/" + url.bucket;
  } else {
    authority_ = url.bucket + "." + authority;
    basePath_ = path;
  }
}

std::string S3Client::pathOf(const std::string& key) const {
  return basePath_ + "/" + sigv4::uriEncode(key, true);
}

Result<HttpResponse> S3Client::send(Call call) {
  const std::string path = call.key.empty() ? basePath_ + "/" : pathOf(call.key);
  HttpRequest request = requestOf(call, scheme_ + "://" + authority_ + path);
  // Parts stream from files: their bytes are not hashed for the signature (HTTPS protects
  // them on the way; the blob's digest is checked by berth itself).
  const std::string payload =
      call.fd >= 0 ? std::string(sigv4::kUnsignedPayload) : signing::sha256Hex(call.body);
  return http_.perform(std::move(request), [&](HttpRequest& r) {
    auto added = sigv4::signS3Headers(r.method, authority_, path, call.query, r.headers, payload,
                                      credentials_, scope_, std::time(nullptr));
    r.headers.insert(r.headers.end(), added.begin(), added.end());
  });
}

Result<void> S3Client::probe() {
  auto r = send(Call{"GET", "", {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", url_.prefix}}});
  if (!r) return r.takeError();
  if (ok(*r)) return {};
  auto error = failure("listing bucket", url_.bucket, *r);
  if (r->status == 403) error.detail += " (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";
  return error;
}

Result<std::string> S3Client::beginParts(const std::string& key) {
  auto r = send(Call{"POST", key, {{"uploads", ""}}});
  if (!r) return r.takeError();
  if (!ok(*r)) return failure("starting multipart upload", key, *r);
  auto doc = XmlDoc::parse(r->body);
  auto id = doc ? doc->find("UploadId") : std::nullopt;
  if (!id || id->empty()) {
    return makeError(ApiCode::Unknown, "storage: no UploadId in the answer for " + key, 503);
  }
  return *id;
}

Result<std::string> S3Client::sendPart(const std::string& key, const std::string& uploadId,
                                       int part, int fd, uint64_t offset, uint64_t length) {
  Call call{"PUT", key, {{"partNumber", std::to_string(part)}, {"uploadId", uploadId}}};
  call.fd = fd;
  call.offset = offset;
  call.length = length;
  auto r = send(std::move(call));
  if (!r) return r.takeError();
  if (!ok(*r)) return failure("uploading part " + std::to_string(part) + " of", key, *r);
  auto etag = r->header("etag");
  if (!etag) return makeError(ApiCode::Unknown, "storage: no ETag for a part of " + key, 503);
  return *etag;
}

Result<void> S3Client::completeParts(const std::string& key, const std::string& uploadId,
                                     const std::vector<std::pair<int, std::string>>& parts) {
  std::string body = "<CompleteMultipartUpload>";
  for (const auto& [number, etag] : parts) {
    body += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" +
            xmlEscape(etag) + "</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  auto r = send(Call{"POST", key, {{"uploadId", uploadId}}, {}, body});
  if (!r) return r.takeError();
  // S3 may answer 200 and then report an error in the body.
  auto doc = XmlDoc::parse(r->body);
  if (!ok(*r) || (doc && doc->rootName() == "Error")) {
    return failure("completing multipart upload", key, *r);
  }
  return {};
}

Result<void> S3Client::abortParts(const std::string& key, const std::string& uploadId) {
  auto r = send(Call{"DELETE", key, {{"uploadId", uploadId}}});
  if (!r) return r.takeError();
  if (r->status == 405 || r->status == 501) {
    // Some S3-compatible stores cannot abort: their parts stay until the store drops them.
    log::warn("storage cannot abort multipart uploads",
              {{"status", static_cast<int64_t>(r->status)}});
    return {};
  }
  if (!ok(*r) && r->status != 404) return failure("aborting multipart upload", key, *r);
  return {};
}

Result<void> S3Client::copy(const std::string& from, const std::string& to, uint64_t size) {
  const std::string source =
      basePath_.empty() ? "/" + url_.bucket + "/" + sigv4::uriEncode(from, true) : pathOf(from);
  if (size <= kCopyObjectLimit) {
    auto r = send(Call{"PUT", to, {}, {{"x-amz-copy-source", source}}});
    if (!r) return r.takeError();
    auto doc = XmlDoc::parse(r->body);
    if (!ok(*r) || (doc && doc->rootName() == "Error")) return failure("copying to", to, *r);
    return {};
  }
  auto id = beginParts(to);
  if (!id) return id.takeError();
  std::vector<std::pair<int, std::string>> parts;
  int number = 1;
  for (uint64_t first = 0; first < size; first += kCopyPart, ++number) {
    const uint64_t last = std::min(size, first + kCopyPart) - 1;
    auto r = send(Call{"PUT",
                       to,
                       {{"partNumber", std::to_string(number)}, {"uploadId", *id}},
                       {{"x-amz-copy-source", source},
                        {"x-amz-copy-source-range",
                         "bytes=" + std::to_string(first) + "-" + std::to_string(last)}}});
    std::optional<std::string> etag;
    if (r && ok(*r)) {
      if (auto doc = XmlDoc::parse(r->body)) etag = doc->find("ETag");
    }
    if (!etag) {
      (void)abortParts(to, *id);
      if (!r) return r.takeError();
      return failure("copying a part to", to, *r);
    }
    parts.emplace_back(number, *etag);
  }
  return completeParts(to, *id, parts);
}

Result<void> S3Client::list(const std::string& prefix,
                            const std::function<bool(const ObjectInfo&)>& visit, int pageSize) {
  static constexpr ListingShape kShape{
      "Contents", "Key", "Size", "LastModified", "NextContinuationToken", parseIsoTime};
  return listPages(
      prefix, kShape,
      [&](const std::string& token) {
        sigv4::Pairs query{
            {"list-type", "2"}, {"prefix", prefix}, {"max-keys", std::to_string(pageSize)}};
        if (!token.empty()) query.emplace_back("continuation-token", token);
        return query;
      },
      visit);
}

std::string S3Client::readUrl(const std::string& key, int64_t seconds) const {
  const std::string path = pathOf(key);
  return scheme_ + "://" + authority_ + path + "?" +
         sigv4::presignQuery("GET", authority_, path, {}, credentials_, scope_, std::time(nullptr),
                             seconds);
}

}  // namespace berth::storage::object
