// Blob uploads: POST /v2/<name>/blobs/uploads/ (session, monolithic, mount) and
// GET, PATCH, PUT, DELETE /v2/<name>/blobs/uploads/<uuid>.
#include <charconv>
#include <functional>

#include "core/digest.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/reference.hpp"
#include "registry/handlers.hpp"

namespace berth::registry {
namespace {

using http::Dispatch;
using http::Response;

Dispatch reply(Response r) { return Dispatch::reply(std::move(r)); }

std::string rangeHeader(uint64_t size) { return "0-" + std::to_string(size == 0 ? 0 : size - 1); }

Response sessionResponse(int status, std::string_view name, std::string_view uuid, uint64_t size) {
  auto resp = Response::empty(status);
  resp.headers.add("Location", uploadLocation(name, uuid));
  resp.headers.add("Range", rangeHeader(size));
  resp.headers.add("Docker-Upload-UUID", std::string(uuid));
  resp.contentLength = 0;
  return resp;
}

Response createdResponse(std::string_view name, const std::string& digest) {
  auto resp = Response::empty(201);
  resp.headers.add("Location", blobLocation(name, digest));
  resp.headers.add("Docker-Content-Digest", digest);
  resp.contentLength = 0;
  return resp;
}

// Places a verified upload in the store, links it to the repository and ends its session, in
// one metadata transaction (garbage collection cannot slip between the first two).
Result<void> linkVerified(Services& s, Target& t, const std::string& uuid, const Digest& digest,
                          uint64_t size, bool session) {
  auto repository = s.meta.ensureRepository(t.ctx.registry, t.name);
  if (!repository) return repository.takeError();
  auto blobs = t.ctx.blobs;
  return s.meta.linkBlob(
      t.ctx.registry, *repository, digest.str(), size,
      [&] { return blobs->placeUpload(uuid, digest); }, session ? uuid : std::string_view());
}

// An upload the disk has no room for is removed whole, session and all: the client gets 507,
// and nothing of it stays behind to take space.
void abandonUpload(Services& s, storage::BlobStore& blobs, const std::string& uuid, bool session) {
  (void)blobs.cancelUpload(uuid);
  if (session) (void)s.meta.deleteUpload(uuid);
}

bool noSpace(const Error& e) { return e.code == ApiCode::InsufficientStorage; }

// berth_uploads_in_progress: blob bodies streaming into storage at this moment, counted from
// the head's arrival to the reply.
class UploadInProgress {
 public:
  UploadInProgress() : counted_(metrics::enabled()) {
    if (counted_) gauge().add(1);
  }
  ~UploadInProgress() {
    if (counted_) gauge().add(-1);
  }
  UploadInProgress(const UploadInProgress&) = delete;
  UploadInProgress& operator=(const UploadInProgress&) = delete;

 private:
  static metrics::Gauge& gauge() {
    static auto& g = metrics::gauges("berth_uploads_in_progress",
                                     "Blob upload bodies streaming into storage now.")
                         .with();
    return g;
  }
  bool counted_;
};

// Streams a request body into an upload session, then runs `done` with the writer closed.
// `abandon` removes the upload: when the disk has no room for it, and, unless it is a session
// the client may resume, when the body stops short.
template <class Done>
class UploadSink final : public http::BodySink {
 public:
  UploadSink(storage::UploadWriterPtr writer, Done done, std::function<void()> abandon,
             bool resumable)
      : writer_(std::move(writer)),
        done_(std::move(done)),
        abandon_(std::move(abandon)),
        resumable_(resumable) {}

  bool write(const char* data, size_t size) override {
    return accepted(writer_->write(data, size));
  }
  bool acceptsPipe() const override { return writer_->acceptsPipe(); }
  bool writeFromPipe(int pipe, size_t size) override {
    return accepted(writer_->writeFromPipe(pipe, size));
  }
  bool blocking() const override { return writer_->blocking(); }

  Response finish(bool complete) override {
    // What arrived is kept, whole body or not: a client may resume a session where it broke.
    if (!error_) (void)accepted(writer_->close());
    const uint64_t size = writer_->size();
    writer_.reset();  // release the session before commit claims it
    if (error_) {
      if (noSpace(*error_)) abandon_();
      return errorResponse(*error_);
    }
    if (!complete) {
      if (!resumable_) abandon_();
      return errorResponse(makeError(ApiCode::BlobUploadInvalid, "request body incomplete"));
    }
    return done_(size);
  }

 private:
  bool accepted(Result<void> r) {
    if (r) return true;
    error_ = r.takeError();
    return false;
  }

  UploadInProgress inProgress_;
  storage::UploadWriterPtr writer_;
  Done done_;
  std::function<void()> abandon_;
  bool resumable_;
  std::optional<Error> error_;
};

template <class Done>
Dispatch streamInto(Services& s, Target& t, const std::string& uuid, bool session,
                    storage::UploadWriterPtr writer, Done done) {
  auto abandon = [&s, blobs = t.ctx.blobs, uuid, session] {
    abandonUpload(s, *blobs, uuid, session);
  };
  return Dispatch::body(std::make_unique<UploadSink<Done>>(std::move(writer), std::move(done),
                                                           std::move(abandon), session));
}

Response commit(Services& s, Target& t, const std::string& uuid, const Digest& digest,
                bool session) {
  auto blob = t.ctx.blobs->verifyUpload(uuid, digest);
  if (!blob) {
    // Content that is not what the client claims, or no room to keep it: the session cannot
    // succeed any more.
    if (blob.error().code == ApiCode::DigestInvalid || noSpace(blob.error())) {
      abandonUpload(s, *t.ctx.blobs, uuid, session);
    }
    return errorResponse(blob.error());
  }
  if (auto r = linkVerified(s, t, uuid, digest, blob->size, session); !r) {
    // Refused by the quota, or no room: the upload is of no use any more. After another
    // failure the client may try the PUT again.
    if (r.error().code == ApiCode::Denied || noSpace(r.error())) {
      abandonUpload(s, *t.ctx.blobs, uuid, session);
    }
    return errorResponse(r.error());
  }
  return createdResponse(t.name, blob->digest);
}

Dispatch tryMount(Services& s, Target& t, const Digest& digest, std::string_view from) {
  if (!isValidRepositoryName(from)) return Dispatch{};
  if (!s.authorizer.allowed(t.ctx, from, Action::Pull)) return Dispatch{};
  auto source = findRepository(s, t.ctx.registry, from);
  if (!source || !*source) return Dispatch{};
  auto linked = s.meta.linkedBlob(**source, digest.str());
  if (!linked || !*linked) return Dispatch{};
  auto repository = s.meta.ensureRepository(t.ctx.registry, t.name);
  if (!repository) return replyError(repository.error());
  auto mounted = s.meta.mountBlob(**source, *repository, digest.str());
  if (!mounted) return replyError(mounted.error());
  if (!*mounted) return Dispatch{};
  return reply(createdResponse(t.name, digest.str()));
}

Dispatch startSession(Services& s, Target& t) {
  auto uuid = newUuid();
  if (auto r = t.ctx.blobs->createUpload(uuid); !r) return replyError(r.error());
  meta::UploadRecord record{uuid, t.ctx.registry, t.name, 0};
  if (auto r = s.meta.createUpload(record); !r) {
    (void)t.ctx.blobs->cancelUpload(uuid);
    return replyError(r.error());
  }
  return reply(sessionResponse(202, t.name, uuid, 0));
}

struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

// "first-last", as the distribution spec writes it; "bytes first-last[/total]" is tolerated.
std::optional<ContentRange> parseContentRange(std::string_view text) {
  if (text.starts_with("bytes=")) text.remove_prefix(6);
  if (text.starts_with("bytes ")) text.remove_prefix(6);
  if (auto slash = text.find('/'); slash != text.npos) text = text.substr(0, slash);
  const auto dash = text.find('-');
  if (dash == text.npos) return std::nullopt;
  ContentRange r;
  auto a = text.substr(0, dash);
  auto b = text.substr(dash + 1);
  auto [p1, e1] = std::from_chars(a.data(), a.data() + a.size(), r.first);
  auto [p2, e2] = std::from_chars(b.data(), b.data() + b.size(), r.last);
  if (a.empty() || b.empty() || e1 != std::errc() || e2 != std::errc() ||
      p1 != a.data() + a.size() || p2 != b.data() + b.size() || r.last < r.first) {
    return std::nullopt;
  }
  return r;
}

std::optional<uint64_t> contentLength(const http::Request& req) {
  auto v = req.header("Content-Length");
  if (!v) return std::nullopt;
  uint64_t n = 0;
  auto [p, e] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (e != std::errc() || p != v->data() + v->size()) return std::nullopt;
  return n;
}

}  // namespace

Dispatch handleUploadStart(Services& s, http::Request& req, Target& t) {
  if (auto mount = req.param("mount")) {
    auto digest = Digest::parse(*mount);
    if (!digest) return fail(ApiCode::DigestInvalid, "invalid mount digest");
    if (auto from = req.param("from")) {
      auto mounted = tryMount(s, t, *digest, *from);
      if (mounted.response || mounted.sink) return mounted;
    }
    // Not mountable: the client gets an ordinary session and uploads the blob.
    return startSession(s, t);
  }
  if (auto digestParam = req.param("digest")) {
    auto digest = Digest::parse(*digestParam);
    if (!digest) return fail(ApiCode::DigestInvalid, "invalid digest");
    auto uuid = newUuid();
    if (auto r = t.ctx.blobs->createUpload(uuid); !r) return replyError(r.error());
    auto writer = t.ctx.blobs->appendLast(uuid, *digest);
    if (!writer) {
      (void)t.ctx.blobs->cancelUpload(uuid);
      return replyError(writer.error());
    }
    // A monolithic upload never becomes a session a client could resume: it has no row.
    auto blobs = t.ctx.blobs;
    return streamInto(s, t, uuid, false, std::move(*writer),
                      [&s, t, uuid, d = *digest, blobs](uint64_t) mutable {
                        auto resp = commit(s, t, uuid, d, false);
                        if (resp.status != 201) (void)blobs->cancelUpload(uuid);
                        return resp;
                      });
  }
  return startSession(s, t);
}

Dispatch handleUpload(Services& s, http::Request& req, Target& t) {
  const std::string uuid = t.ref;
  if (!isUuid(uuid)) return fail(ApiCode::BlobUploadUnknown);
  auto record = s.meta.getUpload(uuid);
  if (!record) return replyError(record.error());
  if (!*record || (*record)->registry != t.ctx.registry || (*record)->repository != t.name) {
    return fail(ApiCode::BlobUploadUnknown);
  }

  switch (req.method) {
    case http::Method::Get: {
      auto size = t.ctx.blobs->uploadSize(uuid);
      if (!size) return replyError(size.error());
      return reply(sessionResponse(204, t.name, uuid, *size));
    }
    case http::Method::Delete: {
      auto cancelled = t.ctx.blobs->cancelUpload(uuid);
      if (!cancelled && cancelled.error().code != ApiCode::BlobUploadUnknown) {
        return replyError(cancelled.error());
      }
      if (auto r = s.meta.deleteUpload(uuid); !r) return replyError(r.error());
      return reply(Response::empty(204));
    }
    case http::Method::Patch: {
      auto writer = t.ctx.blobs->appendUpload(uuid);
      if (!writer) return replyError(writer.error());
      const uint64_t offset = (*writer)->size();
      if (auto header = req.header("Content-Range")) {
        auto range = parseContentRange(*header);
        const auto length = contentLength(req);
        if (!range || range->first != offset ||
            (length && *length != range->last - range->first + 1)) {
          // Out of order or inconsistent: nothing is appended, the client learns the offset.
          auto resp = errorResponse(makeError(
              ApiCode::RangeInvalid, "upload is at offset " + std::to_string(offset), 416));
          resp.headers.add("Location", uploadLocation(t.name, uuid));
          resp.headers.add("Range", rangeHeader(offset));
          resp.headers.add("Docker-Upload-UUID", uuid);
          return reply(std::move(resp));
        }
      }
      return streamInto(s, t, uuid, true, std::move(*writer), [name = t.name, uuid](uint64_t size) {
        return sessionResponse(202, name, uuid, size);
      });
    }
    case http::Method::Put: {
      auto digestParam = req.param("digest");
      if (!digestParam) return fail(ApiCode::DigestInvalid, "digest parameter missing");
      auto digest = Digest::parse(*digestParam);
      if (!digest) return fail(ApiCode::DigestInvalid, "invalid digest");
      auto writer = t.ctx.blobs->appendLast(uuid, *digest);
      if (!writer) return replyError(writer.error());
      return streamInto(
          s, t, uuid, true, std::move(*writer),
          [&s, t, uuid, d = *digest](uint64_t) mutable { return commit(s, t, uuid, d, true); });
    }
    default:
      return fail(ApiCode::Unsupported);
  }
}

}  // namespace berth::registry
