#include "upstream/importer.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/reference.hpp"
#include "registry/ingest.hpp"
#include "registry/manifest_parse.hpp"

namespace berth::upstream {
namespace json = boost::json;
namespace {

constexpr size_t kMaxManifests = 1000;  // per import: an index's children, referrers and theirs
constexpr int kMaxReferrerDepth = 3;    // referrers of referrers of referrers
constexpr size_t kMaxReferrers = 100;   // per manifest
constexpr size_t kBlobThreads = 4;      // blobs of one manifest copied at once

bool isPlatformPart(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (const char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string stringAt(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The index's descriptors with their platforms, "os/arch[/variant]" ("" when none is given).
std::vector<std::pair<std::string, std::string>> platformsOf(std::string_view index) {
  std::vector<std::pair<std::string, std::string>> out;
  boost::system::error_code ec;
  auto doc = json::parse(index, ec);
  if (ec || !doc.is_object()) return out;
  const auto* manifests = doc.as_object().if_contains("manifests");
  if (!manifests || !manifests->is_array()) return out;
  for (const auto& m : manifests->as_array()) {
    if (!m.is_object()) continue;
    std::string platform;
    if (const auto* p = m.as_object().if_contains("platform"); p && p->is_object()) {
      platform = stringAt(p->as_object(), "os") + "/" + stringAt(p->as_object(), "architecture");
      if (auto variant = stringAt(p->as_object(), "variant"); !variant.empty()) {
        platform += "/" + variant;
      }
    }
    out.emplace_back(stringAt(m.as_object(), "digest"), platform);
  }
  return out;
}

}  // namespace

bool isValidPlatform(std::string_view platform) {
  size_t parts = 0;
  for (size_t start = 0; start <= platform.size();) {
    const auto slash = std::min(platform.find('/', start), platform.size());
    if (!isPlatformPart(platform.substr(start, slash - start))) return false;
    ++parts;
    start = slash + 1;
  }
  return parts == 2 || parts == 3;
}

// One import under way.
struct Importer::Run {
  Importer& importer;
  const ImportRequest& request;
  meta::ImportJob& job;
  const std::function<void()>& progress;
  const std::atomic<bool>& stopping;
  Client client;
  std::shared_ptr<storage::BlobStore> blobs;
  std::set<std::pair<std::string, std::string>> stored;  // (repository, digest) recorded

  // Blobs copy on several threads at once: the counts and progress() are theirs in turn.
  std::mutex counting;

  meta::MetadataStore& meta() { return importer.meta_; }
  meta::RegistryId registry() const { return request.registry.id; }

  // The source, upstream or local (request.localSource): its manifests, blobs and referrers.
  Result<Manifest> manifestOf(const std::string& from, const std::string& reference) {
    if (!request.localSource) return client.manifest(from, reference);
    const auto unknown = [&] {
      return explainedError(
          ApiCode::ManifestUnknown,
          "registry " + request.localSource->name + " has no manifest " + from + ":" + reference);
    };
    auto repository = localRepository(from);
    if (!repository) return repository.takeError();
    if (!*repository) return unknown();
    std::string digest = reference;
    if (!Digest::parse(reference)) {
      auto tagged = meta().resolveTag(**repository, reference);
      if (!tagged) return tagged.takeError();
      if (!*tagged) return unknown();
      digest = **tagged;
    }
    auto record = meta().getManifest(**repository, digest);
    if (!record) return record.takeError();
    if (!*record) return unknown();
    return Manifest{(*record)->mediaType, (*record)->digest, std::move((*record)->payload)};
  }

  Result<std::optional<meta::RepositoryId>> localRepository(const std::string& name) {
    return meta().findRepository(request.localSource->id, name);
  }

  // Streams a blob of the source to `onData`; its size.
  Result<uint64_t> sourceBlob(const std::string& from, const Digest& digest,
                              const std::function<bool(const char*, size_t)>& onData) {
    if (!request.localSource) return client.blob(from, digest, onData);
    auto repository = localRepository(from);
    if (!repository) return repository.takeError();
    std::optional<uint64_t> size;
    if (*repository) {
      auto linked = meta().linkedBlob(**repository, digest.str());
      if (!linked) return linked.takeError();
      size = *linked;
    }
    if (!size) {
      return explainedError(
          ApiCode::BlobUnknown,
          "registry " + request.localSource->name + " has no blob " + digest.str() + " in " + from);
    }
    auto store = importer.target_.blobsOf(*request.localSource);
    if (!store) return store.takeError();
    auto reader = (*store)->openSized(digest, *size);
    if (!reader) return reader.takeError();
    bool stopped = false;
    auto read = storage::readBlob(*reader, 0, *size, [&](const char* data, size_t n) {
      stopped = !onData(data, n);
      return !stopped;
    });
    if (stopped) return makeError(ApiCode::Unknown, "the copy of " + digest.str() + " stopped");
    if (!read) return read.takeError();
    return *size;
  }

  // The referrers of `subject` as an OCI index, or nullopt when the source has no referrers API.
  Result<std::optional<std::string>> referrersIndex(const std::string& from,
                                                    const Digest& subject) {
    if (!request.localSource) return client.referrers(from, subject);
    json::array manifests;
    auto repository = localRepository(from);
    if (!repository) return repository.takeError();
    if (*repository) {
      auto listed = meta().referrers(**repository, subject.str());
      if (!listed) return listed.takeError();
      for (const auto& m : *listed) {
        manifests.push_back(json::object{{"mediaType", m.mediaType}, {"digest", m.digest}});
      }
    }
    return std::optional<std::string>(
        json::serialize(json::object{{"schemaVersion", 2}, {"manifests", std::move(manifests)}}));
  }

  template <class Change>
  void count(Change change) {
    std::lock_guard lock(counting);
    change(job);
    progress();
  }

  Result<void> checkStopping() {
    if (stopping.load()) return makeError(ApiCode::Unknown, "the server is stopping", 503);
    return {};
  }

  Result<void> copyBlob(const std::string& from, meta::RepositoryId to,
                        const registry::Descriptor& d) {
    if (auto r = checkStopping(); !r) return r;
    auto digest = Digest::parse(d.digest);
    if (!digest) return makeError(ApiCode::DigestInvalid, "invalid digest " + d.digest);
    auto linked = meta().linkedBlob(to, d.digest);
    if (!linked) return linked.takeError();
    if (*linked) {
      count([](meta::ImportJob& j) { ++j.blobsPresent; });
      return {};
    }
    auto mounted = registry::linkStoredBlob(meta(), registry(), to, *blobs, *digest, d.size);
    if (!mounted) return mounted.takeError();
    if (*mounted) {
      count([](meta::ImportJob& j) { ++j.blobsMounted; });
      return {};
    }
    if (request.fetchBlob) {
      if (auto r = request.fetchBlob(client, from, to, d); !r) return r;
      count([&](meta::ImportJob& j) {
        ++j.blobsCopied;
        j.bytesCopied += d.size;
      });
      return {};
    }
    uint64_t sinceProgress = 0;
    auto size = registry::ingestBlob(
        meta(), registry(), to, *blobs, *digest,
        [&](storage::UploadWriter& writer) -> Result<void> {
          Result<void> failed;
          auto got = sourceBlob(from, *digest, [&](const char* data, size_t n) {
            if (stopping.load()) {
              failed = makeError(ApiCode::Unknown, "the server is stopping", 503);
              return false;
            }
            if (auto r = writer.write(data, n); !r) {
              failed = std::move(r);
              return false;
            }
            sinceProgress += n;
            if (sinceProgress >= (8u << 20)) {
              count([&](meta::ImportJob& j) { j.bytesCopied += sinceProgress; });
              sinceProgress = 0;
            }
            return true;
          });
          if (!failed) return failed;
          if (!got) return got.takeError();
          if (*got != d.size) {
            return makeError(ApiCode::SizeInvalid, "upstream " + client.host() + " sent " +
                                                       std::to_string(*got) + " bytes of " +
                                                       d.digest + ", whose descriptor says " +
                                                       std::to_string(d.size));
          }
          return {};
        });
    if (!size) return size.takeError();
    count([&](meta::ImportJob& j) {
      ++j.blobsCopied;
      j.bytesCopied += sinceProgress;
    });
    return {};
  }

  // The blobs of one manifest, kBlobThreads at a time; the first error ends the others early.
  Result<void> copyBlobs(const std::string& from, meta::RepositoryId to,
                         const std::vector<registry::Descriptor>& all) {
    std::vector<const registry::Descriptor*> wanted;
    for (const auto& d : all) {
      if (!d.external) wanted.push_back(&d);
    }
    std::atomic<size_t> next{0};
    std::mutex failing;
    std::optional<Error> failure;
    auto work = [&] {
      for (size_t i; (i = next++) < wanted.size();) {
        {
          std::lock_guard lock(failing);
          if (failure) return;
        }
        if (auto r = copyBlob(from, to, *wanted[i]); !r) {
          std::lock_guard lock(failing);
          if (!failure) failure = r.takeError();
          return;
        }
      }
    };
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < std::min(kBlobThreads, wanted.size()); ++t) helpers.emplace_back(work);
    work();
    for (auto& h : helpers) h.join();
    if (failure) return std::move(*failure);
    return {};
  }

  // Copies the manifest (an index's children first, then the blobs) into `to`, pointing `tag`
  // at it when given.
  Result<void> copyManifest(const std::string& from, const Manifest& m, const std::string& to,
                            const std::string& tag) {
    if (auto r = checkStopping(); !r) return r;
    const bool again = stored.contains({to, m.digest});
    if (again && tag.empty()) return {};
    if (!again && stored.size() >= kMaxManifests) {
      return makeError(ApiCode::Denied,
                       "an import copies at most " + std::to_string(kMaxManifests) + " manifests");
    }
    if (!again) {
      auto parsed = registry::parseManifest(m.mediaType, m.body);
      if (!parsed) {
        return explainedError(ApiCode::ManifestInvalid,
                              "upstream " + client.host() +
                                  " sent a manifest berth cannot store (" + m.digest +
                                  "): " + parsed.error().detail);
      }
      for (const auto& child : parsed->manifests) {
        auto fetched = manifestOf(from, child.digest);
        if (!fetched) return fetched.takeError();
        if (auto r = copyManifest(from, *fetched, to, ""); !r) return r;
      }
      auto repository = meta().ensureRepository(registry(), to);
      if (!repository) return repository.takeError();
      if (auto r = copyBlobs(from, *repository, parsed->blobs); !r) return r;
    }
    std::optional<std::string_view> pointing;
    if (!tag.empty()) pointing = tag;
    auto put = registry::storeManifest(meta(), registry(), to, m.mediaType, m.body,
                                       Digest::parse(m.digest), pointing, request.actor);
    if (!put) return put.takeError();
    if (!again) stored.insert({to, m.digest});
    count([&](meta::ImportJob& j) { j.manifests += again ? 0 : 1; });
    return {};
  }

  // The referrers of `subject` in the upstream: its referrers API, or the tag the OCI
  // specification names for registries without one ("sha256-<hex>").
  Result<std::vector<std::string>> referrersOf(const std::string& from, const Digest& subject) {
    std::vector<std::string> out;
    auto listed = referrersIndex(from, subject);
    if (!listed) return listed.takeError();
    std::string index;
    if (*listed) {
      index = std::move(**listed);
    } else {
      const std::string fallback =
          std::string(subject.algorithm()) + "-" + std::string(subject.hex());
      auto tagged = manifestOf(from, fallback);
      if (!tagged) {
        if (tagged.error().httpStatus() == 404) return out;
        return tagged.takeError();
      }
      index = std::move(tagged->body);
    }
    for (const auto& [digest, platform] : platformsOf(index)) {
      if (out.size() >= kMaxReferrers) break;
      if (Digest::parse(digest)) out.push_back(digest);
    }
    return out;
  }

  Result<void> copyReferrers(const std::string& from, const std::string& subject,
                             const std::string& to, int depth) {
    auto digest = Digest::parse(subject);
    if (!digest || depth > kMaxReferrerDepth) return {};
    auto referrers = referrersOf(from, *digest);
    if (!referrers) return referrers.takeError();
    for (const auto& r : *referrers) {
      if (stored.contains({to, r})) continue;
      auto fetched = manifestOf(from, r);
      if (!fetched) return fetched.takeError();
      if (auto c = copyManifest(from, *fetched, to, ""); !c) return c;
      if (auto c = copyReferrers(from, r, to, depth + 1); !c) return c;
    }
    return {};
  }
};

Importer::Importer(meta::MetadataStore& meta, ImportTarget& target,
                   std::shared_ptr<storage::object::HttpClient> http, ClientOptions options)
    : meta_(meta), target_(target), http_(std::move(http)), options_(std::move(options)) {}

Result<void> Importer::run(const ImportRequest& request, meta::ImportJob& job,
                           const std::function<void()>& progress,
                           const std::atomic<bool>& stopping) {
  auto blobs = target_.blobsOf(request.registry);
  if (!blobs) return blobs.takeError();
  Run run{*this,
          request,
          job,
          progress,
          stopping,
          Client(request.source.host, request.credentials, http_, options_, &stopping),
          std::move(*blobs),
          {}};
  const auto& source = request.source;
  auto top = request.manifest ? Result<Manifest>(*request.manifest)
                              : run.manifestOf(source.repository, source.reference());
  if (!top) return top.takeError();
  if (!request.platform.empty() && registry::isIndexType(top->mediaType)) {
    std::string chosen;
    for (const auto& [digest, platform] : platformsOf(top->body)) {
      if (platform == request.platform) {
        chosen = digest;
        break;
      }
    }
    if (chosen.empty()) {
      return explainedError(ApiCode::ManifestUnknown,
                            source.str() + " has no platform " + request.platform);
    }
    top = run.manifestOf(source.repository, chosen);
    if (!top) return top.takeError();
  }
  run.count([&](meta::ImportJob& j) { j.digest = top->digest; });

  // A tag that points elsewhere moves only when asked to.
  if (!request.force) {
    for (const auto& [repository, tag] : request.targets) {
      if (tag.empty()) continue;
      auto id = meta_.findRepository(request.registry.id, repository);
      if (!id) return id.takeError();
      if (!*id) continue;
      auto current = meta_.resolveTag(**id, tag);
      if (!current) return current.takeError();
      if (*current && **current != top->digest) {
        return explainedError(ApiCode::Conflict, "tag " + repository + ":" + tag + " exists (" +
                                                     **current + "); --force moves it");
      }
    }
  }
  Result<void> outcome;
  for (const auto& [repository, tag] : request.targets) {
    outcome = run.copyManifest(source.repository, *top, repository, tag);
    if (!outcome) break;
    if (!request.referrers) continue;
    // The referrers (signatures, SBOMs) of the image and of each platform of an index.
    std::vector<std::string> subjects{top->digest};
    if (registry::isIndexType(top->mediaType)) {
      for (const auto& [digest, platform] : platformsOf(top->body)) subjects.push_back(digest);
    }
    for (const auto& subject : subjects) {
      outcome = run.copyReferrers(source.repository, subject, repository, 1);
      if (!outcome) break;
    }
    if (!outcome) break;
  }
  target_.forget(request.registry.id);
  return outcome;
}

}  // namespace berth::upstream
