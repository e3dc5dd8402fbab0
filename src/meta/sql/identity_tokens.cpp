// The IdentityStore: scope maps and the tokens that use them.
#include "meta/sql/identity_store_impl.hpp"

namespace berth::meta {
namespace {

// The rowid that `sql` selects for (registry, name); empty when there is no such row.
Result<std::optional<int64_t>> rowIdOf(Connection& c, const char* sql, RegistryId registry,
                                       std::string_view name) {
  auto s = c.prepare(sql);
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  const int rc = (*s)->step();
  if (rc == sql::kDone) return std::optional<int64_t>();
  if (rc != sql::kRow) return c.fail("select id");
  return std::optional<int64_t>((*s)->integer(0));
}

Result<void> insertRules(Connection& c, int64_t mapId, RegistryId registry,
                         const std::vector<ScopeRule>& rules) {
  for (const auto& rule : rules) {
    // Two rules for one pattern grant the union of their actions.
    auto s = c.prepare(
        "INSERT INTO scope_map_rules(scope_map_id, registry_id, pattern, actions) "
        "VALUES(?, ?, ?, ?) ON CONFLICT(scope_map_id, pattern) DO UPDATE SET "
        "actions = scope_map_rules.actions | excluded.actions");
    if (!s) return s.takeError();
    (*s)->bind(1, mapId).bind(2, registry).bind(3, rule.pattern).bind(4, int64_t{rule.actions});
    if (auto r = run(c, **s); !r) return r;
  }
  return {};
}

// A left-joined rule row (pattern, actions from column `col` on) added to `map`; a map
// without rules joins to one row of NULLs.
void addRule(Stmt& s, int col, ScopeMapRecord& map) {
  if (s.isNull(col)) return;
  map.rules.push_back({s.text(col), static_cast<uint8_t>(s.integer(col + 1))});
}

// A left-joined secret row (name, hash, expiry, created from column `col` on) added to
// `token`; a token without secrets joins to one row of NULLs.
void addSecret(Stmt& s, int col, TokenRecord& token) {
  if (s.isNull(col)) return;
  StoredSecret secret{s.text(col), s.text(col + 1), std::nullopt, s.integer(col + 3)};
  if (!s.isNull(col + 2)) secret.expiry = s.integer(col + 2);
  token.secrets.push_back(std::move(secret));
}

// A secret keeps the creation time its caller gives it, or is stamped now.
Result<void> upsertSecret(Connection& c, int64_t tokenId, RegistryId registry,
                          const StoredSecret& secret) {
  auto s = c.prepare(
      "INSERT INTO token_passwords(token_id, registry_id, name, hash, expiry, created) "
      "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(token_id, name) DO UPDATE SET "
      "hash = excluded.hash, expiry = excluded.expiry, created = excluded.created");
  if (!s) return s.takeError();
  (*s)->bind(1, tokenId).bind(2, registry).bind(3, secret.name).bind(4, secret.hash);
  if (secret.expiry) (*s)->bind(5, *secret.expiry);
  (*s)->bind(6, secret.created != 0 ? secret.created : nowSeconds());
  return run(c, **s);
}

}  // namespace

// Scope maps.

Result<void> SqlIdentityStore::createScopeMap(RegistryId registry, const ScopeMapRecord& map) {
  return changed(insertScopeMap(registry, map));
}

Result<void> SqlIdentityStore::insertScopeMap(RegistryId registry, const ScopeMapRecord& map) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r;
  int64_t id = 0;
  {
    auto s = (*c)->prepare(
        "INSERT INTO scope_maps(registry_id, name, description, created) VALUES(?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING RETURNING id");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, map.name).bind(3, map.description).bind(4, nowSeconds());
    auto inserted = sql::insertedId(**c, **s);
    if (!inserted) return inserted.takeError();
    if (!*inserted) return conflict("scope map " + map.name + " exists");
    id = **inserted;
  }
  if (auto r = insertRules(**c, id, registry, map.rules); !r) return r;
  return tx.commit();
}

Result<std::optional<ScopeMapRecord>> SqlIdentityStore::scopeMap(RegistryId registry,
                                                                 std::string_view name) {
  return cached(scopeMaps_, std::to_string(registry) + "/" + std::string(name),
                [&] { return loadScopeMap(registry, name); });
}

Result<std::optional<ScopeMapRecord>> SqlIdentityStore::loadScopeMap(RegistryId registry,
                                                                     std::string_view name) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT m.description, m.created, r.pattern, r.actions FROM scope_maps m "
      "LEFT JOIN scope_map_rules r ON r.scope_map_id = m.id "
      "WHERE m.registry_id = ? AND m.name = ? ORDER BY r.pattern");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  std::optional<ScopeMapRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select scope map");
    if (!out) out = ScopeMapRecord{std::string(name), (*s)->text(0), {}, (*s)->integer(1)};
    addRule(**s, 2, *out);
  }
  return out;
}

Result<std::vector<ScopeMapRecord>> SqlIdentityStore::listScopeMaps(RegistryId registry) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT m.name, m.description, m.created, r.pattern, r.actions FROM scope_maps m "
      "LEFT JOIN scope_map_rules r ON r.scope_map_id = m.id "
      "WHERE m.registry_id = ? ORDER BY m.name, r.pattern");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  std::vector<ScopeMapRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select scope maps");
    auto name = (*s)->text(0);
    if (out.empty() || out.back().name != name) {
      out.push_back({std::move(name), (*s)->text(1), {}, (*s)->integer(2)});
    }
    addRule(**s, 3, out.back());
  }
  return out;
}

Result<bool> SqlIdentityStore::updateScopeMap(RegistryId registry, const ScopeMapRecord& map) {
  return changed(writeScopeMap(registry, map));
}

Result<bool> SqlIdentityStore::writeScopeMap(RegistryId registry, const ScopeMapRecord& map) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  auto id = rowIdOf(**c, "SELECT id FROM scope_maps WHERE registry_id = ? AND name = ?", registry,
                    map.name);
  if (!id) return id.takeError();
  if (!*id) return false;
  {
    auto s = (*c)->prepare("UPDATE scope_maps SET description = ? WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, map.description).bind(2, **id);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  {
    auto s = (*c)->prepare("DELETE FROM scope_map_rules WHERE scope_map_id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, **id);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  if (auto r = insertRules(**c, **id, registry, map.rules); !r) return r.takeError();
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

Result<bool> SqlIdentityStore::deleteScopeMap(RegistryId registry, std::string_view name) {
  return changed(db_->freeing([&] { return removeScopeMap(registry, name); }));
}

Result<bool> SqlIdentityStore::removeScopeMap(RegistryId registry, std::string_view name) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  auto id =
      rowIdOf(**c, "SELECT id FROM scope_maps WHERE registry_id = ? AND name = ?", registry, name);
  if (!id) return id.takeError();
  if (!*id) return false;
  {
    auto s = (*c)->prepare(
        "SELECT name FROM tokens WHERE registry_id = ? AND scope_map = ? ORDER BY name LIMIT 1");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    const int rc = (*s)->step();
    if (rc == sql::kRow) {
      return conflict("scope map " + std::string(name) + " is used by token " + (*s)->text(0));
    }
    if (rc != sql::kDone) return (*c)->fail("select tokens of scope map");
  }
  {
    auto s = (*c)->prepare("DELETE FROM scope_map_rules WHERE scope_map_id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, **id);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  {
    auto s = (*c)->prepare("DELETE FROM scope_maps WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, **id);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

// Tokens.

Result<void> SqlIdentityStore::createToken(RegistryId registry, const TokenRecord& token) {
  return changed(insertToken(registry, token));
}

Result<void> SqlIdentityStore::insertToken(RegistryId registry, const TokenRecord& token) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r;
  int64_t id = 0;
  {
    auto s = (*c)->prepare(
        "INSERT INTO tokens(registry_id, name, scope_map, enabled, created) "
        "VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, token.name).bind(3, token.scopeMap);
    (*s)->bind(4, int64_t{token.enabled}).bind(5, nowSeconds());
    auto inserted = sql::insertedId(**c, **s);
    if (!inserted) return inserted.takeError();
    if (!*inserted) return conflict("token " + token.name + " exists");
    id = **inserted;
  }
  for (const auto& secret : token.secrets) {
    if (auto r = upsertSecret(**c, id, registry, secret); !r) return r;
  }
  return tx.commit();
}

Result<std::optional<TokenRecord>> SqlIdentityStore::token(RegistryId registry,
                                                           std::string_view name) {
  return cached(tokens_, std::to_string(registry) + "/" + std::string(name),
                [&] { return loadToken(registry, name); });
}

Result<std::optional<TokenRecord>> SqlIdentityStore::loadToken(RegistryId registry,
                                                               std::string_view name) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT t.scope_map, t.enabled, t.created, p.name, p.hash, p.expiry, p.created "
      "FROM tokens t LEFT JOIN token_passwords p ON p.token_id = t.id "
      "WHERE t.registry_id = ? AND t.name = ? ORDER BY p.name");
  if (!s) return s.takeError();
  (*s)->bind(1, registry).bind(2, name);
  std::optional<TokenRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select token");
    if (!out) {
      out = TokenRecord{
          std::string(name), (*s)->text(0), (*s)->integer(1) != 0, {}, (*s)->integer(2)};
    }
    addSecret(**s, 3, *out);
  }
  return out;
}

Result<std::vector<TokenRecord>> SqlIdentityStore::listTokens(RegistryId registry) {
  auto c = db_->lease();
  if (!c) return c.takeError();
  auto s = (*c)->prepare(
      "SELECT t.name, t.scope_map, t.enabled, t.created, p.name, p.hash, p.expiry, p.created "
      "FROM tokens t LEFT JOIN token_passwords p ON p.token_id = t.id "
      "WHERE t.registry_id = ? ORDER BY t.name, p.name");
  if (!s) return s.takeError();
  (*s)->bind(1, registry);
  std::vector<TokenRecord> out;
  for (int rc; (rc = (*s)->step()) != sql::kDone;) {
    if (rc != sql::kRow) return (*c)->fail("select tokens");
    auto name = (*s)->text(0);
    if (out.empty() || out.back().name != name) {
      out.push_back({std::move(name), (*s)->text(1), (*s)->integer(2) != 0, {}, (*s)->integer(3)});
    }
    addSecret(**s, 4, out.back());
  }
  return out;
}

Result<bool> SqlIdentityStore::setTokenEnabled(RegistryId registry, std::string_view name,
                                               bool enabled) {
  return changed(writeTokenEnabled(registry, name, enabled));
}

Result<bool> SqlIdentityStore::writeTokenEnabled(RegistryId registry, std::string_view name,
                                                 bool enabled) {
  return changeRows(*db_, "UPDATE tokens SET enabled = ? WHERE registry_id = ? AND name = ?",
                    int64_t{enabled}, registry, name);
}

Result<bool> SqlIdentityStore::setTokenScopeMap(RegistryId registry, std::string_view name,
                                                std::string_view scopeMap) {
  return changed(writeTokenScopeMap(registry, name, scopeMap));
}

Result<bool> SqlIdentityStore::writeTokenScopeMap(RegistryId registry, std::string_view name,
                                                  std::string_view scopeMap) {
  return changeRows(*db_, "UPDATE tokens SET scope_map = ? WHERE registry_id = ? AND name = ?",
                    scopeMap, registry, name);
}

Result<bool> SqlIdentityStore::setTokenSecret(RegistryId registry, std::string_view name,
                                              const StoredSecret& secret) {
  return changed(writeTokenSecret(registry, name, secret));
}

Result<bool> SqlIdentityStore::writeTokenSecret(RegistryId registry, std::string_view name,
                                                const StoredSecret& secret) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  auto id =
      rowIdOf(**c, "SELECT id FROM tokens WHERE registry_id = ? AND name = ?", registry, name);
  if (!id) return id.takeError();
  if (!*id) return false;
  if (auto r = upsertSecret(**c, **id, registry, secret); !r) return r.takeError();
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

Result<bool> SqlIdentityStore::deleteTokenSecret(RegistryId registry, std::string_view token,
                                                 std::string_view secretName) {
  return changed(db_->freeing([&] { return removeTokenSecret(registry, token, secretName); }));
}

Result<bool> SqlIdentityStore::removeTokenSecret(RegistryId registry, std::string_view token,
                                                 std::string_view secretName) {
  return changeRows(*db_,
                    "DELETE FROM token_passwords WHERE name = ? AND token_id = "
                    "(SELECT id FROM tokens WHERE registry_id = ? AND name = ?)",
                    secretName, registry, token);
}

Result<bool> SqlIdentityStore::deleteToken(RegistryId registry, std::string_view name) {
  return changed(db_->freeing([&] { return removeToken(registry, name); }));
}

Result<bool> SqlIdentityStore::removeToken(RegistryId registry, std::string_view name) {
  auto c = db_->writer();
  if (!c) return c.takeError();
  Transaction tx(**c);
  if (auto r = tx.begin(); !r) return r.takeError();
  auto id =
      rowIdOf(**c, "SELECT id FROM tokens WHERE registry_id = ? AND name = ?", registry, name);
  if (!id) return id.takeError();
  if (!*id) return false;
  {
    auto s = (*c)->prepare("DELETE FROM token_passwords WHERE token_id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, **id);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  {
    auto s = (*c)->prepare("DELETE FROM tokens WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, **id);
    if (auto r = run(**c, **s); !r) return r.takeError();
  }
  if (auto r = tx.commit(); !r) return r.takeError();
  return true;
}

}  // namespace berth::meta
