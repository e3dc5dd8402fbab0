// GET, HEAD and DELETE /v2/<name>/blobs/<digest>
#include <charconv>

#include "core/digest.hpp"
#include "core/log.hpp"
#include "registry/handlers.hpp"

namespace berth::registry {
namespace {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

std::optional<uint64_t> parseNumber(std::string_view text) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// A blob range streamed from an object store, on the server's blocking pool.
class StoreSource final : public http::BodySource {
 public:
  StoreSource(storage::BlobReader blob, uint64_t first, uint64_t length)
      : blob_(std::move(blob)), first_(first), length_(length) {}
  bool pump(const std::function<bool(const char*, size_t)>& write) override {
    bool clientGone = false;
    auto read = storage::readBlob(blob_, first_, length_, [&](const char* data, size_t size) {
      clientGone = !write(data, size);
      return !clientGone;
    });
    if (!read && !clientGone) {
      log::warn("blob read from storage failed", {{"error", read.error().detail}});
      failure_ = read.takeError();
    }
    return read.ok();
  }
  // Linked in metadata but gone from the store (404 BLOB_UNKNOWN), or the store failing.
  std::optional<http::Response> instead() override {
    if (!failure_) return std::nullopt;
    return errorResponse(*failure_);
  }

 private:
  storage::BlobReader blob_;
  uint64_t first_, length_;
  std::optional<Error> failure_;
};

enum class RangeKind { None, Satisfiable, Unsatisfiable };

// One range of "bytes=first-last", "bytes=first-" or "bytes=-suffix". Anything else (several
// ranges, other units, malformed) is ignored and the whole blob is served, as RFC 9110 allows.
RangeKind parseRange(std::string_view header, uint64_t size, ByteRange& out) {
  constexpr std::string_view kPrefix = "bytes=";
  if (!header.starts_with(kPrefix)) return RangeKind::None;
  const auto spec = header.substr(kPrefix.size());
  if (spec.find(',') != spec.npos) return RangeKind::None;
  const auto dash = spec.find('-');
  if (dash == spec.npos) return RangeKind::None;
  const auto a = spec.substr(0, dash);
  const auto b = spec.substr(dash + 1);
  if (a.empty()) {
    auto suffix = parseNumber(b);
    if (!suffix) return RangeKind::None;
    if (*suffix == 0 || size == 0) return RangeKind::Unsatisfiable;
    out.first = *suffix >= size ? 0 : size - *suffix;
    out.last = size - 1;
    return RangeKind::Satisfiable;
  }
  auto first = parseNumber(a);
  if (!first) return RangeKind::None;
  std::optional<uint64_t> last = b.empty() ? std::optional<uint64_t>(UINT64_MAX) : parseNumber(b);
  if (!last || *last < *first) return RangeKind::None;
  if (*first >= size) return RangeKind::Unsatisfiable;
  out.first = *first;
  out.last = std::min(*last, size - 1);
  return RangeKind::Satisfiable;
}

}  // namespace

// A blob a repository under a cache rule lacks, from the cache (on the blocking pool): its
// bytes as the upstream sends them, or, when the registry's store had it, the stored blob.
http::Dispatch fetchCachedBlob(Services& s, http::Request& req, Target& t, const Digest& digest) {
  const bool head = req.method == http::Method::Head;
  return http::Dispatch::offload([&s, &req, t, digest, head]() mutable -> http::Dispatch {
    uint64_t size = 0;
    auto source = s.pull->blob(t.ctx, t.name, digest, size);
    if (!source) return replyError(source.error());
    if (!*source) return handleBlob(s, req, t);  // linked now: the stored blob
    http::Response resp;
    resp.headers.add("Content-Type", "application/octet-stream");
    resp.headers.add("Docker-Content-Digest", digest.str());
    resp.headers.add("X-Berth-Cache", "miss");
    resp.contentLength = size;
    if (!head && size > 0) resp.source = std::move(*source);
    return http::Dispatch::reply(std::move(resp));
  });
}

http::Dispatch handleBlob(Services& s, http::Request& req, Target& t) {
  auto digest = Digest::parse(t.ref);
  if (!digest) return fail(ApiCode::DigestInvalid, "invalid digest");
  const bool underRule =
      req.method != http::Method::Delete && s.pull && s.pull->covers(t.ctx.registry, t.name);
  auto repository = findRepository(s, t.ctx.registry, t.name);
  if (!repository) return replyError(repository.error());
  if (!*repository) {
    if (underRule) return fetchCachedBlob(s, req, t, *digest);
    return fail(ApiCode::BlobUnknown);
  }

  const auto linkKey = Caches::key(**repository, digest->str());
  if (req.method == http::Method::Delete) {
    s.caches.blobLinks.erase(linkKey);
    auto removed = s.meta.unlinkBlob(**repository, digest->str());
    s.caches.blobLinks.erase(linkKey);  // again: a read may have cached it meanwhile
    if (!removed) return replyError(removed.error());
    if (!*removed) return fail(ApiCode::BlobUnknown);
    auto resp = http::Response::empty(202);
    resp.headers.add("Docker-Content-Digest", digest->str());
    return http::Dispatch::reply(std::move(resp));
  }

  uint64_t size = 0;
  if (auto cached = s.caches.blobLinks.get(linkKey)) {
    size = *cached;
  } else {
    const auto epoch = s.caches.epoch();
    auto linked = s.meta.linkedBlob(**repository, digest->str());
    if (!linked) return replyError(linked.error());
    if (!*linked) {
      if (underRule) return fetchCachedBlob(s, req, t, *digest);
      return fail(ApiCode::BlobUnknown);
    }
    size = **linked;
    if (s.caches.unchangedSince(epoch)) s.caches.blobLinks.put(linkKey, size);
  }

  http::Response resp;
  resp.headers.add("Content-Type", "application/octet-stream");
  resp.headers.add("Docker-Content-Digest", digest->str());
  resp.headers.add("Accept-Ranges", "bytes");
  resp.headers.add("ETag", "\"" + digest->str() + "\"");
  resp.headers.add("Cache-Control", "max-age=31536000");

  ByteRange range{0, size == 0 ? 0 : size - 1};
  RangeKind kind = RangeKind::None;
  if (auto header = req.header("Range")) kind = parseRange(*header, size, range);
  if (kind == RangeKind::Unsatisfiable) {
    auto bad = errorResponse(makeError(ApiCode::RangeInvalid, "range not satisfiable", 416));
    bad.headers.add("Content-Range", "bytes */" + std::to_string(size));
    return http::Dispatch::reply(std::move(bad));
  }
  const uint64_t length = kind == RangeKind::Satisfiable ? range.last - range.first + 1 : size;
  if (kind == RangeKind::Satisfiable) {
    resp.status = 206;
    resp.headers.add("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                          std::to_string(range.last) + "/" + std::to_string(size));
  }
  if (req.method == http::Method::Head || length == 0) {
    resp.contentLength = length;
    return http::Dispatch::reply(std::move(resp));
  }
  if (auto there = t.ctx.blobs->readUrl(*digest); !there.empty()) {
    // The store serves the bytes itself, from a URL valid for a few minutes; the metadata
    // vouched for the blob, so no request to the store is made here.
    http::Response moved = http::Response::empty(307);
    moved.headers.add("Location", std::move(there));
    moved.headers.add("Docker-Content-Digest", digest->str());
    return http::Dispatch::reply(std::move(moved));
  }
  auto blob = t.ctx.blobs->openSized(*digest, size);
  if (!blob) {
    // Linked in metadata but gone from storage: report it as unknown rather than fail.
    return replyError(blob.error());
  }
  if (blob->fd) {
    resp.file = http::FileRange{std::move(blob->fd), range.first, length};
  } else {
    resp.contentLength = length;
    resp.source = std::make_shared<StoreSource>(std::move(*blob), range.first, length);
  }
  return http::Dispatch::reply(std::move(resp));
}

}  // namespace berth::registry
