#pragma once
// The pull-through cache (ACR's cache rules): a pull that misses in a repository under a cache
// rule is answered from the upstream while the image is stored, and tags are checked against
// the upstream once they are older than tagTtl. Each blob is fetched once however many pull it
// at once: the first request starts the fetch, which writes the bytes to the registry's store
// and to a spool file every reader follows. When the upstream cannot answer (down, 429, 5xx),
// the registry's last copy of a tag is served, marked stale (X-Berth-Cache: stale).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "events/secret_box.hpp"
#include "meta/identity_store.hpp"
#include "meta/upstream_store.hpp"
#include "registry/pull_through.hpp"
#include "upstream/cache_rules.hpp"
#include "upstream/importer.hpp"

namespace berth::upstream {

struct CacheOptions {
  std::chrono::seconds tagTtl{300};  // a cached tag is checked against the upstream after this
  size_t fetches = 32;               // blob fetches from upstreams at once
  size_t fillWorkers = 2;            // images stored at once
  size_t fillQueue = 100;            // images waiting to be stored, beyond which none is queued
  std::filesystem::path spoolDir;    // where blobs being fetched are spooled for their readers
  std::chrono::seconds rulesTtl{5};  // another node's change of the rules is seen after this
};

class Cache final : public registry::PullThrough {
 public:
  Cache(meta::MetadataStore& meta, meta::IdentityStore& identities, meta::UpstreamStore& store,
        const events::SecretBox& secrets, Importer& importer,
        std::shared_ptr<storage::object::HttpClient> http, ClientOptions clientOptions,
        CacheOptions options);
  ~Cache() override;
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  bool covers(meta::RegistryId registry, std::string_view repository) override;
  Result<ManifestAnswer> manifest(const registry::RequestContext& ctx, std::string_view repository,
                                  std::string_view reference, std::string_view local) override;
  Result<std::shared_ptr<http::BodySource>> blob(const registry::RequestContext& ctx,
                                                 std::string_view repository, const Digest& digest,
                                                 uint64_t& size) override;

  // The registry's rules changed here: read them again at the next pull.
  void forgetRules(meta::RegistryId registry);
  // Stops the fills and every fetch (they fail; their readers' connections close).
  void stop();

  struct Fetch;

 private:
  std::optional<CacheSource> sourceOf(meta::RegistryId registry, std::string_view repository);
  // The registry's rules, read again when older than rulesTtl; `use` runs under the shared lock.
  template <class Use>
  auto withRules(meta::RegistryId registry, Use use);
  Result<std::shared_ptr<Client>> clientFor(meta::RegistryId registry, const CacheSource& source);
  // Joins the fetch of `digest` into `repository`, or starts one (`wait`: for a free slot,
  // else TOO_MANY_REQUESTS when all are busy).
  Result<std::shared_ptr<Fetch>> join(meta::RegistryId registry, meta::RepositoryId repository,
                                      std::shared_ptr<storage::BlobStore> blobs,
                                      std::shared_ptr<Client> client, const std::string& from,
                                      const Digest& digest, bool wait);
  void runFetch(std::shared_ptr<Fetch> fetch, meta::RegistryId registry,
                meta::RepositoryId repository, std::shared_ptr<storage::BlobStore> blobs,
                std::shared_ptr<Client> client, std::string from, Digest digest);
  void fill(const registry::RequestContext& ctx, std::string_view repository,
            const CacheSource& source, std::shared_ptr<Client> client, Manifest manifest,
            std::string tag);
  void fillLoop();

  meta::MetadataStore& meta_;
  meta::IdentityStore& identities_;
  meta::UpstreamStore& store_;
  const events::SecretBox& secrets_;
  Importer& importer_;
  std::shared_ptr<storage::object::HttpClient> http_;
  ClientOptions clientOptions_;
  CacheOptions options_;
  std::atomic<bool> stopping_{false};

  // Read on every pull of a manifest: shared for the lookups, exclusive to read them again.
  std::shared_mutex rulesMutex_;
  struct Rules {
    std::vector<meta::CacheRule> rules;
    std::chrono::steady_clock::time_point loaded;
  };
  std::map<meta::RegistryId, Rules> rules_;

  std::mutex clientsMutex_;
  std::map<std::string, std::shared_ptr<Client>> clients_;

  std::mutex fetchesMutex_;
  std::condition_variable slotFreed_;
  std::map<std::string, std::shared_ptr<Fetch>> fetches_;  // "<registry>/<digest>"
  size_t running_ = 0;
  // Fetches run on threads of their own (detached; stop() waits for running_ to reach 0).

  std::mutex fillMutex_;
  std::condition_variable fillWake_;
  std::deque<std::function<void()>> fills_;
  std::map<std::string, bool> filling_;  // "<registry>/<repository>@<digest>:<tag>"
  std::vector<std::thread> fillThreads_;
};

}  // namespace berth::upstream
