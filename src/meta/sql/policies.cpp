// Lifecycle policies (retention, soft delete) and purge schedules.
#include "meta/sql/store_impl.hpp"

namespace berth::meta {

using sql::nowSeconds;
using sql::run;
using sql::Stmt;

namespace {

Policies readPolicies(Stmt& s, int col) {
  Policies p;
  p.retention = {s.integer(col) != 0, static_cast<uint32_t>(s.integer(col + 1)),
                 s.integer(col + 2)};
  p.softDelete = {s.integer(col + 3) != 0, static_cast<uint32_t>(s.integer(col + 4)),
                  s.integer(col + 5)};
  return p;
}

// Filters are stored one per line: neither a repository nor a tag pattern holds a newline.
std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const auto end = text.find('\n', start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

PurgeSchedule readSchedule(Stmt& s) {
  PurgeSchedule p;
  p.id = s.integer(0);
  p.registry = s.integer(1);
  p.cron = s.text(2);
  p.filters = splitLines(s.text(3));
  p.agoSeconds = s.integer(4);
  p.untagged = s.integer(5) != 0;
  p.keep = static_cast<uint32_t>(s.integer(6));
  p.created = s.integer(7);
  p.nextRun = s.integer(8);
  p.lastRun = s.integer(9);
  p.lastResult = s.text(10);
  return p;
}

}  // namespace

Result<Policies> SqlStore::policies(RegistryId registry) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT retention_enabled, retention_days, retention_updated, soft_delete_enabled, "
      "soft_delete_days, soft_delete_updated FROM registry_policies WHERE registry_id = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return Policies{};
  if (rc != sql::kRow) return (*c)->fail("select policies");
  return readPolicies(**s, 0);
}

Result<void> SqlStore::setPolicies(RegistryId registry, const Policies& p) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "INSERT INTO registry_policies(registry_id, retention_enabled, retention_days, "
      "retention_updated, soft_delete_enabled, soft_delete_days, soft_delete_updated) "
      "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(registry_id) DO UPDATE SET "
      "retention_enabled = excluded.retention_enabled, retention_days = excluded.retention_days, "
      "retention_updated = excluded.retention_updated, "
      "soft_delete_enabled = excluded.soft_delete_enabled, "
      "soft_delete_days = excluded.soft_delete_days, "
      "soft_delete_updated = excluded.soft_delete_updated");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, int64_t{p.retention.enabled});
  (*s)->bind(3, int64_t{p.retention.days}).bind(4, p.retention.updated);
  (*s)->bind(5, int64_t{p.softDelete.enabled}).bind(6, int64_t{p.softDelete.days});
  (*s)->bind(7, p.softDelete.updated);
  return run(**c, **s);
}

Result<std::vector<std::pair<RegistryId, Policies>>> SqlStore::retainingRegistries() {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT registry_id, retention_enabled, retention_days, retention_updated, "
      "soft_delete_enabled, soft_delete_days, soft_delete_updated FROM registry_policies "
      "WHERE retention_enabled = 1 ORDER BY registry_id");
  if (!s) return s.takeError();
  std::vector<std::pair<RegistryId, Policies>> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select policies");
    out.emplace_back((*s)->integer(0), readPolicies(**s, 1));
  }
  return out;
}

Result<int64_t> SqlStore::createPurgeSchedule(const PurgeSchedule& p) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "INSERT INTO purge_schedules(registry_id, cron, filters, ago_seconds, untagged, keep, "
      "created, next_run) VALUES(?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!s) return s.takeError();
  const auto filters = joinLines(p.filters);
  (*s)->bind(1, p.registry).bind(2, p.cron).bind(3, filters).bind(4, p.agoSeconds);
  (*s)->bind(5, int64_t{p.untagged}).bind(6, int64_t{p.keep}).bind(7, nowSeconds());
  (*s)->bind(8, p.nextRun);
  auto id = sql::insertedId(**c, **s);
  if (!id) return id.takeError();
  if (!*id) return (*c)->fail("insert purge schedule");
  return **id;
}

Result<std::vector<PurgeSchedule>> SqlStore::purgeSchedules(RegistryId registry) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT id, registry_id, cron, filters, ago_seconds, untagged, keep, created, next_run, "
      "last_run, last_result FROM purge_schedules WHERE registry_id = ? ORDER BY id");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  std::vector<PurgeSchedule> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select purge schedules");
    out.push_back(readSchedule(**s));
  }
  return out;
}

Result<bool> SqlStore::deletePurgeSchedule(RegistryId registry, int64_t id) {
  return db_->freeing([&]() -> Result<bool> {
    auto c = writer();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("DELETE FROM purge_schedules WHERE registry_id = ? AND id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, id);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return (*c)->changes() > 0;
  });
}

Result<std::vector<PurgeSchedule>> SqlStore::duePurgeSchedules(int64_t now) {
  auto c = lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT id, registry_id, cron, filters, ago_seconds, untagged, keep, created, next_run, "
      "last_run, last_result FROM purge_schedules WHERE next_run <= ? ORDER BY next_run, id");
  if (!s) return s.takeError();
  (*s)->bind(1, now);
  std::vector<PurgeSchedule> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select purge schedules");
    out.push_back(readSchedule(**s));
  }
  return out;
}

Result<bool> SqlStore::claimPurgeSchedule(int64_t id, int64_t due, int64_t nextRun) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare("UPDATE purge_schedules SET next_run = ? WHERE id = ? AND next_run = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, nextRun).bind(2, id).bind(3, due);
  if (auto r = run(**c, **s); !r) return r.takeError();
  return (*c)->changes() > 0;
}

Result<void> SqlStore::recordPurgeRun(int64_t id, int64_t ran, int64_t nextRun,
                                      std::string_view result) {
  auto c = writer();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "UPDATE purge_schedules SET last_run = ?, next_run = ?, last_result = ? WHERE id = ?");
  if (!s) return s.takeError();
  (*s)->bind(1, ran).bind(2, nextRun).bind(3, result).bind(4, id);
  return run(**c, **s);
}

}  // namespace berth::meta
