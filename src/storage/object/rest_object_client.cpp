#include "storage/object/rest_object_client.hpp"

#include "storage/object/sigv4.hpp"
#include "storage/object/xml.hpp"

namespace berth::storage::object {

Error RestObjectClient::failure(std::string_view what, const std::string& key,
                                const HttpResponse& r) {
  std::string detail =
      "storage: " + std::string(what) + " " + key + ": HTTP " + std::to_string(r.status);
  if (auto doc = XmlDoc::parse(r.body)) {
    if (auto code = doc->find("Code")) detail += " " + *code;
    if (auto message = doc->find("Message"); message && !message->empty()) {
      detail += ": " + message->substr(0, message->find('\n'));
    }
  } else if (auto code = r.header("x-ms-error-code")) {
    detail += " " + *code;
  }
  return makeError(ApiCode::Unknown, detail, 503);
}

HttpRequest RestObjectClient::requestOf(Call& call, const std::string& base) {
  HttpRequest request;
  request.method = call.method;
  std::string query;
  for (const auto& [name, value] : call.query) {
    // Appended piece by piece: gcc 12 at -O3 warns (restrict) about "?" + a temporary.
    query += query.empty() ? '?' : '&';
    query += sigv4::uriEncode(name, false);
    query += '=';
    query += sigv4::uriEncode(value, false);
  }
  request.url = base + query;
  request.body = call.body;
  request.bodyFd = call.fd;
  request.bodyOffset = call.offset;
  request.bodyLength = call.length;
  request.onData = std::move(call.onData);
  request.headers = call.headers;
  return request;
}

Result<std::optional<uint64_t>> RestObjectClient::head(const std::string& key) {
  auto r = send(Call{"HEAD", key});
  if (!r) return r.takeError();
  if (r->status == 404) return std::optional<uint64_t>();
  if (!ok(*r)) return failure("HEAD", key, *r);
  const auto length = r->header("content-length");
  return std::optional<uint64_t>(length ? std::stoull(*length) : 0);
}

Result<void> RestObjectClient::put(const std::string& key, std::string_view body) {
  auto r = send(Call{"PUT", key, {}, putHeaders(), body});
  if (!r) return r.takeError();
  if (!ok(*r)) return failure("PUT", key, *r);
  return {};
}

Result<void> RestObjectClient::putFile(const std::string& key, int fd, uint64_t offset,
                                       uint64_t length) {
  Call call{"PUT", key, {}, putHeaders()};
  call.fd = fd;
  call.offset = offset;
  call.length = length;
  auto r = send(std::move(call));
  if (!r) return r.takeError();
  if (!ok(*r)) return failure("PUT", key, *r);
  return {};
}

Result<std::optional<std::string>> RestObjectClient::getSmall(const std::string& key,
                                                              size_t limit) {
  std::string out;
  bool tooLarge = false;
  Call call{"GET", key};
  call.onData = [&](const char* data, size_t size) {
    if (out.size() + size > limit) {
      tooLarge = true;
      return false;
    }
    out.append(data, size);
    return true;
  };
  auto r = send(std::move(call));
  if (tooLarge) {
    return makeError(ApiCode::Unknown, "storage: " + key + " is larger than expected", 503);
  }
  if (!r) return r.takeError();
  if (r->status == 404) return std::optional<std::string>();
  if (!ok(*r)) return failure("GET", key, *r);
  return std::optional<std::string>(std::move(out));
}

Result<void> RestObjectClient::get(const std::string& key, uint64_t first, uint64_t length,
                                   const std::function<bool(const char*, size_t)>& onData) {
  if (length == 0) return {};
  Call call{"GET", key};
  if (first > 0 || length != kToEnd) {
    const auto last = length == kToEnd ? std::string() : std::to_string(first + length - 1);
    call.headers.emplace_back(std::string(rangeHeader()),
                              "bytes=" + std::to_string(first) + "-" + last);
  }
  call.onData = onData;
  auto r = send(std::move(call));
  if (!r) return r.takeError();
  if (r->status == 404) return makeError(ApiCode::BlobUnknown, "blob not in storage", 404);
  if (!ok(*r)) return failure("GET", key, *r);
  return {};
}

Result<void> RestObjectClient::remove(const std::string& key) {
  auto r = send(Call{"DELETE", key});
  if (!r) return r.takeError();
  if (!ok(*r) && r->status != 404) return failure("DELETE", key, *r);
  return {};
}

Result<void> RestObjectClient::listPages(
    const std::string& prefix, const ListingShape& shape,
    const std::function<std::vector<std::pair<std::string, std::string>>(const std::string&)>&
        query,
    const std::function<bool(const ObjectInfo&)>& visit) {
  std::string marker;
  for (;;) {
    auto r = send(Call{"GET", "", query(marker)});
    if (!r) return r.takeError();
    if (!ok(*r)) return failure("listing", prefix, *r);
    auto doc = XmlDoc::parse(r->body);
    if (!doc) return makeError(ApiCode::Unknown, "storage: a listing that does not parse", 503);
    for (const auto& entry : doc->each(shape.entry)) {
      auto key = entry.find(std::string(shape.key));
      if (key == entry.end()) continue;
      ObjectInfo info;
      info.key = key->second;
      if (auto size = entry.find(std::string(shape.size)); size != entry.end()) {
        info.size = std::stoull(size->second);
      }
      if (auto modified = entry.find(std::string(shape.modified)); modified != entry.end()) {
        info.modified = shape.time(modified->second).value_or(0);
      }
      if (!visit(info)) return {};
    }
    const auto next = doc->find(shape.next);
    if (!next || next->empty()) return {};
    marker = *next;
  }
}

}  // namespace berth::storage::object
