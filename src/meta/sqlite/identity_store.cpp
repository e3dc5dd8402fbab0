#include "meta/sqlite/identity_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>

#include "core/unique_fd.hpp"
#include "meta/sqlite/database.hpp"

namespace berth::meta {
namespace {

using sqlite::Database;
using sqlite::nowSeconds;
using sqlite::run;
using sqlite::Transaction;

Error conflict(std::string detail) { return makeError(ApiCode::Conflict, std::move(detail)); }

// Identities are read on every request and change rarely, often from another process
// (`berth admin`). Reads are cached; every write appends a byte to "<db>-identity", and a
// reader whose stat(2) of that file differs from the cache's drops the cache. One stat per
// read replaces a query and SQLite's file locking, and a change still counts from the next
// request on.
class GenerationFile {
 public:
  explicit GenerationFile(std::filesystem::path path) : path_(std::move(path)) {}
  uint64_t read() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_size) * 1000003u ^
           static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000u ^
           static_cast<uint64_t>(st.st_mtim.tv_nsec);
  }
  void bump() const {
    UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (fd) [[maybe_unused]]
      auto n = ::write(fd.get(), "+", 1);
  }

 private:
  std::filesystem::path path_;
};

class SqliteIdentityStore final : public IdentityStore {
 public:
  SqliteIdentityStore(std::shared_ptr<Database> db, std::filesystem::path generation)
      : db_(std::move(db)), generation_(std::move(generation)) {}

  Result<std::optional<RegistrySettings>> registrySettings(RegistryId registry) override {
    return cached(settings_, std::to_string(registry), [&] { return loadSettings(registry); });
  }
  Result<std::vector<StoredSecret>> loadAdminSecrets(RegistryId registry) {
    return cached(adminSecrets_, std::to_string(registry),
                  [&] { return loadAdminSecrets(registry); });
  }
  Result<std::optional<ScopeMapRecord>> scopeMap(RegistryId registry,
                                                 std::string_view name) override {
    return cached(scopeMaps_, std::to_string(registry) + "/" + std::string(name),
                  [&] { return loadScopeMap(registry, name); });
  }
  Result<std::optional<TokenRecord>> token(RegistryId registry, std::string_view name) override {
    return cached(tokens_, std::to_string(registry) + "/" + std::string(name),
                  [&] { return loadToken(registry, name); });
  }

 private:
  template <class T, class Load>
  Result<T> cached(std::unordered_map<std::string, T>& map, const std::string& key, Load load) {
    const uint64_t generation = generation_.read();
    {
      std::lock_guard lock(cacheMutex_);
      if (generation != cachedGeneration_) {
        settings_.clear();
        adminSecrets_.clear();
        scopeMaps_.clear();
        tokens_.clear();
        cachedGeneration_ = generation;
      }
      if (auto it = map.find(key); it != map.end()) return it->second;
    }
    Result<T> loaded = load();
    if (!loaded) return loaded;
    std::lock_guard lock(cacheMutex_);
    // Bounded: a burst of unknown names must not grow the cache without end.
    if (map.size() > 10000) map.clear();
    if (generation == cachedGeneration_) map.emplace(key, *loaded);
    return loaded;
  }
  template <class R>
  R changed(R result) {
    if (result) generation_.bump();
    return result;
  }

 public:
  Result<std::optional<RegistrySettings>> loadSettings(RegistryId registry) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s =
        (*c)->prepare("SELECT name, admin_enabled, anonymous_pull FROM registries WHERE id = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, registry);
    const int rc = (*s)->step();
    if (rc == SQLITE_DONE) return std::optional<RegistrySettings>();
    if (rc != SQLITE_ROW) return (*c)->fail("select registry");
    return std::optional<RegistrySettings>(
        RegistrySettings{registry, (*s)->text(0), (*s)->integer(1) != 0, (*s)->integer(2) != 0});
  }

  Result<void> updateRegistrySettings(RegistryId registry, std::optional<bool> adminEnabled,
                                      std::optional<bool> anonymousPull) override {
    return changed(writeRegistrySettings(registry, adminEnabled, anonymousPull));
  }
  Result<void> writeRegistrySettings(RegistryId registry, std::optional<bool> adminEnabled,
                                     std::optional<bool> anonymousPull) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "UPDATE registries SET admin_enabled = COALESCE(?, admin_enabled), "
        "anonymous_pull = COALESCE(?, anonymous_pull) WHERE id = ?");
    if (!s) return s.takeError();
    if (adminEnabled) (*s)->bind(1, int64_t{*adminEnabled});
    if (anonymousPull) (*s)->bind(2, int64_t{*anonymousPull});
    (*s)->bind(3, registry);
    return run(**c, **s);
  }

  Result<std::vector<StoredSecret>> adminSecrets(RegistryId registry) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s =
        (*c)->prepare("SELECT name, hash FROM admin_passwords WHERE registry_id = ? ORDER BY name");
    if (!s) return s.takeError();
    (*s)->bind(1, registry);
    std::vector<StoredSecret> out;
    for (int rc; (rc = (*s)->step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return (*c)->fail("select admin passwords");
      out.push_back({(*s)->text(0), (*s)->text(1), std::nullopt});
    }
    return out;
  }

  Result<void> setAdminSecret(RegistryId registry, std::string_view name,
                              std::string_view hash) override {
    return changed(writeAdminSecret(registry, name, hash));
  }
  Result<void> writeAdminSecret(RegistryId registry, std::string_view name, std::string_view hash) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "INSERT INTO admin_passwords(registry_id, name, hash, created) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(registry_id, name) DO UPDATE SET hash = excluded.hash, "
        "created = excluded.created");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name).bind(3, hash).bind(4, nowSeconds());
    return run(**c, **s);
  }

  Result<void> createScopeMap(RegistryId registry, const ScopeMapRecord& map) override {
    return changed(writeScopeMap(registry, map));
  }
  Result<void> writeScopeMap(RegistryId registry, const ScopeMapRecord& map) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r;
    {
      auto s = (*c)->prepare(
          "INSERT OR IGNORE INTO scope_maps(registry_id, name, description, created) "
          "VALUES(?, ?, ?, ?)");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, map.name).bind(3, map.description).bind(4, nowSeconds());
      if (auto r = run(**c, **s); !r) return r;
      if (sqlite3_changes((*c)->db()) == 0) return conflict("scope map " + map.name + " exists");
    }
    const int64_t id = sqlite3_last_insert_rowid((*c)->db());
    for (const auto& rule : map.rules) {
      auto s = (*c)->prepare(
          "INSERT INTO scope_map_rules(scope_map_id, registry_id, pattern, actions) "
          "VALUES(?, ?, ?, ?) ON CONFLICT(scope_map_id, pattern) DO UPDATE SET "
          "actions = actions | excluded.actions");
      if (!s) return s.takeError();
      (*s)->bind(1, id).bind(2, registry).bind(3, rule.pattern).bind(4, int64_t{rule.actions});
      if (auto r = run(**c, **s); !r) return r;
    }
    return tx.commit();
  }

  Result<std::optional<ScopeMapRecord>> loadScopeMap(RegistryId registry, std::string_view name) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "SELECT m.description, r.pattern, r.actions FROM scope_maps m "
        "LEFT JOIN scope_map_rules r ON r.scope_map_id = m.id "
        "WHERE m.registry_id = ? AND m.name = ? ORDER BY r.pattern");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    std::optional<ScopeMapRecord> out;
    for (int rc; (rc = (*s)->step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return (*c)->fail("select scope map");
      if (!out) out = ScopeMapRecord{std::string(name), (*s)->text(0), {}};
      auto pattern = (*s)->text(1);
      if (!pattern.empty()) {
        out->rules.push_back({std::move(pattern), static_cast<uint8_t>((*s)->integer(2))});
      }
    }
    return out;
  }

  Result<void> createToken(RegistryId registry, const TokenRecord& token) override {
    return changed(writeToken(registry, token));
  }
  Result<void> writeToken(RegistryId registry, const TokenRecord& token) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    Transaction tx(**c);
    if (auto r = tx.begin(); !r) return r;
    const auto now = nowSeconds();
    {
      auto s = (*c)->prepare(
          "INSERT OR IGNORE INTO tokens(registry_id, name, scope_map, enabled, created) "
          "VALUES(?, ?, ?, ?, ?)");
      if (!s) return s.takeError();
      (*s)->bind(1, registry).bind(2, token.name).bind(3, token.scopeMap);
      (*s)->bind(4, int64_t{token.enabled}).bind(5, now);
      if (auto r = run(**c, **s); !r) return r;
      if (sqlite3_changes((*c)->db()) == 0) return conflict("token " + token.name + " exists");
    }
    const int64_t id = sqlite3_last_insert_rowid((*c)->db());
    for (const auto& secret : token.secrets) {
      auto s = (*c)->prepare(
          "INSERT INTO token_passwords(token_id, registry_id, name, hash, expiry, created) "
          "VALUES(?, ?, ?, ?, ?, ?)");
      if (!s) return s.takeError();
      (*s)->bind(1, id).bind(2, registry).bind(3, secret.name).bind(4, secret.hash);
      if (secret.expiry) (*s)->bind(5, *secret.expiry);
      (*s)->bind(6, now);
      if (auto r = run(**c, **s); !r) return r;
    }
    return tx.commit();
  }

  Result<std::optional<TokenRecord>> loadToken(RegistryId registry, std::string_view name) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "SELECT t.scope_map, t.enabled, t.created, p.name, p.hash, p.expiry FROM tokens t "
        "LEFT JOIN token_passwords p ON p.token_id = t.id "
        "WHERE t.registry_id = ? AND t.name = ? ORDER BY p.name");
    if (!s) return s.takeError();
    (*s)->bind(1, registry).bind(2, name);
    std::optional<TokenRecord> out;
    for (int rc; (rc = (*s)->step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return (*c)->fail("select token");
      if (!out) {
        out = TokenRecord{
            std::string(name), (*s)->text(0), (*s)->integer(1) != 0, {}, (*s)->integer(2)};
      }
      auto secretName = (*s)->text(3);
      if (secretName.empty()) continue;
      StoredSecret secret{std::move(secretName), (*s)->text(4), std::nullopt};
      if (!(*s)->isNull(5)) secret.expiry = (*s)->integer(5);
      out->secrets.push_back(std::move(secret));
    }
    return out;
  }

  Result<bool> setTokenEnabled(RegistryId registry, std::string_view name, bool enabled) override {
    return changed(writeTokenEnabled(registry, name, enabled));
  }
  Result<bool> writeTokenEnabled(RegistryId registry, std::string_view name, bool enabled) {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("UPDATE tokens SET enabled = ? WHERE registry_id = ? AND name = ?");
    if (!s) return s.takeError();
    (*s)->bind(1, int64_t{enabled}).bind(2, registry).bind(3, name);
    if (auto r = run(**c, **s); !r) return r.takeError();
    return sqlite3_changes((*c)->db()) > 0;
  }

  Result<std::vector<SigningKeyRecord>> signingKeys() override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare(
        "SELECT kid, private_pem, created, retired FROM signing_keys "
        "ORDER BY created DESC, rowid DESC");
    if (!s) return s.takeError();
    std::vector<SigningKeyRecord> out;
    for (int rc; (rc = (*s)->step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return (*c)->fail("select signing keys");
      SigningKeyRecord k{(*s)->text(0), (*s)->text(1), (*s)->integer(2), std::nullopt};
      if (!(*s)->isNull(3)) k.retired = (*s)->integer(3);
      out.push_back(std::move(k));
    }
    return out;
  }

  Result<void> addSigningKey(const SigningKeyRecord& key) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s = (*c)->prepare("INSERT INTO signing_keys(kid, private_pem, created) VALUES(?, ?, ?)");
    if (!s) return s.takeError();
    (*s)->bind(1, key.kid).bind(2, key.privatePem).bind(3, key.created);
    return run(**c, **s);
  }

  Result<void> retireSigningKeys(std::string_view keep, int64_t when) override {
    auto c = db_->lease();
    if (!c) return c.takeError();
    auto s =
        (*c)->prepare("UPDATE signing_keys SET retired = ? WHERE kid <> ? AND retired IS NULL");
    if (!s) return s.takeError();
    (*s)->bind(1, when).bind(2, keep);
    return run(**c, **s);
  }

 private:
  std::shared_ptr<Database> db_;
  GenerationFile generation_;
  std::mutex cacheMutex_;
  uint64_t cachedGeneration_ = 0;
  std::unordered_map<std::string, std::optional<RegistrySettings>> settings_;
  std::unordered_map<std::string, std::vector<StoredSecret>> adminSecrets_;
  std::unordered_map<std::string, std::optional<ScopeMapRecord>> scopeMaps_;
  std::unordered_map<std::string, std::optional<TokenRecord>> tokens_;
};

}  // namespace

Result<IdentityStorePtr> openSqliteIdentityStore(const std::filesystem::path& file) {
  auto db = Database::open(file);
  if (!db) return db.takeError();
  auto generation = file;
  generation += "-identity";
  return IdentityStorePtr(new SqliteIdentityStore(std::move(*db), std::move(generation)));
}

}  // namespace berth::meta
