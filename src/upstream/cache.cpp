#include "upstream/cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/unique_fd.hpp"
#include "registry/ingest.hpp"

namespace berth::upstream {
namespace {

constexpr size_t kMaxClients = 256;
constexpr size_t kReadPiece = 256 * 1024;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

metrics::Counter& requests(std::string_view result) {
  static auto& family = metrics::counters(
      "berth_cache_requests_total",
      "Pulls of manifests under cache rules, by result: hit (stored and fresh), revalidated "
      "(checked with the upstream), miss (fetched from it), stale (the upstream could not "
      "answer; the stored copy was served)",
      {"result"});
  return family.with({std::string(result)});
}

metrics::Counter& fetched(std::string_view outcome) {
  static auto& family =
      metrics::counters("berth_cache_blob_fetches_total",
                        "Blobs fetched from upstreams for the cache, by outcome", {"outcome"});
  return family.with({std::string(outcome)});
}

metrics::Counter& fetchedBytes() {
  static auto& c = metrics::counters("berth_cache_blob_bytes_total",
                                     "Bytes of blobs fetched from upstreams for the cache")
                       .with();
  return c;
}

// An unnamed file in `dir` (gone once closed), or nothing.
UniqueFd spoolFile(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
  std::string name = (dir / "cache-XXXXXX").string();
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(name.c_str());
  return UniqueFd(fd);
}

std::string reasonOf(const Error& e) { return e.message.empty() ? e.detail : e.message; }

}  // namespace

// One blob on its way from an upstream: spooled for the readers that follow it while it is
// written to the registry's store.
struct Cache::Fetch {
  std::mutex mutex;
  std::condition_variable grown;
  UniqueFd spool;
  int64_t length = -2;  // -2: not known yet; -1: the upstream gave none
  uint64_t written = 0;
  bool done = false;
  std::optional<Error> failure;
};

namespace {

// A response body that follows a fetch as it grows.
class FetchReader final : public http::BodySource {
 public:
  explicit FetchReader(std::shared_ptr<Cache::Fetch> fetch) : fetch_(std::move(fetch)) {}

  bool pump(const std::function<bool(const char*, size_t)>& write) override {
    std::vector<char> piece(kReadPiece);
    uint64_t offset = 0;
    for (;;) {
      uint64_t available = 0;
      bool done = false;
      {
        std::unique_lock lock(fetch_->mutex);
        fetch_->grown.wait(lock, [&] {
          return fetch_->written > offset || fetch_->done || fetch_->failure.has_value();
        });
        if (fetch_->failure && fetch_->written <= offset) {
          failure_ = *fetch_->failure;
          return false;
        }
        available = fetch_->written;
        done = fetch_->done;
      }
      if (available > offset) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(available - offset, kReadPiece));
        const ssize_t n =
            ::pread(fetch_->spool.get(), piece.data(), want, static_cast<off_t>(offset));
        if (n <= 0) {
          failure_ = makeError(ApiCode::Unknown, "the cache's spool file could not be read");
          return false;
        }
        if (!write(piece.data(), static_cast<size_t>(n))) return false;
        offset += static_cast<uint64_t>(n);
        continue;
      }
      if (done) return true;
    }
  }

  std::optional<http::Response> instead() override {
    if (!failure_) return std::nullopt;
    return http::Response::error(*failure_);
  }

 private:
  std::shared_ptr<Cache::Fetch> fetch_;
  std::optional<Error> failure_;
};

}  // namespace

Cache::Cache(meta::MetadataStore& meta, meta::IdentityStore& identities, meta::UpstreamStore& store,
             const events::SecretBox& secrets, Importer& importer,
             std::shared_ptr<storage::object::HttpClient> http, ClientOptions clientOptions,
             CacheOptions options)
    : meta_(meta),
      identities_(identities),
      store_(store),
      secrets_(secrets),
      importer_(importer),
      http_(std::move(http)),
      clientOptions_(std::move(clientOptions)),
      options_(std::move(options)) {
  if (options_.fillWorkers == 0) options_.fillWorkers = 1;
  if (options_.fetches == 0) options_.fetches = 1;
  for (size_t i = 0; i < options_.fillWorkers; ++i)
    fillThreads_.emplace_back([this] { fillLoop(); });
}

Cache::~Cache() { stop(); }

void Cache::stop() {
  if (stopping_.exchange(true)) return;
  fillWake_.notify_all();
  for (auto& t : fillThreads_) t.join();
  std::unique_lock lock(fetchesMutex_);
  slotFreed_.notify_all();
  slotFreed_.wait(lock, [&] { return running_ == 0; });
}

void Cache::forgetRules(meta::RegistryId registry) {
  std::unique_lock lock(rulesMutex_);
  rules_.erase(registry);
}

template <class Use>
auto Cache::withRules(meta::RegistryId registry, Use use) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::shared_lock lock(rulesMutex_);
    auto it = rules_.find(registry);
    if (it != rules_.end() && now - it->second.loaded <= options_.rulesTtl) {
      return use(it->second.rules);
    }
  }
  std::unique_lock lock(rulesMutex_);
  auto& entry = rules_[registry];
  if (entry.loaded.time_since_epoch().count() == 0 || now - entry.loaded > options_.rulesTtl) {
    auto loaded = store_.cacheRules(registry);
    if (loaded) {
      entry.rules = std::move(*loaded);
    } else {
      log::warn("cache rules not read", {{"error", loaded.error().detail}});
    }
    entry.loaded = now;
  }
  return use(entry.rules);
}

std::optional<CacheSource> Cache::sourceOf(meta::RegistryId registry, std::string_view repository) {
  return withRules(registry, [&](const std::vector<meta::CacheRule>& rules) {
    return matchCacheRule(rules, repository);
  });
}

bool Cache::covers(meta::RegistryId registry, std::string_view repository) {
  return withRules(registry, [&](const std::vector<meta::CacheRule>& rules) {
    return !rules.empty() && matchCacheRule(rules, repository).has_value();
  });
}

Result<std::shared_ptr<Client>> Cache::clientFor(meta::RegistryId registry,
                                                 const CacheSource& source) {
  Credentials credentials;
  std::string key = std::to_string(registry) + "\n" + source.host + "\n" + source.credentialSet;
  if (!source.credentialSet.empty()) {
    auto set = store_.credentialSet(registry, source.credentialSet);
    if (!set) return set.takeError();
    if (!*set) {
      return explainedError(ApiCode::Denied, "cache rule " + source.rule + ": credential set " +
                                                 source.credentialSet + " is gone");
    }
    auto password = secrets_.unseal((*set)->sealedPassword);
    if (!password) {
      return explainedError(ApiCode::Unknown, "the password of credential set " +
                                                  source.credentialSet + " cannot be read");
    }
    credentials = {(*set)->username, std::move(*password)};
    key += "\n" + std::to_string((*set)->updated);  // a changed set gets a fresh client
  }
  std::lock_guard lock(clientsMutex_);
  if (auto it = clients_.find(key); it != clients_.end()) return it->second;
  if (clients_.size() >= kMaxClients) clients_.clear();
  auto client = std::make_shared<Client>(source.host, std::move(credentials), http_, clientOptions_,
                                         &stopping_);
  clients_.emplace(key, client);
  return client;
}

Result<registry::PullThrough::ManifestAnswer> Cache::manifest(const registry::RequestContext& ctx,
                                                              std::string_view repository,
                                                              std::string_view reference,
                                                              std::string_view local) {
  const auto source = sourceOf(ctx.registry, repository);
  if (!source) return ManifestAnswer{};
  auto client = clientFor(ctx.registry, *source);
  if (!client) return client.takeError();
  const bool byDigest = Digest::parse(reference).has_value();
  std::string fetchRef(reference);
  if (!byDigest && !local.empty()) {
    auto seen = store_.cachedTag(ctx.registry, repository, reference);
    const int64_t now = nowMs();
    if (seen && *seen && (*seen)->digest == local &&
        now - (*seen)->checkedMs < static_cast<int64_t>(options_.tagTtl.count()) * 1000) {
      requests("hit").add();
      return ManifestAnswer{};
    }
    auto head = (*client)->headManifest(source->repository, reference);
    if (!head || !*head) {
      // Whatever the upstream's trouble, the stored copy is served: a pull the cache can answer
      // never fails.
      const std::string why =
          head ? "the upstream has no tag " + std::string(reference) : reasonOf(head.error());
      requests("stale").add();
      log::warn("cache served a stale tag", {{"registry", ctx.registryName},
                                             {"repository", std::string(repository)},
                                             {"tag", std::string(reference)},
                                             {"why", why}});
      return ManifestAnswer{Verdict::Stale, {}, {}, {}, why};
    }
    if ((*head)->digest == local) {
      (void)store_.recordCachedTag(ctx.registry, repository, reference, {std::string(local), now});
      requests("revalidated").add();
      return ManifestAnswer{};
    }
    fetchRef = (*head)->digest;  // moved upstream: the new manifest, by its digest
  }
  auto fetchedManifest = (*client)->manifest(source->repository, fetchRef);
  if (!fetchedManifest) {
    if (!local.empty()) {
      requests("stale").add();
      return ManifestAnswer{Verdict::Stale, {}, {}, {}, reasonOf(fetchedManifest.error())};
    }
    return fetchedManifest.takeError();
  }
  requests("miss").add();
  const std::string tag = byDigest ? std::string() : std::string(reference);
  if (!tag.empty()) {
    (void)store_.recordCachedTag(ctx.registry, repository, tag, {fetchedManifest->digest, nowMs()});
  }
  ManifestAnswer answer{Verdict::Fetched,
                        fetchedManifest->mediaType,
                        fetchedManifest->digest,
                        fetchedManifest->body,
                        {}};
  fill(ctx, repository, *source, *client, std::move(*fetchedManifest), tag);
  return answer;
}

Result<std::shared_ptr<Cache::Fetch>> Cache::join(meta::RegistryId registry,
                                                  meta::RepositoryId repository,
                                                  std::shared_ptr<storage::BlobStore> blobs,
                                                  std::shared_ptr<Client> client,
                                                  const std::string& from, const Digest& digest,
                                                  bool wait) {
  const std::string key = std::to_string(registry) + "/" + digest.str();
  std::unique_lock lock(fetchesMutex_);
  for (;;) {
    if (stopping_) return makeError(ApiCode::Unknown, "the server is stopping", 503);
    if (auto it = fetches_.find(key); it != fetches_.end()) return it->second;
    // A fetch ends (and leaves the map) only once its blob is linked: none here means either
    // none began, or the blob is stored by now.
    auto linked = meta_.linkedBlob(repository, digest.str());
    if (!linked) return linked.takeError();
    if (*linked) return std::shared_ptr<Fetch>();
    if (running_ < options_.fetches) break;
    if (!wait) {
      return explainedError(
          ApiCode::TooManyRequests,
          std::to_string(running_) + " blobs are being fetched from upstreams; try again shortly");
    }
    slotFreed_.wait(lock);
  }
  auto fetch = std::make_shared<Fetch>();
  fetch->spool = spoolFile(options_.spoolDir);
  if (!fetch->spool) {
    return makeError(ApiCode::InsufficientStorage,
                     "no spool file for the cache in " + options_.spoolDir.string());
  }
  fetches_.emplace(key, fetch);
  ++running_;
  std::thread([this, fetch, registry, repository, blobs = std::move(blobs),
               client = std::move(client), from, digest]() mutable {
    runFetch(std::move(fetch), registry, repository, std::move(blobs), std::move(client),
             std::move(from), std::move(digest));
  }).detach();
  return fetch;
}

void Cache::runFetch(std::shared_ptr<Fetch> fetch, meta::RegistryId registry,
                     meta::RepositoryId repository, std::shared_ptr<storage::BlobStore> blobs,
                     std::shared_ptr<Client> client, std::string from, Digest digest) {
  auto stored = registry::ingestBlob(
      meta_, registry, repository, *blobs, digest,
      [&](storage::UploadWriter& writer) -> Result<void> {
        Result<void> failed;
        auto got = client->blob(
            from, digest,
            [&](const char* data, size_t n) {
              if (auto r = writer.write(data, n); !r) {
                failed = std::move(r);
                return false;
              }
              uint64_t at;
              {
                std::lock_guard lock(fetch->mutex);
                at = fetch->written;
              }
              if (::pwrite(fetch->spool.get(), data, n, static_cast<off_t>(at)) !=
                  static_cast<ssize_t>(n)) {
                failed = makeError(ApiCode::InsufficientStorage,
                                   "the cache's spool file could not be written");
                return false;
              }
              {
                std::lock_guard lock(fetch->mutex);
                fetch->written += n;
              }
              fetch->grown.notify_all();
              fetchedBytes().add(n);
              return true;
            },
            [&](int64_t length) {
              {
                std::lock_guard lock(fetch->mutex);
                fetch->length = length;
              }
              fetch->grown.notify_all();
            });
        if (!failed) return failed;
        if (!got) return got.takeError();
        return {};
      });
  {
    std::lock_guard lock(fetch->mutex);
    if (stored) {
      fetch->done = true;
      if (fetch->length < 0) fetch->length = static_cast<int64_t>(fetch->written);
    } else {
      fetch->failure = stored.error();
    }
  }
  fetch->grown.notify_all();
  fetched(stored ? "stored" : "failed").add();
  if (!stored) {
    log::warn("cache could not fetch a blob", {{"digest", digest.str()},
                                               {"upstream", client->host()},
                                               {"error", reasonOf(stored.error())}});
  }
  std::lock_guard lock(fetchesMutex_);
  fetches_.erase(std::to_string(registry) + "/" + digest.str());
  --running_;
  slotFreed_.notify_all();
}

Result<std::shared_ptr<http::BodySource>> Cache::blob(const registry::RequestContext& ctx,
                                                      std::string_view repository,
                                                      const Digest& digest, uint64_t& size) {
  const auto source = sourceOf(ctx.registry, repository);
  if (!source) return makeError(ApiCode::BlobUnknown);
  auto repositoryId = meta_.ensureRepository(ctx.registry, repository);
  if (!repositoryId) return repositoryId.takeError();
  // A blob of another repository of the registry: linked, not fetched.
  auto inStore = ctx.blobs->stat(digest);
  if (inStore && *inStore) {
    auto linked =
        registry::linkStoredBlob(meta_, ctx.registry, *repositoryId, *ctx.blobs, digest, **inStore);
    if (linked && *linked) return std::shared_ptr<http::BodySource>();
  }
  auto client = clientFor(ctx.registry, *source);
  if (!client) return client.takeError();
  auto fetch =
      join(ctx.registry, *repositoryId, ctx.blobs, *client, source->repository, digest, false);
  if (!fetch) return fetch.takeError();
  if (!*fetch) return std::shared_ptr<http::BodySource>();  // stored meanwhile
  {
    std::unique_lock lock((*fetch)->mutex);
    (*fetch)->grown.wait(lock, [&] {
      return (*fetch)->length != -2 || (*fetch)->done || (*fetch)->failure.has_value();
    });
    if ((*fetch)->failure && (*fetch)->written == 0) return *(*fetch)->failure;
    if ((*fetch)->length == -1) {
      // No length from the upstream: the whole blob first, then its size.
      (*fetch)->grown.wait(lock, [&] { return (*fetch)->done || (*fetch)->failure.has_value(); });
      if ((*fetch)->failure) return *(*fetch)->failure;
    }
    size = static_cast<uint64_t>((*fetch)->length < 0 ? static_cast<int64_t>((*fetch)->written)
                                                      : (*fetch)->length);
  }
  return std::shared_ptr<http::BodySource>(std::make_shared<FetchReader>(std::move(*fetch)));
}

void Cache::fill(const registry::RequestContext& ctx, std::string_view repository,
                 const CacheSource& source, std::shared_ptr<Client> client, Manifest manifest,
                 std::string tag) {
  const std::string key = std::to_string(ctx.registry) + "/" + std::string(repository) + "@" +
                          manifest.digest + ":" + tag;
  auto settings = identities_.registrySettings(ctx.registry);
  if (!settings || !*settings) return;
  ImportRequest request;
  request.registry = **settings;
  request.source.host = source.host;
  request.source.repository = source.repository;
  request.source.digest = manifest.digest;
  request.credentials = client->credentials();
  request.targets = {{std::string(repository), tag}};
  request.force = true;  // the upstream moved the tag: so does the cache
  request.referrers = false;
  request.actor.identity = "cache";
  request.actor.source = "cache rule " + source.rule;
  request.manifest = std::move(manifest);
  auto blobs = ctx.blobs;
  request.fetchBlob = [this, blobs, client, registry = ctx.registry](
                          Client&, const std::string& from, meta::RepositoryId to,
                          const registry::Descriptor& d) -> Result<void> {
    auto digest = Digest::parse(d.digest);
    if (!digest) return makeError(ApiCode::DigestInvalid, "invalid digest " + d.digest);
    auto fetch = join(registry, to, blobs, client, from, *digest, true);
    if (!fetch) return fetch.takeError();
    if (!*fetch) return {};
    std::unique_lock lock((*fetch)->mutex);
    (*fetch)->grown.wait(lock, [&] { return (*fetch)->done || (*fetch)->failure.has_value(); });
    if ((*fetch)->failure) return *(*fetch)->failure;
    return {};
  };
  std::lock_guard lock(fillMutex_);
  if (filling_.contains(key)) return;
  if (fills_.size() >= options_.fillQueue) {
    log::warn("cache fill not queued: the queue is full",
              {{"repository", std::string(repository)}});
    return;
  }
  filling_[key] = true;
  fills_.push_back([this, key, request = std::move(request)]() mutable {
    meta::ImportJob job;
    auto outcome = importer_.run(
        request, job, [] {}, stopping_);
    if (!outcome) {
      log::warn("cache could not store an image",
                {{"source", request.source.str()}, {"error", reasonOf(outcome.error())}});
    }
    std::lock_guard lock(fillMutex_);
    filling_.erase(key);
  });
  fillWake_.notify_one();
}

void Cache::fillLoop() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock lock(fillMutex_);
      fillWake_.wait(lock, [&] { return stopping_ || !fills_.empty(); });
      if (stopping_) return;
      work = std::move(fills_.front());
      fills_.pop_front();
    }
    work();
  }
}

}  // namespace berth::upstream
