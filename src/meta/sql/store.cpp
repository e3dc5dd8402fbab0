#include <algorithm>
#include <charconv>
#include <cstring>
#include <span>

#include "core/log.hpp"
#include "meta/sql/database.hpp"
#include "meta/sql/store_impl.hpp"

namespace berth::meta {

using sql::nowSeconds;
using sql::run;
using sql::Stmt;
using sql::Transaction;

SqlStore::~SqlStore() = default;

MetadataStorePtr makeSqlStore(sql::DatabasePtr db) {
  return MetadataStorePtr(new SqlStore(std::move(db)));
}

Stores makeSqlStores(const sql::DatabasePtr& db) {
  return Stores{makeSqlStore(db), makeSqlIdentityStore(db), makeSqlEventStore(db),
                makeSqlUpstreamStore(db)};
}

namespace {

// "<kind><id>": built by appending (gcc 12 at -O3 warns, wrongly, of an overlapping copy in
// `"r" + std::to_string(id)`).
std::string contentKey(char kind, int64_t id) {
  std::string key(1, kind);
  key += std::to_string(id);
  return key;
}

}  // namespace

Result<void> repositoryChanged(sql::Connection& c, RepositoryId repository) {
  return sql::notify(c, sql::Topic::Content, contentKey('r', repository));
}

Result<void> registryChanged(sql::Connection& c, RegistryId registry) {
  return sql::notify(c, sql::Topic::Content, contentKey('g', registry));
}

Result<bool> changeOf(sql::Connection& c, sql::Stmt& s, RepositoryId repository) {
  if (auto r = run(c, s); !r) return r.takeError();
  if (c.changes() == 0) return false;
  if (auto r = repositoryChanged(c, repository); !r) return r.takeError();
  return true;
}

Watch SqlStore::watchContent(std::function<void(const ContentChange&)> changed) {
  return db_->subscribe(sql::Topic::Content, [changed = std::move(changed)](std::string_view key) {
    ContentChange change;
    int64_t id = 0;
    if (key.size() > 1 && (key[0] == 'r' || key[0] == 'g') &&
        std::from_chars(key.data() + 1, key.data() + key.size(), id).ec == std::errc()) {
      change.scope =
          key[0] == 'r' ? ContentChange::Scope::Repository : ContentChange::Scope::Registry;
      change.id = id;
    }
    changed(change);
  });
}

Result<RegistryId> SqlStore::ensureRegistry(std::string_view name) {
  auto c = writer();
  if (!c) return c.takeError();
  // Looked up first: starting on a full disk must not need a write.
  if (auto s = (*c)->prepare("SELECT id FROM registries WHERE name = ?"); !s) {
    return s.takeError();
  } else if ((*s)->bind(1, name).step() == sql::kRow) {
    return (*s)->integer(0);
  }
  {
    auto s =
        (*c)->prepare("INSERT INTO registries(name, created) VALUES(?, ?) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    (*s)->bind(1, name).bind(2, nowSeconds());
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  auto s = (*c)->prepare("SELECT id FROM registries WHERE name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, name);
  if ((*s)->step() != sql::kRow) return (*c)->fail("select registry");
  return (*s)->integer(0);
}

Result<std::optional<RepositoryId>> SqlStore::findRepository(RegistryId registry,
                                                             std::string_view name) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("SELECT id FROM repositories WHERE registry_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  const int rc = (*s)->step();
  if (rc == sql::kRow) return std::optional<RepositoryId>((*s)->integer(0));
  if (rc == sql::kDone) return std::optional<RepositoryId>();
  return (*c)->fail("select repository");
}

Result<RepositoryId> SqlStore::ensureRepository(RegistryId registry, std::string_view name) {
  auto found = findRepository(registry, name);
  if (!found) return found.takeError();
  if (*found) return **found;
  auto c = writer();
  if (!c) return c.takeError();
  {
    auto s = (*c)->prepare(
        "INSERT INTO repositories(registry_id, name, created, updated) "
        "VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    const auto now = nowSeconds();
    (*s)->bind(1, registry).bind(2, name).bind(3, now).bind(4, now);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  auto s = (*c)->prepare("SELECT id FROM repositories WHERE registry_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  if ((*s)->step() != sql::kRow) return (*c)->fail("select repository");
  return (*s)->integer(0);
}

namespace {

// Reads one keyset page: the statement yields names in order and was given limit + 1.
Result<Page> readPage(sql::Connection& c, Stmt& s, size_t limit) {
  Page page;
  for (;;) {
    const int rc = s.step();
    if (rc == sql::kDone) break;
    if (rc != sql::kRow) return c.fail("page");
    if (page.items.size() == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(s.text(0));
  }
  return page;
}

}  // namespace

Result<Page> SqlStore::listRepositories(RegistryId registry, std::string_view after, size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT name FROM repositories WHERE registry_id = ? AND name > ? AND list_enabled = 1 "
      "ORDER BY name LIMIT ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, after).bind(3, static_cast<int64_t>(limit) + 1);
  return readPage(**c, **s, limit);
}

namespace {

std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return text;
}

Error quotaExceeded(sql::Connection& c, RegistryId registry, uint64_t size) {
  auto s = c.prepare("SELECT quota_bytes, used_bytes FROM registries WHERE id = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  if ((*s)->step() != sql::kRow) return makeError(ApiCode::NameUnknown, "no such registry");
  const auto quota = static_cast<uint64_t>((*s)->integer(0));
  const auto used = static_cast<uint64_t>((*s)->integer(1));
  return explainedError(ApiCode::Denied,
                        "storage quota exceeded: the registry's quota is " + std::to_string(quota) +
                            " bytes (" + gib(quota) + " GiB), " + std::to_string(used) +
                            " are used and this blob needs " + std::to_string(size));
}

}  // namespace

namespace {

Result<void> deleteUploadRecord(sql::Connection& c, std::string_view uuid) {
  auto s = c.prepare("DELETE FROM uploads WHERE uuid = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, uuid);
  return run(c, **s);
}

// Links the blob to the repository, or, when it is linked, makes the link's time now.
Result<void> upsertLink(sql::Connection& c, RegistryId registry, RepositoryId repository,
                        std::string_view digest, uint64_t size, int64_t now) {
  auto s = c.prepare(
      "INSERT INTO repository_blobs(repository_id, digest, registry_id, size, created, touched) "
      "VALUES(?, ?, ?, ?, ?6, ?6) ON CONFLICT(repository_id, digest) DO UPDATE SET "
      "touched = excluded.touched");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest).bind(3, registry);
  (*s)->bind(4, static_cast<int64_t>(size)).bind(6, now);
  return run(c, **s);
}

}  // namespace

Result<void> SqlStore::linkBlob(RegistryId registry, RepositoryId repository,
                                std::string_view digest, uint64_t size, const BytesStep& placeBytes,
                                std::string_view endsUpload) {
  auto c = writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r;
  const auto now = nowSeconds();
  {
    auto s = (*c)->prepare(
        "INSERT INTO blobs(registry_id, digest, size, created) VALUES(?, ?, ?, ?) ON CONFLICT DO "
        "NOTHING");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, digest).bind(3, static_cast<int64_t>(size)).bind(4, now);
    if (auto r = run(**c, **s); !r) return r;
  }
  if ((*c)->changes() > 0) {
    // A blob new to the registry: it counts against the quota, all or nothing.
    auto s = (*c)->prepare(
        "UPDATE registries SET used_bytes = used_bytes + ?1 "
        "WHERE id = ?2 AND used_bytes + ?1 <= quota_bytes");
    if (!s) return s.takeError();
    (*s)->bind(1, static_cast<int64_t>(size)).bind(2, registry);
    if (auto r = run(**c, **s); !r) return r;
    if ((*c)->changes() == 0) return quotaExceeded(**c, registry, size);
  }
  if (auto r = upsertLink(**c, registry, repository, digest, size, now); !r) return r;
  if (!endsUpload.empty()) {
    if (auto r = deleteUploadRecord(**c, endsUpload); !r) return r;
  }
  // Last, once nothing else can refuse the link: garbage collection removes bytes only in a
  // transaction that finds no link, so it either ran before this one (and the bytes are placed
  // again here) or runs after it (and finds the link).
  if (placeBytes) {
    if (auto r = placeBytes(); !r) return r;
  }
  return tx.commit();
}

Result<std::optional<uint64_t>> SqlStore::mountBlob(RepositoryId from, RepositoryId repository,
                                                    std::string_view digest) {
  auto c = writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  RegistryId registry = 0;
  uint64_t size = 0;
  {
    // The source's link, read inside the transaction: while it exists, so do the bytes.
    auto s = (*c)->prepare(
        "SELECT registry_id, size FROM repository_blobs WHERE repository_id = ? AND digest = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, from).bind(2, digest);
    const int rc = (*s)->step();
    if (rc == sql::kDone) return std::optional<uint64_t>();
    if (rc != sql::kRow) return (*c)->fail("select blob link");
    registry = (*s)->integer(0);
    size = static_cast<uint64_t>((*s)->integer(1));
  }
  if (auto r = upsertLink(**c, registry, repository, digest, size, nowSeconds()); !r) {
    return r.takeError();
  }
  if (auto r = tx.commit(); !r) return r.takeError();
  return std::optional<uint64_t>(size);
}

Result<std::optional<uint64_t>> SqlStore::linkedBlob(RepositoryId repository,
                                                     std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s =
      (*c)->prepare("SELECT size FROM repository_blobs WHERE repository_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  const int rc = (*s)->step();
  if (rc == sql::kRow) return std::optional<uint64_t>(static_cast<uint64_t>((*s)->integer(0)));
  if (rc == sql::kDone) return std::optional<uint64_t>();
  return (*c)->fail("select blob link");
}

Result<bool> SqlStore::unlinkBlob(RepositoryId repository, std::string_view digest) {
  return db_->freeing([&]() -> Result<bool> {
    auto c = writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, digest);
    return changeOf(**c, **s, repository);
  });
}

namespace {

// The digest `tag` points at, read inside the caller's transaction; nullopt when it does not
// exist.
Result<std::optional<std::string>> tagDigest(sql::Connection& c, RepositoryId repository,
                                             std::string_view tag) {
  auto s = c.prepare("SELECT digest FROM tags WHERE repository_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag);
  const int rc = (*s)->step();
  if (rc == sql::kRow) return std::optional<std::string>((*s)->text(0));
  if (rc == sql::kDone) return std::optional<std::string>();
  return c.fail("select tag");
}

// Points `tag` at `digest` inside the caller's transaction (its time becomes now), recording
// the change when it is one: `action` when the tag is new, "moved" when it pointed elsewhere.
Result<void> pointTagIn(sql::Connection& c, RegistryId registry, RepositoryId repository,
                        std::string_view tag, std::string_view digest, std::string_view action,
                        const Actor& actor, int64_t now) {
  if (auto r = refuseTagMove(c, repository, tag, digest); !r) return r;
  auto previous = tagDigest(c, repository, tag);
  if (!previous) return previous.takeError();
  if (!*previous || **previous != digest) {
    auto recorded = recordTagChange(c, repository, tag, *previous ? "moved" : action,
                                    previous->value_or(""), digest, actor, now);
    if (!recorded) return recorded;
  }
  auto s = c.prepare(
      "INSERT INTO tags(repository_id, name, registry_id, digest, updated, created) "
      "VALUES(?, ?, ?, ?, ?5, ?5) ON CONFLICT(repository_id, name) DO UPDATE SET "
      "digest = excluded.digest, updated = excluded.updated");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag).bind(3, registry).bind(4, digest).bind(5, now);
  return run(c, **s);
}

}  // namespace

Result<void> SqlStore::putManifest(RegistryId registry, RepositoryId repository,
                                   const ManifestRecord& m, const std::vector<ManifestRef>& refs,
                                   std::optional<std::string_view> tag, const Actor& actor) {
  auto c = writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r;
  const auto now = nowSeconds();
  {
    // Content-addressed: a second PUT of the same digest changes nothing but tags.
    auto s = (*c)->prepare(
        "INSERT INTO manifests(repository_id, digest, registry_id, media_type, "
        "artifact_type, size, payload, subject, annotations, created) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, m.digest).bind(3, registry).bind(4, m.mediaType);
    (*s)->bind(5, m.artifactType).bind(6, static_cast<int64_t>(m.size)).bindBlob(7, m.payload);
    (*s)->bind(8, m.subject).bind(9, m.annotations).bind(10, now);
    if (auto r = run(**c, **s); !r) return r;
  }
  {
    // Pushed again: no longer a deleted manifest.
    auto s = (*c)->prepare("DELETE FROM deleted_manifests WHERE repository_id = ? AND digest = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, m.digest);
    if (auto r = run(**c, **s); !r) return r;
  }
  for (const auto& ref : refs) {
    // Checked again here, in the transaction: garbage collection may have removed a link, or a
    // delete a child manifest, since the handler looked.
    auto check = (*c)->prepare(
        ref.manifest ? "SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?"
                     : "SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?");
    if (!check) return check.takeError();
    (*check)->bind(1, repository).bind(2, ref.digest);
    if (const int rc = (*check)->step(); rc == sql::kDone) {
      return makeError(ApiCode::ManifestBlobUnknown,
                       (ref.manifest ? "manifest " : "blob ") + ref.digest);
    } else if (rc != sql::kRow) {
      return (*c)->fail("select reference");
    }
  }
  for (const auto& ref : refs) {
    auto s = (*c)->prepare(
        "INSERT INTO manifest_refs(repository_id, manifest_digest, ref_digest, "
        "registry_id, is_manifest) VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, m.digest).bind(3, ref.digest).bind(4, registry);
    (*s)->bind(5, int64_t{ref.manifest ? 1 : 0});
    if (auto r = run(**c, **s); !r) return r;
  }
  if (tag) {
    auto r = pointTagIn(**c, registry, repository, *tag, m.digest, "created", actor, now);
    if (!r) return r;
  }
  if (auto r = recordEvent(**c, repository, "push", m.digest, tag.value_or(""), actor); !r) {
    return r;
  }
  {
    auto s = (*c)->prepare("UPDATE repositories SET updated = ? WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, now).bind(2, repository);
    if (auto r = run(**c, **s); !r) return r;
  }
  return tx.commit();
}

Result<std::optional<ManifestRecord>> SqlStore::getManifest(RepositoryId repository,
                                                            std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT media_type, artifact_type, size, payload, subject, annotations, created "
      "FROM manifests WHERE repository_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return std::optional<ManifestRecord>();
  if (rc != sql::kRow) return (*c)->fail("select manifest");
  ManifestRecord m;
  m.digest = std::string(digest);
  m.mediaType = (*s)->text(0);
  m.artifactType = (*s)->text(1);
  m.size = static_cast<uint64_t>((*s)->integer(2));
  m.payload = (*s)->text(3);
  m.subject = (*s)->text(4);
  m.annotations = (*s)->text(5);
  m.created = (*s)->integer(6);
  return std::optional<ManifestRecord>(std::move(m));
}

Result<std::vector<std::string>> SqlStore::deleteManifest(RepositoryId repository,
                                                          std::string_view digest,
                                                          const Actor& actor) {
  return db_->freeing([&]() -> Result<std::vector<std::string>> {
    auto c = writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    std::vector<std::string> doomed;
    {
      auto s = (*c)->prepare("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, repository).bind(2, digest);
      const int rc = (*s)->step();
      if (rc == sql::kDone) return doomed;
      if (rc != sql::kRow) return (*c)->fail("select manifest");
    }
    // The manifest, then its referrers, theirs, and so on: a referrer's subject is gone.
    doomed.emplace_back(digest);
    for (size_t i = 0; i < doomed.size(); ++i) {
      if (auto r = refuseManifestDelete(**c, repository, doomed[i]); !r) return r.takeError();
      auto s = (*c)->prepare(
          "SELECT digest FROM manifests WHERE repository_id = ? AND subject = ? ORDER BY digest");
      if (!s) return s.takeError();
      (*s)->bind(1, repository).bind(2, doomed[i]);
      for (int rc; (rc = (*s)->step()) != sql::kDone;) {
        if (rc != sql::kRow) return (*c)->fail("select referrers");
        auto referrer = (*s)->text(0);
        if (std::find(doomed.begin(), doomed.end(), referrer) == doomed.end()) {
          doomed.push_back(std::move(referrer));
        }
      }
    }
    const auto now = nowSeconds();
    bool soft = false;
    {
      auto s = (*c)->prepare(
          "SELECT p.soft_delete_enabled FROM registry_policies p JOIN repositories r ON "
          "r.registry_id = p.registry_id WHERE r.id = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, repository);
      if (const int rc = (*s)->step(); rc == sql::kRow) {
        soft = (*s)->integer(0) != 0;
      } else if (rc != sql::kDone) {
        return (*c)->fail("select policy");
      }
    }
    // Soft: kept aside with the tags they had; their references stay, and so do their blobs.
    // The tags are joined by newlines, by each database's own aggregate.
#define BERTH_SET_ASIDE(JOINED_TAGS)                                                         \
  "INSERT INTO deleted_manifests(repository_id, digest, registry_id, media_type, "           \
  "artifact_type, size, payload, subject, annotations, created, deleted, deleted_by, tags) " \
  "SELECT repository_id, digest, registry_id, media_type, artifact_type, size, payload, "    \
  "subject, annotations, created, ?3, ?4, COALESCE((SELECT " JOINED_TAGS                     \
  " FROM tags WHERE "                                                                        \
  "repository_id = ?1 AND digest = ?2), '') FROM manifests WHERE repository_id = ?1 AND "    \
  "digest = ?2"
    static constexpr const char* kSetAside[] = {BERTH_SET_ASIDE("group_concat(name, char(10))"),
                                                BERTH_SET_ASIDE("string_agg(name, chr(10))")};
#undef BERTH_SET_ASIDE
    const char* const setAside[] = {
        // A manifest deleted before, restored and deleted again: kept aside once, as it is now.
        "DELETE FROM deleted_manifests WHERE repository_id = ?1 AND digest = ?2",
        kSetAside[(*c)->dialect() == sql::Dialect::Sqlite ? 0 : 1],
        "DELETE FROM manifests WHERE repository_id = ?1 AND digest = ?2",
        "DELETE FROM tags WHERE repository_id = ?1 AND digest = ?2",
    };
    static constexpr const char* kHard[] = {
        // The grace period of the blobs it referenced starts now: a client that saw them a
        // moment ago may still push a manifest that uses them.
        "UPDATE repository_blobs SET touched = ?3 WHERE repository_id = ?1 AND digest IN "
        "(SELECT ref_digest FROM manifest_refs WHERE repository_id = ?1 AND "
        "manifest_digest = ?2 AND is_manifest = 0)",
        "DELETE FROM manifests WHERE repository_id = ?1 AND digest = ?2",
        "DELETE FROM manifest_refs WHERE repository_id = ?1 AND manifest_digest = ?2",
        "DELETE FROM tags WHERE repository_id = ?1 AND digest = ?2",
    };
    const std::span<const char* const> statements(soft ? std::span<const char* const>(setAside)
                                                       : std::span<const char* const>(kHard));
    for (const auto& d : doomed) {
      if (auto r = recordTagDeletions(**c, repository, d, actor, now); !r) return r.takeError();
      if (auto r = recordEvent(**c, repository, "delete", d, "", actor); !r) return r.takeError();
      for (const char* sql : statements) {
        auto s = (*c)->prepare(sql);
        if (!s) return s.takeError();
        (*s)->bind(1, repository).bind(2, d);
        if (std::strstr(sql, "?3")) (*s)->bind(3, now);
        if (std::strstr(sql, "?4")) (*s)->bind(4, actor.identity);
        if (auto r = run(**c, **s); !r) return r.takeError();
      }
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return doomed;
  });
}

Result<std::optional<std::string>> SqlStore::resolveTag(RepositoryId repository,
                                                        std::string_view tag) {
  auto c = lease();
  if (!c) return c.takeError();
  return tagDigest(**c, repository, tag);
}

Result<bool> SqlStore::deleteTag(RepositoryId repository, std::string_view tag,
                                 const Actor& actor) {
  return db_->freeing([&]() -> Result<bool> {
    auto c = writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    if (auto r = refuseTagDelete(**c, repository, tag); !r) return r.takeError();
    auto digest = tagDigest(**c, repository, tag);
    if (!digest) return digest.takeError();
    if (!*digest) return false;
    auto recorded =
        recordTagChange(**c, repository, tag, "deleted", **digest, "", actor, nowSeconds());
    if (!recorded) return recorded.takeError();
    if (auto r = recordEvent(**c, repository, "delete", **digest, tag, actor); !r) {
      return r.takeError();
    }
    auto s = (*c)->prepare("DELETE FROM tags WHERE repository_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, tag);
    if (auto r = run(**c, **s); !r) return r.takeError();
    const bool existed = (*c)->changes() > 0;
    if (auto r = tx.commit(); !r) return r.takeError();
    return existed;
  });
}

Result<bool> SqlStore::pointTag(RepositoryId repository, std::string_view tag,
                                std::string_view digest, std::string_view action,
                                const Actor& actor) {
  auto c = writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  RegistryId registry = 0;
  {
    auto s =
        (*c)->prepare("SELECT registry_id FROM manifests WHERE repository_id = ? AND digest = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, digest);
    const int rc = (*s)->step();
    if (rc == sql::kDone) return false;
    if (rc != sql::kRow) return (*c)->fail("select manifest");
    registry = (*s)->integer(0);
  }
  auto pointed = pointTagIn(**c, registry, repository, tag, digest, action, actor, nowSeconds());
  if (!pointed) return pointed.takeError();
  if (auto r = recordEvent(**c, repository, "push", digest, tag, actor); !r) return r.takeError();
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

Result<bool> SqlStore::restoreManifest(RepositoryId repository, std::string_view digest,
                                       const std::vector<std::string>& tags, const Actor& actor) {
  auto c = writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  RegistryId registry = 0;
  std::vector<std::string> former;
  {
    auto s = (*c)->prepare(
        "SELECT registry_id, tags FROM deleted_manifests WHERE repository_id = ? AND digest = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, digest);
    const int rc = (*s)->step();
    if (rc == sql::kDone) return false;
    if (rc != sql::kRow) return (*c)->fail("select deleted manifest");
    registry = (*s)->integer(0);
    const auto text = (*s)->text(1);
    for (size_t at = 0; at < text.size();) {
      const auto end = std::min(text.find('\n', at), text.size());
      former.push_back(text.substr(at, end - at));
      at = end + 1;
    }
  }
  static constexpr const char* kRestore[] = {
      "INSERT INTO manifests(repository_id, digest, registry_id, media_type, "
      "artifact_type, size, payload, subject, annotations, created) SELECT repository_id, "
      "digest, registry_id, media_type, artifact_type, size, payload, subject, annotations, "
      "created FROM deleted_manifests WHERE repository_id = ?1 AND digest = ?2 ON CONFLICT DO "
      "NOTHING",
      "DELETE FROM deleted_manifests WHERE repository_id = ?1 AND digest = ?2",
  };
  for (const char* sql : kRestore) {
    auto s = (*c)->prepare(sql);
    if (!s) return s.takeError();
    (*s)->bind(1, repository).bind(2, digest);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  const auto now = nowSeconds();
  bool tagged = false;
  for (const auto& tag : tags.empty() ? former : tags) {
    if (tags.empty()) {
      // A former tag that points elsewhere now stays there.
      auto s = (*c)->prepare("SELECT 1 FROM tags WHERE repository_id = ? AND name = ?");
      if (!s) return s.takeError();
      (*s)->bind(1, repository).bind(2, tag);
      if ((*s)->step() == sql::kRow) continue;
    }
    auto r = pointTagIn(**c, registry, repository, tag, digest, "restored", actor, now);
    if (!r) return r.takeError();
    if (auto e = recordEvent(**c, repository, "push", digest, tag, actor); !e) {
      return e.takeError();
    }
    tagged = true;
  }
  if (!tagged) {
    if (auto e = recordEvent(**c, repository, "push", digest, "", actor); !e) return e.takeError();
  }
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

Result<std::vector<DeletedManifest>> SqlStore::deletedManifests(RepositoryId repository) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT d.digest, d.media_type, d.artifact_type, d.size, d.tags, d.created, d.deleted, "
      "d.deleted_by, r.name FROM deleted_manifests d JOIN repositories r ON "
      "r.id = d.repository_id WHERE d.repository_id = ? ORDER BY d.deleted DESC, d.digest");
  if (!s) return s.takeError();
  (*s)->bind(1, repository);
  std::vector<DeletedManifest> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select deleted manifests");
    DeletedManifest d;
    d.digest = (*s)->text(0);
    d.mediaType = (*s)->text(1);
    d.artifactType = (*s)->text(2);
    d.size = static_cast<uint64_t>((*s)->integer(3));
    const auto tags = (*s)->text(4);
    for (size_t at = 0; at < tags.size();) {
      const auto end = std::min(tags.find('\n', at), tags.size());
      d.tags.push_back(tags.substr(at, end - at));
      at = end + 1;
    }
    d.created = (*s)->integer(5);
    d.deleted = (*s)->integer(6);
    d.deletedBy = (*s)->text(7);
    d.repository = (*s)->text(8);
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<std::pair<std::string, uint64_t>>> SqlStore::repositoriesWithDeleted(
    RegistryId registry) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT r.name, COUNT(*) FROM deleted_manifests d JOIN repositories r ON "
      "r.id = d.repository_id WHERE d.registry_id = ? GROUP BY r.name ORDER BY r.name");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select deleted manifests");
    out.emplace_back((*s)->text(0), static_cast<uint64_t>((*s)->integer(1)));
  }
  return out;
}

Result<uint64_t> SqlStore::expireDeletedManifests(RegistryId registry, int64_t before) {
  return db_->freeing([&]() -> Result<uint64_t> {
    auto c = writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    static constexpr const char* kExpire[] = {
        // Their blobs' grace period starts now, as when a manifest is deleted for good.
        "UPDATE repository_blobs SET touched = ?3 WHERE (repository_id, digest) IN (SELECT "
        "r.repository_id, r.ref_digest FROM manifest_refs r JOIN deleted_manifests d ON "
        "d.repository_id = r.repository_id AND d.digest = r.manifest_digest WHERE "
        "d.registry_id = ?1 AND d.deleted < ?2 AND r.is_manifest = 0)",
        "DELETE FROM manifest_refs WHERE (repository_id, manifest_digest) IN (SELECT "
        "repository_id, digest FROM deleted_manifests WHERE registry_id = ?1 AND deleted < ?2) "
        "AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = "
        "manifest_refs.repository_id AND m.digest = manifest_refs.manifest_digest)",
        "DELETE FROM deleted_manifests WHERE registry_id = ?1 AND deleted < ?2",
    };
    uint64_t expired = 0;
    for (const char* sql : kExpire) {
      auto s = (*c)->prepare(sql);
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, before);
      if (sql == kExpire[0]) (*s)->bind(3, nowSeconds());
      if (auto r = run(**c, **s); !r) return r.takeError();
      if (sql == kExpire[2]) expired = static_cast<uint64_t>((*c)->changes());
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return expired;
  });
}

Result<Page> SqlStore::listTags(RepositoryId repository, std::string_view after, size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, after).bind(3, static_cast<int64_t>(limit) + 1);
  return readPage(**c, **s, limit);
}

Result<std::vector<ManifestRecord>> SqlStore::referrers(RepositoryId repository,
                                                        std::string_view subject) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT digest, media_type, artifact_type, size, annotations, created FROM manifests "
      "WHERE repository_id = ? AND subject = ? AND subject <> '' ORDER BY digest");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, subject);
  std::vector<ManifestRecord> out;
  for (;;) {
    const int rc = (*s)->step();
    if (rc == sql::kDone) break;
    if (rc != sql::kRow) return (*c)->fail("select referrers");
    ManifestRecord m;
    m.digest = (*s)->text(0);
    m.mediaType = (*s)->text(1);
    m.artifactType = (*s)->text(2);
    m.size = static_cast<uint64_t>((*s)->integer(3));
    m.annotations = (*s)->text(4);
    m.created = (*s)->integer(5);
    m.subject = std::string(subject);
    out.push_back(std::move(m));
  }
  return out;
}

Result<void> SqlStore::createUpload(const UploadRecord& u) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "INSERT INTO uploads(uuid, registry_id, repository, created) VALUES(?, ?, ?, ?)");
  if (!s) return s.takeError();
  (*s)->bind(1, u.uuid).bind(2, u.registry).bind(3, u.repository).bind(4, nowSeconds());
  return run(**c, **s);
}

Result<std::optional<UploadRecord>> SqlStore::getUpload(std::string_view uuid) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("SELECT registry_id, repository, created FROM uploads WHERE uuid = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, uuid);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return std::optional<UploadRecord>();
  if (rc != sql::kRow) return (*c)->fail("select upload");
  UploadRecord u;
  u.uuid = std::string(uuid);
  u.registry = (*s)->integer(0);
  u.repository = (*s)->text(1);
  u.created = (*s)->integer(2);
  return std::optional<UploadRecord>(std::move(u));
}

Result<std::vector<UploadRecord>> SqlStore::uploadsBefore(RegistryId registry, int64_t before,
                                                          size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT uuid, repository, created FROM uploads WHERE registry_id = ? AND created < ? "
      "ORDER BY created LIMIT ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, before).bind(3, static_cast<int64_t>(limit));
  std::vector<UploadRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select uploads");
    out.push_back(UploadRecord{(*s)->text(0), registry, (*s)->text(1), (*s)->integer(2)});
  }
  return out;
}

Result<void> SqlStore::deleteUpload(std::string_view uuid) {
  return db_->freeing([&]() -> Result<void> {
    auto c = writer();
    if (!c) return c.takeError();
    return deleteUploadRecord(**c, uuid);
  });
}

}  // namespace berth::meta
