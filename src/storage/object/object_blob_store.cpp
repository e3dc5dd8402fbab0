// OpenSSL's SHA-256 context is the one whose state can be saved between requests and
// restored after a restart; its functions are deprecated in OpenSSL 3 but remain, on the same
// assembly (SHA-NI) as EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "storage/object/object_blob_store.hpp"

#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>

#include "core/log.hpp"
#include "core/random.hpp"
#include "storage/object/signing.hpp"

namespace berth::storage {
namespace json = boost::json;

struct ObjectBlobStore::Session {
  struct Part {
    int number = 0;
    std::string etag;
    uint64_t size = 0;
  };
  std::string upload;  // the multipart upload, once a part was sent
  std::vector<Part> parts;
  uint64_t size = 0;
  uint64_t generation = 0;  // names the tail object
  uint64_t tail = 0;        // bytes in it
  SHA256_CTX sha{};
  bool assembled = false;  // the data object holds every byte
  std::string verified;    // the digest the bytes were checked against and placed under
  bool placed = false;     // they went straight to the blob's place (appendLast)
  bool empty() const { return size == 0 && upload.empty() && tail == 0 && !assembled && !placed; }
};

namespace {

constexpr size_t kStateLimit = 1 << 20;

Error uploadUnknown() { return makeError(ApiCode::BlobUploadUnknown); }
Error mismatch(const Digest& digest) {
  return makeError(ApiCode::DigestInvalid, "content does not match digest " + digest.str());
}
Error busyUpload() {
  return makeError(ApiCode::BlobUploadInvalid, "another request is writing to this upload", 409);
}
Error spoolError(std::string_view what) {
  log::error("upload spool failed", {{"op", what}, {"error", std::strerror(errno)}});
  if (errno == ENOSPC || errno == EDQUOT) {
    return makeError(ApiCode::InsufficientStorage, "upload spool: disk full");
  }
  return makeError(ApiCode::Unknown, "upload spool error");
}

json::array shaToJson(const SHA256_CTX& c) {
  json::array a;
  for (auto h : c.h) a.push_back(h);
  a.push_back(c.Nl);
  a.push_back(c.Nh);
  for (auto d : c.data) a.push_back(d);
  a.push_back(c.num);
  a.push_back(c.md_len);
  return a;
}

bool shaFromJson(const json::array& a, SHA256_CTX& c) {
  if (a.size() != 8 + 2 + 16 + 2) return false;
  size_t i = 0;
  auto next = [&]() -> unsigned {
    const auto& v = a[i++];
    return v.is_uint64() ? static_cast<unsigned>(v.as_uint64())
                         : static_cast<unsigned>(v.is_int64() ? v.as_int64() : 0);
  };
  for (auto& h : c.h) h = next();
  c.Nl = next();
  c.Nh = next();
  for (auto& d : c.data) d = next();
  c.num = next();
  c.md_len = next();
  return c.num < SHA_CBLOCK && c.md_len == SHA256_DIGEST_LENGTH;
}

std::string encode(const ObjectBlobStore::Session& s) {
  json::array parts;
  for (const auto& p : s.parts) {
    parts.push_back(json::object{{"n", p.number}, {"etag", p.etag}, {"size", p.size}});
  }
  json::object o{{"v", 1},
                 {"upload", s.upload},
                 {"parts", std::move(parts)},
                 {"size", s.size},
                 {"generation", s.generation},
                 {"tail", s.tail},
                 {"sha256", shaToJson(s.sha)},
                 {"assembled", s.assembled},
                 {"verified", s.verified},
                 {"placed", s.placed}};
  return json::serialize(o);
}

std::optional<ObjectBlobStore::Session> decode(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  try {
    ObjectBlobStore::Session s;
    s.upload = json::value_to<std::string>(o.at("upload"));
    for (const auto& p : o.at("parts").as_array()) {
      const auto& po = p.as_object();
      s.parts.push_back({static_cast<int>(po.at("n").to_number<int64_t>()),
                         json::value_to<std::string>(po.at("etag")),
                         po.at("size").to_number<uint64_t>()});
    }
    s.size = o.at("size").to_number<uint64_t>();
    s.generation = o.at("generation").to_number<uint64_t>();
    s.tail = o.at("tail").to_number<uint64_t>();
    if (!shaFromJson(o.at("sha256").as_array(), s.sha)) return std::nullopt;
    s.assembled = o.at("assembled").as_bool();
    s.verified = json::value_to<std::string>(o.at("verified"));
    if (const auto* placed = o.if_contains("placed")) s.placed = placed->as_bool();
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// "sha256:<hex>" of the bytes hashed so far.
std::string digestSoFar(const SHA256_CTX& sha) {
  SHA256_CTX copy = sha;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &copy);
  return "sha256:" + signing::hex(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

// An unnamed file in `dir` for a part being gathered.
Result<UniqueFd> spoolFile(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return fd;
  std::string name = (dir / "berth-spool-XXXXXX").string();
  fd = UniqueFd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd) return spoolError("create");
  ::unlink(name.c_str());
  return fd;
}

Result<void> writeAt(int fd, const char* data, size_t size, uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return spoolError("write");
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

}  // namespace

// Appends to a session: bytes gather in the spool until a part is full, then go to the store
// as one part; close() saves what is left as the tail and the state with the running hash.
// Given the blob's digest (appendLast) and an empty session, it writes straight to the blob's
// place instead: close() checks the hash and completes the parts there, or puts the spool there
// in one request, and the session is left placed; nothing is copied.
class ObjectUploadWriter final : public UploadWriter {
 public:
  ObjectUploadWriter(ObjectBlobStore& store, std::string id, ObjectBlobStore::Session session,
                     UniqueFd spool, uint64_t spooled, std::optional<Digest> last)
      : store_(store),
        id_(std::move(id)),
        session_(std::move(session)),
        spool_(std::move(spool)),
        spooled_(spooled) {
    if (last && last->algorithm() == "sha256" && session_.empty()) direct_ = std::move(last);
  }
  ~ObjectUploadWriter() override { store_.release(id_); }

  Result<void> write(const char* data, size_t size) override {
    if (failed_) return *failed_;
    SHA256_Update(&session_.sha, data, size);
    while (size > 0) {
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(size, store_.options_.partSize - spooled_));
      if (auto r = writeAt(spool_.get(), data, take, spooled_); !r) return fail(r.takeError());
      spooled_ += take;
      written_ += take;
      data += take;
      size -= take;
      if (spooled_ == store_.options_.partSize) {
        if (auto r = sendPart(); !r) return fail(r.takeError());
      }
    }
    return {};
  }
  uint64_t size() const override { return session_.size + written_; }
  bool blocking() const override { return true; }

  Result<void> close() override {
    if (closed_) return {};
    if (failed_) {
      abortBegun();
      return *failed_;
    }
    auto closed = direct_ ? closeDirect() : closeStaged();
    if (!closed) {
      abortBegun();
      return fail(closed.takeError());
    }
    closed_ = true;
    return {};
  }

 private:
  // Where the parts go: the blob's place when writing straight to it, else the session's data.
  std::string partsKey() const {
    return direct_ ? store_.blobKey(*direct_) : store_.sessionKey(id_, "data");
  }

  Result<void> sendPart() {
    // Another upload of the same blob could discard this one's uncommitted blocks: stage them.
    if (direct_ && !store_.api_->separateParts()) direct_.reset();
    if (session_.upload.empty()) {
      auto upload = store_.api_->beginParts(partsKey());
      if (!upload) return upload.takeError();
      session_.upload = *upload;
      begun_ = true;
    }
    const int number = static_cast<int>(session_.parts.size()) + 1;
    auto etag =
        store_.api_->sendPart(partsKey(), session_.upload, number, spool_.get(), 0, spooled_);
    if (!etag) return etag.takeError();
    session_.parts.push_back({number, *etag, spooled_});
    spooled_ = 0;
    if (::ftruncate(spool_.get(), 0) != 0) return spoolError("truncate");
    return {};
  }

  Result<void> closeStaged() {
    ObjectBlobStore::Session next = session_;
    next.size = session_.size + written_;
    const uint64_t oldGeneration = session_.generation, oldTail = session_.tail;
    if (written_ > 0 || spooled_ != session_.tail) {
      next.generation = oldGeneration + 1;
      next.tail = spooled_;
      if (spooled_ > 0) {
        const auto tailKey = store_.sessionKey(id_, "tail-" + std::to_string(next.generation));
        if (auto r = store_.api_->putFile(tailKey, spool_.get(), 0, spooled_); !r) return r;
      }
    }
    if (auto r = store_.saveSession(id_, next); !r) return r;
    begun_ = false;  // the state holds the upload now
    if (next.generation != oldGeneration && oldTail > 0) {
      (void)store_.api_->remove(store_.sessionKey(id_, "tail-" + std::to_string(oldGeneration)));
    }
    return {};
  }

  Result<void> closeDirect() {
    if (digestSoFar(session_.sha) != direct_->str()) {
      // Nothing reached the blob's place yet: the ordinary way keeps the bytes, and verifyUpload
      // refuses them. Parts sent there are dropped (close() aborts them) with the bytes.
      if (session_.upload.empty()) return closeStaged();
      return mismatch(*direct_);
    }
    const auto blob = store_.blobKey(*direct_);
    if (session_.upload.empty()) {
      auto put = spooled_ == 0 ? store_.api_->put(blob, "")
                               : store_.api_->putFile(blob, spool_.get(), 0, spooled_);
      if (!put) return put;
    } else {
      if (spooled_ > 0) {
        if (auto r = sendPart(); !r) return r;
      }
      std::vector<std::pair<int, std::string>> list;
      for (const auto& p : session_.parts) list.emplace_back(p.number, p.etag);
      if (auto r = store_.api_->completeParts(blob, session_.upload, list); !r) return r;
      begun_ = false;
    }
    ObjectBlobStore::Session placed;
    placed.size = session_.size + written_;
    placed.sha = session_.sha;
    placed.verified = direct_->str();
    placed.placed = true;
    return store_.saveSession(id_, placed);
  }

  // An upload in parts this writer began and no state names: nothing else would ever end it.
  void abortBegun() {
    if (!begun_) return;
    begun_ = false;
    (void)store_.api_->abortParts(partsKey(), session_.upload);
  }

  Result<void> fail(Error e) {
    failed_ = e;
    return e;
  }

  ObjectBlobStore& store_;
  std::string id_;
  ObjectBlobStore::Session session_;  // as loaded, plus the parts sent since
  UniqueFd spool_;
  uint64_t spooled_;              // bytes in the spool: the tail's, then new ones
  uint64_t written_ = 0;          // bytes this writer took
  std::optional<Digest> direct_;  // writing straight to this blob's place
  bool begun_ = false;            // began session_.upload, which no saved state names yet
  bool closed_ = false;
  std::optional<Error> failed_;
};

ObjectBlobStore::ObjectBlobStore(const StoreUrl& url, std::unique_ptr<object::ObjectApi> api,
                                 const ObjectStoreOptions& options)
    : url_(url), options_(options), api_(std::move(api)) {
  options_.partSize = std::max<uint64_t>(options_.partSize, 5ull << 20);
}

Result<BlobStorePtr> ObjectBlobStore::open(const StoreUrl& url,
                                           std::unique_ptr<object::ObjectApi> api,
                                           const ObjectStoreOptions& options, bool probe) {
  std::unique_ptr<ObjectBlobStore> store(new ObjectBlobStore(url, std::move(api), options));
  if (!probe) return BlobStorePtr(std::move(store));
  if (auto probed = store->check(); !probed) {
    return explainedError(ApiCode::Unsupported,
                          "storage " + url.str() + ": " + probed.error().detail);
  }
  return BlobStorePtr(std::move(store));
}

std::string ObjectBlobStore::key(std::string_view tail) const {
  return url_.prefix.empty() ? std::string(tail) : url_.prefix + "/" + std::string(tail);
}

std::string ObjectBlobStore::blobKey(const Digest& digest) const {
  const auto hex = digest.hex();
  return key("blobs/" + std::string(digest.algorithm()) + "/" + std::string(hex.substr(0, 2)) +
             "/" + std::string(hex));
}

std::string ObjectBlobStore::sessionKey(std::string_view id, std::string_view name) const {
  return key("uploads/" + std::string(id) + "/" + std::string(name));
}

Result<void> ObjectBlobStore::check() { return api_->probe(); }

Result<std::optional<uint64_t>> ObjectBlobStore::stat(const Digest& digest) {
  return api_->head(blobKey(digest));
}

Result<BlobReader> ObjectBlobStore::open(const Digest& digest) {
  auto size = api_->head(blobKey(digest));
  if (!size) return size.takeError();
  if (!*size) return makeError(ApiCode::BlobUnknown);
  return openSized(digest, **size);
}

Result<BlobReader> ObjectBlobStore::openSized(const Digest& digest, uint64_t size) {
  BlobReader reader;
  reader.size = size;
  const auto& cache = options_.cache;
  if (cache) {
    if (auto copy = cache->find(digest, size)) {
      reader.fd = std::move(copy);
      return reader;
    }
  }
  // A read to the blob's end asks for no end: a whole blob is a GET without a range, which
  // some stores serve with less work. A whole read leaves a copy in the cache.
  reader.fetch = [this, blob = blobKey(digest), digest, size, cache](
                     uint64_t first, uint64_t length, const ByteSink& sink) -> Result<void> {
    const uint64_t asked = first + length == size ? object::ObjectApi::kToEnd : length;
    auto copy = cache && first == 0 && length == size ? cache->fill(digest, size) : nullptr;
    if (!copy) return api_->get(blob, first, asked, sink);
    auto read = api_->get(blob, first, asked, [&](const char* data, size_t n) {
      if (copy && !copy->add(data, n)) copy.reset();
      return sink(data, n);
    });
    if (read && copy) copy->finish();
    return read;
  };
  return reader;
}

std::string ObjectBlobStore::readUrl(const Digest& digest) {
  return url_.redirect ? api_->readUrl(blobKey(digest), options_.redirectSeconds) : "";
}

Result<void> ObjectBlobStore::remove(const Digest& digest) {
  if (options_.cache) options_.cache->erase(digest);
  return api_->remove(blobKey(digest));
}

Result<std::optional<ObjectBlobStore::Session>> ObjectBlobStore::loadSession(std::string_view id) {
  if (!isUuid(id)) return std::optional<Session>();
  auto text = api_->getSmall(sessionKey(id, "state"), kStateLimit);
  if (!text) return text.takeError();
  if (!*text) return std::optional<Session>();
  auto session = decode(**text);
  if (!session) {
    return makeError(ApiCode::Unknown,
                     "storage: upload " + std::string(id) + " has a damaged state", 503);
  }
  return std::optional<Session>(std::move(*session));
}

Result<void> ObjectBlobStore::saveSession(std::string_view id, const Session& session) {
  return api_->put(sessionKey(id, "state"), encode(session));
}

bool ObjectBlobStore::claim(std::string_view id) {
  std::lock_guard lock(mutex_);
  return writing_.emplace(id).second;
}

void ObjectBlobStore::release(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (auto it = writing_.find(id); it != writing_.end()) writing_.erase(it);
}

Result<void> ObjectBlobStore::createUpload(std::string_view id) {
  if (!isUuid(id)) return uploadUnknown();
  Session session;
  SHA256_Init(&session.sha);
  return saveSession(id, session);
}

Result<uint64_t> ObjectBlobStore::uploadSize(std::string_view id) {
  auto session = loadSession(id);
  if (!session) return session.takeError();
  if (!*session) return uploadUnknown();
  return (*session)->size;
}

Result<UploadWriterPtr> ObjectBlobStore::appendUpload(std::string_view id) {
  return append(id, std::nullopt);
}

Result<UploadWriterPtr> ObjectBlobStore::appendLast(std::string_view id, const Digest& digest) {
  return append(id, digest);
}

Result<UploadWriterPtr> ObjectBlobStore::append(std::string_view id, std::optional<Digest> last) {
  if (!isUuid(id)) return uploadUnknown();
  if (!claim(id)) return busyUpload();
  auto fail = [&](Error e) -> Result<UploadWriterPtr> {
    release(id);
    return e;
  };
  auto session = loadSession(id);
  if (!session) return fail(session.takeError());
  if (!*session) return fail(uploadUnknown());
  if ((*session)->assembled || (*session)->placed) {
    return fail(makeError(ApiCode::BlobUploadInvalid, "the upload was completed already"));
  }
  auto spool = spoolTail(id, **session);
  if (!spool) return fail(spool.takeError());
  const uint64_t tail = (*session)->tail;
  return UploadWriterPtr(std::make_unique<ObjectUploadWriter>(
      *this, std::string(id), std::move(**session), std::move(*spool), tail, std::move(last)));
}

Result<UniqueFd> ObjectBlobStore::spoolTail(std::string_view id, const Session& session) {
  auto spool = spoolFile(options_.spoolDir);
  if (!spool) return spool;
  if (session.tail == 0) return spool;
  uint64_t at = 0;
  Result<void> spooled;
  auto got = api_->get(sessionKey(id, "tail-" + std::to_string(session.generation)), 0,
                       session.tail, [&](const char* data, size_t size) {
                         spooled = writeAt(spool->get(), data, size, at);
                         at += size;
                         return spooled.ok();
                       });
  if (!spooled) return spooled.takeError();
  if (!got) return got.takeError();
  if (at != session.tail) {
    return makeError(ApiCode::Unknown, "storage: an upload's tail is short", 503);
  }
  return spool;
}

Result<void> ObjectBlobStore::assemble(std::string_view id, Session& session) {
  if (session.assembled || session.upload.empty()) return {};
  const auto dataKey = sessionKey(id, "data");
  auto parts = session.parts;
  if (session.tail > 0) {
    auto spool = spoolTail(id, session);
    if (!spool) return spool.takeError();
    const int number = static_cast<int>(parts.size()) + 1;
    auto etag = api_->sendPart(dataKey, session.upload, number, spool->get(), 0, session.tail);
    if (!etag) return etag.takeError();
    parts.push_back({number, *etag, session.tail});
  }
  std::vector<std::pair<int, std::string>> list;
  for (const auto& p : parts) list.emplace_back(p.number, p.etag);
  if (auto r = api_->completeParts(dataKey, session.upload, list); !r) return r;
  session.parts = std::move(parts);
  session.assembled = true;
  return saveSession(id, session);
}

Result<BlobInfo> ObjectBlobStore::verifyUpload(std::string_view id, const Digest& expected) {
  if (!isUuid(id)) return uploadUnknown();
  if (!claim(id)) return busyUpload();
  struct Release {
    ObjectBlobStore* store;
    std::string_view id;
    ~Release() { store->release(id); }
  } release{this, id};
  auto loaded = loadSession(id);
  if (!loaded) return loaded.takeError();
  if (!*loaded) return uploadUnknown();
  Session& session = **loaded;
  // Where the bytes are: the data object once assembled, else the tail (no part was sent).
  auto source = [&] {
    return session.assembled || !session.upload.empty()
               ? sessionKey(id, "data")
               : sessionKey(id, "tail-" + std::to_string(session.generation));
  };
  std::string actual;
  if (session.placed) {
    // Checked and placed by the request that carried the bytes.
    if (session.verified != expected.str()) return mismatch(expected);
    return BlobInfo{expected.str(), session.size};
  }
  if (expected.algorithm() == "sha256") {
    actual = digestSoFar(session.sha);
  } else {
    // Other algorithms were not kept running: read the bytes back once.
    if (auto r = assemble(id, session); !r) return r.takeError();
    auto algorithm = Hasher::forName(expected.algorithm());
    if (!algorithm) return makeError(ApiCode::DigestInvalid, "unsupported digest algorithm");
    Hasher hasher(*algorithm);
    if (session.size > 0) {
      auto read = api_->get(source(), 0, session.size, [&](const char* data, size_t size) {
        hasher.update(data, size);
        return true;
      });
      if (!read) return read.takeError();
    }
    actual = hasher.finish();
  }
  if (actual != expected.str()) return mismatch(expected);
  const auto blob = blobKey(expected);
  auto there = api_->head(blob);
  if (!there) return there.takeError();
  if (!*there) {
    if (session.size == 0) {
      if (auto r = api_->put(blob, ""); !r) return r.takeError();
    } else {
      if (auto r = assemble(id, session); !r) return r.takeError();
      if (auto r = api_->copy(source(), blob, session.size); !r) return r.takeError();
    }
  }
  session.verified = expected.str();
  if (auto r = saveSession(id, session); !r) return r.takeError();
  return BlobInfo{expected.str(), session.size};
}

Result<void> ObjectBlobStore::placeUpload(std::string_view id, const Digest& digest) {
  auto session = loadSession(id);
  if (!session) return session.takeError();
  if (!*session) return uploadUnknown();
  if ((*session)->verified != digest.str()) {
    return makeError(ApiCode::BlobUploadInvalid, "the upload was not verified as " + digest.str());
  }
  return drop(id, **session);
}

Result<void> ObjectBlobStore::cancelUpload(std::string_view id) {
  auto loaded = loadSession(id);
  if (!loaded) return loaded.takeError();
  if (!*loaded) return uploadUnknown();
  return drop(id, **loaded);
}

Result<void> ObjectBlobStore::drop(std::string_view id, const Session& session) {
  // The state goes last: until it is gone, expiry finds the session and tries again.
  if (session.tail > 0) {
    if (auto r = api_->remove(sessionKey(id, "tail-" + std::to_string(session.generation))); !r) {
      return r;
    }
  }
  if (session.assembled) {
    if (auto r = api_->remove(sessionKey(id, "data")); !r) return r;
  } else if (!session.upload.empty()) {
    if (auto r = api_->abortParts(sessionKey(id, "data"), session.upload); !r) return r;
  }
  return api_->remove(sessionKey(id, "state"));
}

Result<std::vector<std::string>> ObjectBlobStore::staleUploads(int64_t before, size_t limit) {
  std::vector<std::string> out;
  if (limit == 0) return out;
  const std::string prefix = key("uploads/");
  auto listed = api_->list(prefix, [&](const object::ObjectInfo& o) {
    if (!o.key.ends_with("/state") || o.modified >= before) return true;
    const auto id = o.key.substr(prefix.size(), o.key.size() - prefix.size() - 6);
    if (!isUuid(id)) return true;
    {
      std::lock_guard lock(mutex_);
      if (writing_.contains(id)) return true;  // being written now
    }
    out.push_back(id);
    return out.size() < limit;
  });
  if (!listed) return listed.takeError();
  return out;
}

Result<void> ObjectBlobStore::forEachBlob(const std::function<bool(const StoredBlob&)>& visit) {
  const std::string prefix = key("blobs/");
  return api_->list(prefix, [&](const object::ObjectInfo& o) {
    // blobs/<alg>/<2 hex>/<hex>: anything else was not put there by berth.
    const std::string rest = o.key.substr(prefix.size());
    const auto slash = rest.find('/');
    const auto last = rest.rfind('/');
    if (slash == rest.npos || last == slash) return true;
    auto digest = Digest::parse(rest.substr(0, slash) + ":" + rest.substr(last + 1));
    if (!digest || blobKey(*digest) != o.key) return true;
    return visit(StoredBlob{digest->str(), o.size, o.modified});
  });
}

}  // namespace berth::storage
