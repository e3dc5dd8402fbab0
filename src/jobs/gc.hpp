#pragma once
// Online garbage collection: what nothing references any more leaves the metadata and the
// blob store in the background, while pushes and pulls go on, with no lock but the metadata
// store's own transactions.
//
// What lives, and for how long:
//   - a manifest lives until it is deleted (by a client, purge or retention); deleting it takes
//     its references, its tags and its referrers with it; with soft delete on, its references
//     stay until it is the policy's days old (MetadataStore::expireDeletedManifests);
//   - a repository<->blob link lives while a manifest of the repository references the blob,
//     and for the grace period after it was last linked (uploaded, mounted) or last stopped
//     being referenced: a client uploads layers minutes before the manifest that uses them;
//   - a blob lives while any repository of its registry links it;
//   - an upload session lives until nothing has written to it for the upload expiry.
//
// Why a blob in use is never removed. Two rules, each kept by a metadata transaction (one
// writer at a time on SQLite; on PostgreSQL the same transactions take the rows' locks):
//   1. A blob's bytes are removed only inside the transaction that deletes the blob's row and
//      finds, in that same transaction, that no link to it exists (MetadataStore::collectBlob).
//   2. A link is made only inside a transaction that also places the bytes (an upload:
//      linkBlob runs placeUpload in it) or that finds another link to the blob (a mount:
//      mountBlob). A manifest is stored only inside a transaction that finds every blob it
//      references linked (putManifest), and a link is removed only inside a transaction that
//      finds no manifest referencing it (removeUnreferencedLinks).
// So the transactions are ordered: a collection that commits first leaves no bytes, and the
// upload after it places them again; one that comes second finds the link and keeps the blob.
// A manifest never references a blob without a link, and a link never exists without bytes.
// Should a process die between a file operation and its commit, what is left is an unlinked
// row without bytes (collected again, harmlessly) or bytes without a row (an orphan, which the
// sweep removes once it is older than the grace period).
#include <chrono>
#include <functional>

#include "meta/metadata_store.hpp"
#include "storage/blob_store.hpp"

namespace berth::jobs {

struct GcOptions {
  // How long an unreferenced link, or a stored file no metadata knows, is kept.
  std::chrono::seconds grace{3600};
  // How long an upload session nobody writes to is kept.
  std::chrono::seconds uploadExpiry{86400};
  // Count what a pass would remove, removing nothing (orphans are not looked for).
  bool dryRun = false;
  // Walk every stored file for orphans: a directory walk, so not on every pass.
  bool sweepOrphans = false;
  // Rows per transaction or page.
  size_t batch = 500;
  // Asked between batches; true ends the pass early (it reports what it did so far).
  std::function<bool()> stopping;
};

// One pass over one registry. Failures end the pass and are reported in GcRun::error.
meta::GcRun collectGarbage(meta::MetadataStore& meta, storage::BlobStore& blobs,
                           meta::RegistryId registry, const GcOptions& options);

}  // namespace berth::jobs
