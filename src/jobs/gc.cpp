#include "jobs/gc.hpp"

#include <ctime>

#include "core/digest.hpp"
#include "core/log.hpp"

namespace berth::jobs {
namespace {

std::string describe(const Error& e) {
  return e.detail.empty() ? std::string(info(e.code).message) : e.detail;
}

class Pass {
 public:
  Pass(meta::MetadataStore& meta, storage::BlobStore& blobs, meta::RegistryId registry,
       const GcOptions& options)
      : meta_(meta), blobs_(blobs), registry_(registry), options_(options) {
    run_.started = std::time(nullptr);
    run_.dryRun = options.dryRun;
    linkCutoff_ = run_.started - options.grace.count();
    uploadCutoff_ = run_.started - options.uploadExpiry.count();
  }

  meta::GcRun run() {
    auto done = expireDeleted();
    if (done) done = uploads();
    if (done) done = links();
    if (done && !options_.dryRun) done = unlinkedBlobs();
    if (done && !options_.dryRun && options_.sweepOrphans) done = orphans();
    if (!done) run_.error = describe(done.error());
    run_.finished = std::time(nullptr);
    return run_;
  }

 private:
  bool stopping() const { return options_.stopping && options_.stopping(); }

  // Soft-deleted manifests past the policy's days lose their references (kept while the policy
  // is off again, until then).
  Result<void> expireDeleted() {
    if (options_.dryRun) return {};
    auto policies = meta_.policies(registry_);
    if (!policies) return policies.takeError();
    const int64_t before = run_.started - int64_t{policies->softDelete.days} * 86400;
    auto expired = meta_.expireDeletedManifests(registry_, before);
    if (!expired) return expired.takeError();
    return {};
  }

  Result<void> uploads() {
    // Sessions whose file nobody has written to for the expiry.
    for (;;) {
      auto stale = blobs_.staleUploads(uploadCutoff_, options_.batch);
      if (!stale) return stale.takeError();
      if (options_.dryRun) {
        run_.uploadsRemoved += stale->size();
        break;
      }
      uint64_t removed = 0;
      for (const auto& id : *stale) {
        auto cancelled = blobs_.cancelUpload(id);
        if (!cancelled && cancelled.error().code != ApiCode::BlobUploadUnknown) {
          return cancelled.takeError();
        }
        if (auto r = meta_.deleteUpload(id); !r) return r;
        ++removed;
      }
      run_.uploadsRemoved += removed;
      if (stale->size() < options_.batch || removed == 0 || stopping()) break;
    }
    // Sessions recorded in the metadata whose file is gone (a crash between the two).
    auto old = meta_.uploadsBefore(registry_, uploadCutoff_, options_.batch);
    if (!old) return old.takeError();
    for (const auto& upload : *old) {
      auto size = blobs_.uploadSize(upload.uuid);
      if (size || size.error().code != ApiCode::BlobUploadUnknown) continue;
      if (!options_.dryRun) {
        if (auto r = meta_.deleteUpload(upload.uuid); !r) return r;
      }
      ++run_.uploadsRemoved;
    }
    return {};
  }

  Result<void> links() {
    if (options_.dryRun) {
      auto links = meta_.countUnreferencedLinks(registry_, linkCutoff_);
      if (!links) return links.takeError();
      auto blobs = meta_.countCollectableBlobs(registry_, linkCutoff_);
      if (!blobs) return blobs.takeError();
      run_.linksRemoved = *links;
      run_.blobsRemoved = blobs->blobs;
      run_.bytesRemoved = blobs->bytes;
      return {};
    }
    for (;;) {
      auto removed = meta_.removeUnreferencedLinks(registry_, linkCutoff_, options_.batch);
      if (!removed) return removed.takeError();
      run_.linksRemoved += *removed;
      if (*removed < options_.batch || stopping()) return {};
    }
  }

  Result<void> unlinkedBlobs() {
    std::string after;
    for (;;) {
      auto page = meta_.unlinkedBlobs(registry_, after, options_.batch);
      if (!page) return page.takeError();
      for (const auto& blob : *page) {
        auto digest = Digest::parse(blob.digest);
        auto collected = meta_.collectBlob(registry_, blob.digest, [&]() -> Result<void> {
          // A row whose digest is not one cannot name a file: only the row goes.
          if (!digest) return {};
          return blobs_.remove(*digest);
        });
        if (!collected) return collected.takeError();
        if (*collected) {
          ++run_.blobsRemoved;
          run_.bytesRemoved += blob.size;
        }
      }
      if (page->size() < options_.batch || stopping()) return {};
      after = page->back().digest;
    }
  }

  Result<void> orphans() {
    std::optional<Error> failure;
    auto walked = blobs_.forEachBlob([&](const storage::StoredBlob& stored) {
      // Young files may be an upload's, being placed right now: left for a later pass.
      if (stored.modified >= linkCutoff_) return !stopping();
      auto digest = Digest::parse(stored.digest);
      if (!digest) return true;
      auto collected =
          meta_.collectOrphan(registry_, stored.digest, [&] { return blobs_.remove(*digest); });
      if (!collected) {
        failure = collected.takeError();
        return false;
      }
      if (*collected) {
        ++run_.orphansRemoved;
        run_.bytesRemoved += stored.size;
      }
      return !stopping();
    });
    if (failure) return *failure;
    return walked;
  }

  meta::MetadataStore& meta_;
  storage::BlobStore& blobs_;
  meta::RegistryId registry_;
  const GcOptions& options_;
  meta::GcRun run_;
  int64_t linkCutoff_ = 0;
  int64_t uploadCutoff_ = 0;
};

}  // namespace

meta::GcRun collectGarbage(meta::MetadataStore& meta, storage::BlobStore& blobs,
                           meta::RegistryId registry, const GcOptions& options) {
  auto run = Pass(meta, blobs, registry, options).run();
  if (!run.error.empty()) {
    log::warn("garbage collection stopped", {{"registry_id", registry}, {"error", run.error}});
  }
  return run;
}

}  // namespace berth::jobs
