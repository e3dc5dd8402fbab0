// The control plane's view of the metadata: repository, tag and manifest details, their
// changeable attributes (locks), repository deletion and usage.
#include <algorithm>
#include <limits>
#include <string>

#include "meta/sql/store_impl.hpp"

namespace berth::meta {

using sql::Connection;
using sql::nowSeconds;
using sql::run;
using sql::Stmt;
using sql::Transaction;

namespace {

Error denied(std::string what) { return explainedError(ApiCode::Denied, std::move(what)); }

std::string inQuotes(std::string_view s) {
  // Appended piece by piece: `"\"" + std::string(s)` trips GCC 12's -Wrestrict at -O3.
  std::string out;
  out.reserve(s.size() + 2);
  out.append(1, '"').append(s).append(1, '"');
  return out;
}

// Runs a one-row query; nullopt when there is no row.
template <class Read>
auto one(Connection& c, Stmt& s, Read read) -> Result<std::optional<decltype(read(s))>> {
  const int rc = s.step();
  if (rc == sql::kDone) return std::optional<decltype(read(s))>();
  if (rc != sql::kRow) return c.fail("select");
  return std::optional<decltype(read(s))>(read(s));
}

Result<void> refuseRepositoryDelete(Connection& c, RepositoryId repository) {
  auto s = c.prepare("SELECT delete_enabled, name FROM repositories WHERE id = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository);
  auto row = one(c, **s, [](Stmt& st) { return std::pair(st.integer(0) != 0, st.text(1)); });
  if (!row) return row.takeError();
  if (*row && !(*row)->first) {
    return denied("repository " + inQuotes((*row)->second) + " is locked (deleteEnabled: false)");
  }
  return {};
}

// The manifest's own lock: either attribute switched off keeps it.
Result<void> refuseLockedManifest(Connection& c, RepositoryId repository, std::string_view digest) {
  auto s = c.prepare(
      "SELECT write_enabled, delete_enabled FROM manifests WHERE repository_id = ? AND digest = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  auto row =
      one(c, **s, [](Stmt& st) { return std::pair(st.integer(0) != 0, st.integer(1) != 0); });
  if (!row) return row.takeError();
  if (*row && !(*row)->first) {
    return denied("manifest " + std::string(digest) + " is locked (writeEnabled: false)");
  }
  if (*row && !(*row)->second) {
    return denied("manifest " + std::string(digest) + " is locked (deleteEnabled: false)");
  }
  return {};
}

Attributes attributesAt(Stmt& s, int col, bool withReadList) {
  Attributes a;
  a.deleteEnabled = s.integer(col) != 0;
  a.writeEnabled = s.integer(col + 1) != 0;
  if (withReadList) {
    a.readEnabled = s.integer(col + 2) != 0;
    a.listEnabled = s.integer(col + 3) != 0;
  }
  return a;
}

// COALESCE(?, column) for each attribute, so that absent fields keep their value.
void bindChange(Stmt& s, const AttributeChange& change, bool withReadList) {
  auto bindOpt = [&](int i, const std::optional<bool>& v) {
    if (v) s.bind(i, int64_t{*v ? 1 : 0});
  };
  bindOpt(1, change.deleteEnabled);
  bindOpt(2, change.writeEnabled);
  if (withReadList) {
    bindOpt(3, change.readEnabled);
    bindOpt(4, change.listEnabled);
  }
}

}  // namespace

Result<void> refuseTagMove(Connection& c, RepositoryId repository, std::string_view tag,
                           std::string_view digest) {
  auto s = c.prepare("SELECT digest, write_enabled FROM tags WHERE repository_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag);
  auto row = one(c, **s, [](Stmt& st) { return std::pair(st.text(0), st.integer(1) != 0); });
  if (!row) return row.takeError();
  if (!*row || (*row)->first == digest) return {};
  if (!(*row)->second) return denied("tag " + inQuotes(tag) + " is locked (writeEnabled: false)");
  return refuseLockedManifest(c, repository, (*row)->first);
}

Result<void> refuseTagDelete(Connection& c, RepositoryId repository, std::string_view tag) {
  if (auto r = refuseRepositoryDelete(c, repository); !r) return r;
  auto s =
      c.prepare("SELECT digest, delete_enabled FROM tags WHERE repository_id = ? AND name = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag);
  auto row = one(c, **s, [](Stmt& st) { return std::pair(st.text(0), st.integer(1) != 0); });
  if (!row) return row.takeError();
  if (!*row) return {};
  if (!(*row)->second) return denied("tag " + inQuotes(tag) + " is locked (deleteEnabled: false)");
  return refuseLockedManifest(c, repository, (*row)->first);
}

Result<void> recordTagChange(Connection& c, RepositoryId repository, std::string_view tag,
                             std::string_view action, std::string_view oldDigest,
                             std::string_view newDigest, const Actor& actor, int64_t now) {
  auto s = c.prepare(
      "INSERT INTO tag_history(registry_id, repository, tag, action, old_digest, new_digest, "
      "identity, source, time) SELECT registry_id, name, ?2, ?3, ?4, ?5, ?6, ?7, ?8 "
      "FROM repositories WHERE id = ?1");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag).bind(3, action).bind(4, oldDigest).bind(5, newDigest);
  (*s)->bind(6, actor.identity).bind(7, actor.source).bind(8, now);
  return run(c, **s);
}

Result<void> recordTagDeletions(Connection& c, RepositoryId repository,
                                std::optional<std::string_view> digest, const Actor& actor,
                                int64_t now) {
  auto s = c.prepare(
      digest ? "INSERT INTO tag_history(registry_id, repository, tag, action, old_digest, "
               "new_digest, identity, source, time) SELECT r.registry_id, r.name, t.name, "
               "'deleted', t.digest, '', ?3, ?4, ?5 FROM tags t JOIN repositories r ON "
               "r.id = t.repository_id WHERE t.repository_id = ?1 AND t.digest = ?2"
             : "INSERT INTO tag_history(registry_id, repository, tag, action, old_digest, "
               "new_digest, identity, source, time) SELECT r.registry_id, r.name, t.name, "
               "'deleted', t.digest, '', ?3, ?4, ?5 FROM tags t JOIN repositories r ON "
               "r.id = t.repository_id WHERE t.repository_id = ?1");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(3, actor.identity).bind(4, actor.source).bind(5, now);
  if (digest) (*s)->bind(2, *digest);
  return run(c, **s);
}

Result<std::vector<TagEvent>> SqlStore::tagHistory(RegistryId registry, std::string_view repository,
                                                   std::string_view tag, int64_t beforeId,
                                                   size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT id, action, old_digest, new_digest, identity, source, time FROM tag_history "
      "WHERE registry_id = ? AND repository = ? AND tag = ? AND id < ? ORDER BY id DESC LIMIT ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, repository).bind(3, tag);
  (*s)->bind(4, beforeId > 0 ? beforeId : std::numeric_limits<int64_t>::max());
  (*s)->bind(5, static_cast<int64_t>(limit));
  std::vector<TagEvent> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select tag history");
    TagEvent e;
    e.id = (*s)->integer(0);
    e.tag = std::string(tag);
    e.action = (*s)->text(1);
    e.oldDigest = (*s)->text(2);
    e.newDigest = (*s)->text(3);
    e.identity = (*s)->text(4);
    e.source = (*s)->text(5);
    e.time = (*s)->integer(6);
    out.push_back(std::move(e));
  }
  return out;
}

Result<uint64_t> SqlStore::pruneTagHistory(int64_t before) {
  return db_->freeing([&]() -> Result<uint64_t> {
    auto c = writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("DELETE FROM tag_history WHERE time < ?");
    if (!s) return s.takeError();
    (*s)->bind(1, before);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return static_cast<uint64_t>((*c)->changes());
  });
}

Result<void> refuseManifestDelete(Connection& c, RepositoryId repository, std::string_view digest) {
  if (auto r = refuseRepositoryDelete(c, repository); !r) return r;
  if (auto r = refuseLockedManifest(c, repository, digest); !r) return r;
  auto s = c.prepare(
      "SELECT name FROM tags WHERE repository_id = ? AND digest = ? AND delete_enabled = 0 "
      "LIMIT 1");
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  auto row = one(c, **s, [](Stmt& st) { return st.text(0); });
  if (!row) return row.takeError();
  if (*row) return denied("tag " + inQuotes(**row) + " is locked (deleteEnabled: false)");
  return {};
}

namespace {

// Repository rows with their counts: id, name, created, updated, the four attributes, the
// number of manifests and of tags.
constexpr const char* kRepositoryColumns =
    "SELECT r.id, r.name, r.created, r.updated, r.delete_enabled, r.write_enabled, "
    "r.read_enabled, r.list_enabled, "
    "(SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id), "
    "(SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id) "
    "FROM repositories r WHERE r.registry_id = ?";

RepositoryInfo readRepository(Stmt& s) {
  RepositoryInfo info;
  info.id = s.integer(0);
  info.name = s.text(1);
  info.created = s.integer(2);
  info.updated = s.integer(3);
  info.attributes = attributesAt(s, 4, true);
  info.manifestCount = static_cast<uint64_t>(s.integer(8));
  info.tagCount = static_cast<uint64_t>(s.integer(9));
  return info;
}

}  // namespace

Result<std::optional<RepositoryInfo>> SqlStore::repository(RegistryId registry,
                                                           std::string_view name) {
  auto c = lease();
  if (!c) return c.takeError();
  static const std::string sql = std::string(kRepositoryColumns) + " AND r.name = ?";
  auto s = (*c)->prepare(sql.c_str());
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  return one(**c, **s, readRepository);
}

Result<std::vector<RepositoryInfo>> SqlStore::repositoriesByTime(RegistryId registry,
                                                                 bool newestFirst, size_t limit) {
  auto c = lease();
  if (!c) return c.takeError();
  static const std::string newest =
      std::string(kRepositoryColumns) +
      " AND r.list_enabled = 1 ORDER BY r.updated DESC, r.name LIMIT ?";
  static const std::string oldest = std::string(kRepositoryColumns) +
                                    " AND r.list_enabled = 1 ORDER BY r.updated, r.name LIMIT ?";
  auto s = (*c)->prepare(newestFirst ? newest.c_str() : oldest.c_str());
  if (!s) return s.takeError();
  const auto bounded = std::min<size_t>(limit, std::numeric_limits<int64_t>::max());
  (*s)->bind(1, registry).bind(2, static_cast<int64_t>(bounded));
  std::vector<RepositoryInfo> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select repositories");
    out.push_back(readRepository(**s));
  }
  return out;
}

Result<bool> SqlStore::updateRepository(RepositoryId repository, const AttributeChange& change) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "UPDATE repositories SET delete_enabled = COALESCE(?1, delete_enabled), "
      "write_enabled = COALESCE(?2, write_enabled), read_enabled = COALESCE(?3, read_enabled), "
      "list_enabled = COALESCE(?4, list_enabled), updated = ?5 WHERE id = ?6");
  if (!s) return s.takeError();
  bindChange(**s, change, true);
  (*s)->bind(5, nowSeconds()).bind(6, repository);
  return changeOf(**c, **s, repository);
}

Result<RepositoryDeletion> SqlStore::deleteRepository(RepositoryId repository, const Actor& actor) {
  return db_->freeing([&]() -> Result<RepositoryDeletion> {
    auto c = writer();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r.takeError();
    if (auto r = refuseRepositoryDelete(**c, repository); !r) return r.takeError();
    RepositoryDeletion deleted;
    {
      auto s = (*c)->prepare(
          "SELECT digest FROM manifests WHERE repository_id = ? AND "
          "(write_enabled = 0 OR delete_enabled = 0) LIMIT 1");
      if (!s) return s.takeError();
      (*s)->bind(1, repository);
      auto locked = one(**c, **s, [](Stmt& st) { return st.text(0); });
      if (!locked) return locked.takeError();
      if (*locked) return denied("manifest " + **locked + " is locked");
    }
    {
      auto s = (*c)->prepare(
          "SELECT name FROM tags WHERE repository_id = ? AND delete_enabled = 0 LIMIT 1");
      if (!s) return s.takeError();
      (*s)->bind(1, repository);
      auto locked = one(**c, **s, [](Stmt& st) { return st.text(0); });
      if (!locked) return locked.takeError();
      if (*locked) return denied("tag " + inQuotes(**locked) + " is locked (deleteEnabled: false)");
    }
    auto collect = [&](const char* sql, std::vector<std::string>& out) -> Result<void> {
      auto s = (*c)->prepare(sql);
      if (!s) return s.takeError();
      (*s)->bind(1, repository);
      for (int rc; (rc = (*s)->step()) != sql::kDone;) {
        if (rc != sql::kRow) return (*c)->fail("select");
        out.push_back((*s)->text(0));
      }
      return {};
    };
    if (auto r = collect("SELECT digest FROM manifests WHERE repository_id = ? ORDER BY digest",
                         deleted.manifests);
        !r)
      return r.takeError();
    if (auto r =
            collect("SELECT name FROM tags WHERE repository_id = ? ORDER BY name", deleted.tags);
        !r)
      return r.takeError();
    if (auto r = recordTagDeletions(**c, repository, std::nullopt, actor, nowSeconds()); !r) {
      return r.takeError();
    }
    for (const auto& digest : deleted.manifests) {
      if (auto r = recordEvent(**c, repository, "delete", digest, "", actor); !r) {
        return r.takeError();
      }
    }
    if (auto r = repositoryChanged(**c, repository); !r) return r.takeError();
    static constexpr const char* kDeletes[] = {
        "DELETE FROM tags WHERE repository_id = ?",
        "DELETE FROM manifest_refs WHERE repository_id = ?",
        "DELETE FROM manifests WHERE repository_id = ?",
        "DELETE FROM repository_blobs WHERE repository_id = ?",
        "DELETE FROM deleted_manifests WHERE repository_id = ?",
        "DELETE FROM repositories WHERE id = ?",
    };
    for (const char* sql : kDeletes) {
      auto s = (*c)->prepare(sql);
      if (!s) return s.takeError();
      (*s)->bind(1, repository);
      if (auto r = run(**c, **s); !r) return r.takeError();
    }
    if (auto r = tx.commit(); !r) return r.takeError();
    return deleted;
  });
}

Result<Usage> SqlStore::usage(RegistryId registry) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT used_bytes, (SELECT COUNT(*) FROM repositories WHERE registry_id = ?1) "
      "FROM registries WHERE id = ?1");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  auto row = one(**c, **s, [](Stmt& st) {
    return Usage{static_cast<uint64_t>(st.integer(0)), static_cast<uint64_t>(st.integer(1))};
  });
  if (!row) return row.takeError();
  if (!*row) return makeError(ApiCode::NameUnknown, "no such registry");
  return **row;
}

namespace {

// Tag rows: name, digest, created, updated, delete_enabled, write_enabled, and the size of the
// manifest with the blobs it references directly.
constexpr const char* kTagColumns =
    "SELECT t.name, t.digest, t.created, t.updated, t.delete_enabled, t.write_enabled, "
    "COALESCE(m.size, 0) + COALESCE((SELECT SUM(b.size) FROM manifest_refs r JOIN "
    "repository_blobs b ON b.repository_id = r.repository_id AND b.digest = r.ref_digest "
    "WHERE r.repository_id = t.repository_id AND r.manifest_digest = t.digest AND "
    "r.is_manifest = 0), 0) "
    "FROM tags t LEFT JOIN manifests m ON m.repository_id = t.repository_id AND "
    "m.digest = t.digest WHERE t.repository_id = ?";

TagInfo readTag(Stmt& s) {
  TagInfo t;
  t.name = s.text(0);
  t.digest = s.text(1);
  t.created = s.integer(2);
  t.updated = s.integer(3);
  if (t.created == 0) t.created = t.updated;  // tags written before `created` was recorded
  t.attributes = attributesAt(s, 4, false);
  t.size = static_cast<uint64_t>(s.integer(6));
  return t;
}

}  // namespace

Result<std::vector<TagInfo>> SqlStore::tagInfos(RepositoryId repository) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(kTagColumns);
  if (!s) return s.takeError();
  (*s)->bind(1, repository);
  std::vector<TagInfo> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select tags");
    out.push_back(readTag(**s));
  }
  return out;
}

Result<std::optional<TagInfo>> SqlStore::tagInfo(RepositoryId repository, std::string_view tag) {
  auto c = lease();
  if (!c) return c.takeError();
  static const std::string sql = std::string(kTagColumns) + " AND t.name = ?";
  auto s = (*c)->prepare(sql.c_str());
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, tag);
  return one(**c, **s, readTag);
}

Result<bool> SqlStore::updateTag(RepositoryId repository, std::string_view tag,
                                 const AttributeChange& change) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "UPDATE tags SET delete_enabled = COALESCE(?1, delete_enabled), "
      "write_enabled = COALESCE(?2, write_enabled) WHERE repository_id = ?3 AND name = ?4");
  if (!s) return s.takeError();
  bindChange(**s, change, false);
  (*s)->bind(3, repository).bind(4, tag);
  return changeOf(**c, **s, repository);
}

namespace {

constexpr const char* kManifestColumns =
    "SELECT digest, media_type, artifact_type, size, payload, subject, annotations, created, "
    "delete_enabled, write_enabled FROM manifests WHERE repository_id = ?";

ManifestInfo readManifest(Stmt& s) {
  ManifestInfo info;
  auto& m = info.manifest;
  m.digest = s.text(0);
  m.mediaType = s.text(1);
  m.artifactType = s.text(2);
  m.size = static_cast<uint64_t>(s.integer(3));
  m.payload = s.text(4);
  m.subject = s.text(5);
  m.annotations = s.text(6);
  m.created = s.integer(7);
  info.attributes = attributesAt(s, 8, false);
  return info;
}

// Fills in the tags of each manifest.
Result<void> addTags(Connection& c, RepositoryId repository, std::vector<ManifestInfo>& manifests) {
  auto s = c.prepare("SELECT digest, name FROM tags WHERE repository_id = ? ORDER BY name");
  if (!s) return s.takeError();
  (*s)->bind(1, repository);
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return c.fail("select tags");
    const auto digest = (*s)->text(0);
    for (auto& m : manifests) {
      if (m.manifest.digest == digest) m.tags.push_back((*s)->text(1));
    }
  }
  return {};
}

}  // namespace

Result<std::vector<ManifestInfo>> SqlStore::manifestInfos(RepositoryId repository) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(kManifestColumns);
  if (!s) return s.takeError();
  (*s)->bind(1, repository);
  std::vector<ManifestInfo> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select manifests");
    out.push_back(readManifest(**s));
  }
  if (auto r = addTags(**c, repository, out); !r) return r.takeError();
  return out;
}

Result<std::optional<ManifestInfo>> SqlStore::manifestInfo(RepositoryId repository,
                                                           std::string_view digest) {
  auto c = lease();
  if (!c) return c.takeError();
  static const std::string sql = std::string(kManifestColumns) + " AND digest = ?";
  auto s = (*c)->prepare(sql.c_str());
  if (!s) return s.takeError();
  (*s)->bind(1, repository).bind(2, digest);
  auto found = one(**c, **s, readManifest);
  if (!found || !*found) return found;
  std::vector<ManifestInfo> one{std::move(**found)};
  if (auto r = addTags(**c, repository, one); !r) return r.takeError();
  return std::optional<ManifestInfo>(std::move(one.front()));
}

Result<bool> SqlStore::updateManifest(RepositoryId repository, std::string_view digest,
                                      const AttributeChange& change) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "UPDATE manifests SET delete_enabled = COALESCE(?1, delete_enabled), "
      "write_enabled = COALESCE(?2, write_enabled) WHERE repository_id = ?3 AND digest = ?4");
  if (!s) return s.takeError();
  bindChange(**s, change, false);
  (*s)->bind(3, repository).bind(4, digest);
  return changeOf(**c, **s, repository);
}

}  // namespace berth::meta
