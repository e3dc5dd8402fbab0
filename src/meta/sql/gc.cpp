// Garbage collection's side of the metadata: unreferenced links, blobs nothing links, the
// record of each pass. Every removal is a transaction (with the one writer of all processes)
// that re-checks, on the rows as they are now, what made the item collectable.
#include "meta/sql/store_impl.hpp"

namespace berth::meta {

using sql::nowSeconds;
using sql::run;
using sql::Stmt;
using sql::Transaction;

namespace {

// A link that nothing references and that was last linked or referenced before ?2. A macro,
// not a constant: statements are cached by the address of their literal, so each must be one.
#define BERTH_UNREFERENCED_LINK(rb)                                        \
  rb ".created < ?2 AND " rb                                               \
     ".touched < ?2 AND NOT EXISTS (SELECT 1 FROM manifest_refs r "        \
     "WHERE r.repository_id = " rb ".repository_id AND r.ref_digest = " rb \
     ".digest AND "                                                        \
     "r.is_manifest = 0)"

}  // namespace

Result<uint64_t> SqlStore::removeUnreferencedLinks(RegistryId registry, int64_t before,
                                                   size_t limit) {
  return db_->freeing([&]() -> Result<uint64_t> {
    auto c = writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    auto s = (*c)->prepare(
        "DELETE FROM repository_blobs WHERE (repository_id, digest) IN (SELECT rb.repository_id, "
        "rb.digest FROM repository_blobs rb WHERE rb.registry_id = ?1 AND " BERTH_UNREFERENCED_LINK(
            "rb") " LIMIT ?3)");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, before).bind(3, static_cast<int64_t>(limit));
    if (auto r = run(**c, **s); !r) return r.takeError();
    const auto removed = static_cast<uint64_t>((*c)->changes());
    if (removed > 0) {
      if (auto r = registryChanged(**c, registry); !r) return r.takeError();
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return removed;
  });
}

Result<uint64_t> SqlStore::countUnreferencedLinks(RegistryId registry, int64_t before) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT COUNT(*) FROM repository_blobs rb WHERE rb.registry_id = ?1 "
      "AND " BERTH_UNREFERENCED_LINK("rb"));
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, before);
  if ((*s)->step() != sql::kRow) return (*c)->fail("count links");
  return static_cast<uint64_t>((*s)->integer(0));
}

Result<BlobTotals> SqlStore::countCollectableBlobs(RegistryId registry, int64_t before) {
  auto c = lease();
  if (!c) return c.takeError();
  // Blobs with no link that outlives this pass: none at all, or only unreferenced old ones.
  auto s = (*c)->prepare(
      "SELECT COUNT(*), COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.registry_id = ?1 AND "
      "NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.registry_id = b.registry_id AND "
      "rb.digest = b.digest AND NOT (" BERTH_UNREFERENCED_LINK("rb") "))");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, before);
  if ((*s)->step() != sql::kRow) return (*c)->fail("count blobs");
  return BlobTotals{static_cast<uint64_t>((*s)->integer(0)),
                    static_cast<uint64_t>((*s)->integer(1))};
}

#undef BERTH_UNREFERENCED_LINK

Result<std::vector<BlobRecord>> SqlStore::unlinkedBlobs(RegistryId registry, std::string_view after,
                                                        size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT b.digest, b.size FROM blobs b WHERE b.registry_id = ? AND b.digest > ? AND NOT "
      "EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.registry_id = b.registry_id AND "
      "rb.digest = b.digest) ORDER BY b.digest LIMIT ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, after).bind(3, static_cast<int64_t>(limit));
  std::vector<BlobRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select blobs");
    out.push_back(BlobRecord{(*s)->text(0), static_cast<uint64_t>((*s)->integer(1))});
  }
  return out;
}

Result<bool> SqlStore::collectBlob(RegistryId registry, std::string_view digest,
                                   const BytesStep& removeBytes) {
  return db_->freeing([&]() -> Result<bool> {
    auto c = writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    int64_t size = 0;
    {
      // Re-checked under the write lock: an upload or a mount that linked the blob since the
      // pass listed it keeps it.
      auto s = (*c)->prepare(
          "SELECT b.size FROM blobs b WHERE b.registry_id = ? AND b.digest = ? AND NOT EXISTS "
          "(SELECT 1 FROM repository_blobs rb WHERE rb.registry_id = b.registry_id AND "
          "rb.digest = b.digest)");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, digest);
      const int rc = (*s)->step();
      if (rc == sql::kDone) return false;
      if (rc != sql::kRow) return (*c)->fail("select blob");
      size = (*s)->integer(0);
    }
    static constexpr const char* kDeletes[] = {
        "DELETE FROM blobs WHERE registry_id = ?1 AND digest = ?2",
        "UPDATE registries SET used_bytes = CASE WHEN used_bytes > ?3 THEN used_bytes - ?3 ELSE 0 "
        "END "
        "WHERE id = ?1",
    };
    for (const char* sql : kDeletes) {
      auto s = (*c)->prepare(sql);
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, digest);
      if (sql == kDeletes[1]) (*s)->bind(3, size);
      if (auto r = run(**c, **s); !r) return r.takeError();
    }
    // The bytes go last, while the lock is held: once they are gone the rows must go too, and
    // should the commit still fail, a row with no link and no bytes is harmless (nothing can
    // read it, an upload places the bytes again) and is collected on the next pass.
    if (auto r = removeBytes(); !r) return r.takeError();
    if (auto r = tx.commit(); !r) return r.takeError();
    return true;
  });
}

Result<bool> SqlStore::collectOrphan(RegistryId registry, std::string_view digest,
                                     const BytesStep& removeBytes) {
  auto c = writer();
  if (!c) return c.takeError();
  // The write lock, though nothing is written: an upload places its bytes inside the
  // transaction that records them, so a blob without a row here is one no upload is placing.
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  auto s = (*c)->prepare("SELECT 1 FROM blobs WHERE registry_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, digest);
  const int rc = (*s)->step();
  if (rc == sql::kRow) return false;
  if (rc != sql::kDone) return (*c)->fail("select blob");
  if (auto r = removeBytes(); !r) return r.takeError();
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

Result<void> SqlStore::recordGcRun(RegistryId registry, const GcRun& g) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "INSERT INTO gc_runs(registry_id, started, finished, dry_run, uploads_removed, "
      "links_removed, blobs_removed, bytes_removed, orphans_removed, error) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(registry_id) DO UPDATE SET "
      "started = excluded.started, finished = excluded.finished, dry_run = excluded.dry_run, "
      "uploads_removed = excluded.uploads_removed, links_removed = excluded.links_removed, "
      "blobs_removed = excluded.blobs_removed, bytes_removed = excluded.bytes_removed, "
      "orphans_removed = excluded.orphans_removed, error = excluded.error");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, g.started).bind(3, g.finished).bind(4, int64_t{g.dryRun});
  (*s)->bind(5, static_cast<int64_t>(g.uploadsRemoved));
  (*s)->bind(6, static_cast<int64_t>(g.linksRemoved));
  (*s)->bind(7, static_cast<int64_t>(g.blobsRemoved));
  (*s)->bind(8, static_cast<int64_t>(g.bytesRemoved));
  (*s)->bind(9, static_cast<int64_t>(g.orphansRemoved)).bind(10, g.error);
  return run(**c, **s);
}

Result<std::optional<GcRun>> SqlStore::lastGcRun(RegistryId registry) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT started, finished, dry_run, uploads_removed, links_removed, blobs_removed, "
      "bytes_removed, orphans_removed, error FROM gc_runs WHERE registry_id = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return std::optional<GcRun>();
  if (rc != sql::kRow) return (*c)->fail("select gc run");
  GcRun g;
  g.started = (*s)->integer(0);
  g.finished = (*s)->integer(1);
  g.dryRun = (*s)->integer(2) != 0;
  g.uploadsRemoved = static_cast<uint64_t>((*s)->integer(3));
  g.linksRemoved = static_cast<uint64_t>((*s)->integer(4));
  g.blobsRemoved = static_cast<uint64_t>((*s)->integer(5));
  g.bytesRemoved = static_cast<uint64_t>((*s)->integer(6));
  g.orphansRemoved = static_cast<uint64_t>((*s)->integer(7));
  g.error = (*s)->text(8);
  return std::optional<GcRun>(std::move(g));
}

}  // namespace berth::meta
