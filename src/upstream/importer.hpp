#pragma once
// Copies an image from another registry into one of berth's, server-side, as `az acr import`
// does: the manifest, or an index with every platform (or one), its blobs and its referrers.
// Blobs the registry holds already are linked, not fetched again; the rest stream from the
// upstream into the registry's store, checked against their digests. Every manifest is checked
// and recorded as a push would be (registry/ingest.hpp). Runs on an import worker: it blocks.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "meta/identity_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/upstream_store.hpp"
#include "registry/manifest_parse.hpp"
#include "storage/blob_store.hpp"
#include "upstream/client.hpp"

namespace berth::upstream {

struct ImportRequest {
  meta::RegistrySettings registry;  // where the image goes
  ImageRef source;
  // Repository and tag of each copy; an empty tag stores the image by digest only.
  std::vector<std::pair<std::string, std::string>> targets;
  Credentials credentials;
  std::string platform;  // "os/arch[/variant]": that platform of an index only
  bool force = false;    // move target tags that point elsewhere
  meta::Actor actor;
  bool referrers = true;  // copy the referrers too
  // The source's manifest, when the caller fetched it already.
  std::optional<Manifest> manifest;
  // When set, the source is this registry of the same berth (its login server is source.host):
  // manifests and blobs are read from its store, without the network. Whoever asks checks
  // first that the caller may pull from it.
  std::optional<meta::RegistrySettings> localSource;
  // When set, fetches a blob the registry lacks into the repository (the cache's one fetch
  // per blob); otherwise the importer fetches it itself.
  std::function<Result<void>(Client& client, const std::string& from, meta::RepositoryId to,
                             const registry::Descriptor& blob)>
      fetchBlob;
};

// The registries' stores and caches, as the process that hosts them has them.
class ImportTarget {
 public:
  virtual ~ImportTarget() = default;
  virtual Result<std::shared_ptr<storage::BlobStore>> blobsOf(
      const meta::RegistrySettings& registry) = 0;
  // The registry's content changed outside the data plane.
  virtual void forget(meta::RegistryId registry) = 0;
};

// A platform as "os/arch[/variant]"; false when the text is not one.
bool isValidPlatform(std::string_view platform);

class Importer {
 public:
  Importer(meta::MetadataStore& meta, ImportTarget& target,
           std::shared_ptr<storage::object::HttpClient> http, ClientOptions options);

  // Runs `request`, counting what it does in `job` (its digest, manifests, blobs, bytes) and
  // calling `progress` after each step. Stops, with an error, once `stopping` is set.
  Result<void> run(const ImportRequest& request, meta::ImportJob& job,
                   const std::function<void()>& progress, const std::atomic<bool>& stopping);

  const ClientOptions& options() const { return options_; }

 private:
  struct Run;
  meta::MetadataStore& meta_;
  ImportTarget& target_;
  std::shared_ptr<storage::object::HttpClient> http_;
  ClientOptions options_;
};

}  // namespace berth::upstream
