#pragma once
// The handlers of the data plane, one file per resource. Internal to the registry component.
#include <atomic>
#include <memory>
#include <string>

#include "core/lru_cache.hpp"
#include "http/message.hpp"
#include "meta/metadata_store.hpp"
#include "registry/context.hpp"
#include "registry/pull_through.hpp"

namespace berth::registry {

inline constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;

// Caches in front of the metadata store, invalidated on every write through this process, and
// on the changes other nodes announce (meta::MetadataStore::watchContent).
struct Caches {
  explicit Caches(size_t entries)
      : manifests(entries, "manifests"),
        tags(entries, "tags"),
        blobLinks(entries * 4, "blob_links") {}
  // "<repository id>/<digest>" -> manifest
  LruCache<std::string, std::shared_ptr<const meta::ManifestRecord>> manifests;
  // "<repository id>/<tag>" -> digest
  LruCache<std::string, std::string> tags;
  // "<repository id>/<digest>" -> size of a blob linked to the repository
  LruCache<std::string, uint64_t> blobLinks;
  // "<registry id>/<name>" -> the repository's id and attributes (only repositories that exist)
  struct Repository {
    meta::RepositoryId id = 0;
    meta::Attributes attributes;
  };
  LruCache<std::string, Repository> repositories{4096, "repositories"};

  static std::string key(meta::RepositoryId repository, std::string_view item) {
    std::string k = std::to_string(repository);
    k += '/';
    k += item;
    return k;
  }
  void forgetRepositoryTags(meta::RepositoryId repository);
  // After a change made outside the data plane (control API) or by another node: start again
  // from the store.
  void clear();
  // Another node changed the repository: everything of it goes.
  void forgetRepository(meta::RepositoryId repository);

  // Moves on whenever clear() or forgetRepository() runs. A value read from the store goes into
  // a cache only if the epoch did not move while it was read: a change another node announced
  // meanwhile may have come too early to remove it.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  bool unchangedSince(uint64_t epoch) const { return this->epoch() == epoch; }

 private:
  std::atomic<uint64_t> epoch_{0};
};

struct Services {
  meta::MetadataStore& meta;
  Authorizer& authorizer;
  Caches& caches;
  PullThrough* pull = nullptr;
};

// A request routed to a repository resource. Handlers that stream a body keep a copy in
// their sink, so a Target owns everything it refers to (Services outlive every request).: `name` is
// validated, `ref` is the path's last segment (digest, tag, upload id), still unvalidated.
struct Target {
  RequestContext ctx;
  std::string name;
  std::string ref;
};

http::Dispatch handleBlob(Services& s, http::Request& req, Target& t);
http::Dispatch handleUploadStart(Services& s, http::Request& req, Target& t);
http::Dispatch handleUpload(Services& s, http::Request& req, Target& t);
http::Dispatch handleManifest(Services& s, http::Request& req, Target& t);
http::Dispatch handleTags(Services& s, http::Request& req, Target& t);
http::Dispatch handleReferrers(Services& s, http::Request& req, Target& t);
http::Dispatch handleCatalog(Services& s, http::Request& req, const RequestContext& ctx);

// Shared by handlers.
http::Response errorResponse(const Error& error);
http::Dispatch replyError(const Error& error);
http::Dispatch fail(ApiCode code, std::string detail = {}, int status = 0);
std::string blobLocation(std::string_view name, std::string_view digest);
std::string uploadLocation(std::string_view name, std::string_view uuid);
// The repository's id, when it exists; from the cache when it is there.
Result<std::optional<meta::RepositoryId>> findRepository(Services& s, meta::RegistryId registry,
                                                         std::string_view name);
// The repository with its attributes, when it exists; from the cache when it is there.
Result<std::optional<Caches::Repository>> findRepositoryEntry(Services& s,
                                                              meta::RegistryId registry,
                                                              std::string_view name);
// Parses the `n` parameter; nullopt when absent, an error when malformed.
Result<std::optional<size_t>> pageSize(const http::Request& req);

}  // namespace berth::registry
