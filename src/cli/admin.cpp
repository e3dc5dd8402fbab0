// `berth admin …`: manage a registry's identities straight on its data directory, also while
// `berth serve` runs on it. Output is JSON in the shape `az acr` prints.
#include "cli/admin.hpp"

#include <boost/json.hpp>
#include <ctime>
#include <iostream>

#include "app/backup.hpp"
#include "app/node.hpp"
#include "app/tenancy.hpp"
#include "auth/authenticator.hpp"
#include "auth/password.hpp"
#include "auth/scope.hpp"
#include "control/json.hpp"
#include "core/reference.hpp"
#include "jobs/gc.hpp"
#include "storage/fs/fs_blob_store.hpp"
#include "tls/dev_cert.hpp"

namespace berth::cli {
namespace json = boost::json;
namespace {

struct CommandError {
  std::string message;
};

void print(const json::value& v) { std::cout << json::serialize(v) << "\n"; }

// The data directory and the registry in it that a command works on.
struct Target {
  std::string dataDir = "./data";
  std::string metadata;  // a PostgreSQL URL; empty: SQLite in dataDir
  std::string registry = std::string(app::kDefaultRegistry);
};

// Opens the stores with `defaultRegistry` set to the target registry.
app::Stores openStores(const Target& target) {
  auto stores = app::Stores::open(target.dataDir, app::kDefaultDiskReserveBytes,
                                  app::MetadataOptions{target.metadata});
  if (!stores) throw CommandError{stores.error().detail};
  auto found = stores->identities->registryByName(target.registry);
  if (!found) throw CommandError{found.error().detail};
  if (!*found) throw CommandError{"registry \"" + target.registry + "\" not found"};
  stores->defaultRegistry = (*found)->id;
  return std::move(*stores);
}

template <class T>
T check(Result<T> r) {
  if (!r)
    throw CommandError{r.error().detail.empty() ? std::string(info(r.error().code).message)
                                                : r.error().detail};
  return std::move(*r);
}
void check(Result<void> r) {
  if (!r)
    throw CommandError{r.error().detail.empty() ? std::string(info(r.error().code).message)
                                                : r.error().detail};
}

meta::RegistrySettings settingsOf(app::Stores& s) {
  auto settings = check(s.identities->registrySettings(s.defaultRegistry));
  if (!settings) throw CommandError{"registry not found"};
  return *settings;
}

json::object registryJson(const meta::RegistrySettings& r) {
  return {{"name", r.name},
          {"adminUserEnabled", r.adminEnabled},
          {"anonymousPullEnabled", r.anonymousPull}};
}

bool parseBool(const std::string& text, const std::string& flag) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw CommandError{flag + " must be true or false"};
}

std::optional<int64_t> parseTime(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || !(*end == '\0' || std::string_view(end) == "Z")) {
    throw CommandError{"expiration must look like 2030-01-01T00:00:00Z"};
  }
  return static_cast<int64_t>(timegm(&tm));
}

json::value timeJson(std::optional<int64_t> t) {
  if (!t) return nullptr;
  std::time_t v = static_cast<std::time_t>(*t);
  std::tm tm{};
  gmtime_r(&v, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return json::string(text);
}

json::object credentialJson(const std::string& username, const std::string& renamed,
                            const std::string& value) {
  json::array passwords;
  for (const char* name : {"password", "password2"}) {
    json::value v = nullptr;
    if (renamed == name) v = json::string(value);
    passwords.push_back(json::object{{"name", name}, {"value", v}});
  }
  return {{"username", username}, {"passwords", passwords}};
}

// "--repository REPO ACTION..." groups, as CLI11 collects them.
std::vector<meta::ScopeRule> parseRules(const std::vector<std::vector<std::string>>& groups) {
  std::vector<meta::ScopeRule> rules;
  for (const auto& group : groups) {
    if (group.size() < 2) throw CommandError{"--repository needs a repository and actions"};
    if (!auth::isValidPattern(group[0])) {
      throw CommandError{"invalid repository pattern \"" + group[0] + "\""};
    }
    meta::ScopeRule rule{group[0], 0};
    for (size_t i = 1; i < group.size(); ++i) {
      auto bit = auth::parseScopeAction(group[i]);
      if (!bit) {
        throw CommandError{"unknown action \"" + group[i] +
                           "\" (content/read, content/write, content/delete, metadata/read, "
                           "metadata/write)"};
      }
      rule.actions |= *bit;
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

json::array actionsJson(const std::vector<meta::ScopeRule>& rules) {
  json::array out;
  for (const auto& r : rules) {
    for (const auto& a : auth::scopeActionNames(r.actions)) {
      out.emplace_back("repositories/" + r.pattern + "/" + a);
    }
  }
  return out;
}

// --storage: the server's `storage` setting, for the registries that live under it; object
// stores take their credentials from the environment (AWS_*, AZURE_STORAGE_*).
std::shared_ptr<std::string> storageOption(CLI::App* cmd) {
  auto store = std::make_shared<std::string>();
  cmd->add_option("--storage", *store,
                  "The server's storage URL (its `storage` setting; default: DATA/registries)");
  return store;
}

json::object backupJson(const app::BackupReport& report) {
  json::array registries;
  uint64_t blobs = 0, bytes = 0;
  for (const auto& r : report.registries) {
    registries.push_back(json::object{
        {"name", r.name}, {"blobs", r.blobs}, {"bytes", r.bytes}, {"leftOut", r.leftOut}});
    blobs += r.blobs;
    bytes += r.bytes;
  }
  return {{"path", report.path.string()},
          {"registries", registries},
          {"blobs", blobs},
          {"bytes", bytes},
          {"seconds", report.seconds}};
}

// --metadata: the server's `metadata` setting, for a server on PostgreSQL.
void metadataOption(CLI::App* cmd, std::string& url) {
  cmd->add_option("--metadata", url,
                  "The server's metadata database when it is PostgreSQL (postgres://...); "
                  "empty: SQLite in the data directory")
      ->envname("BERTH_METADATA");
}

}  // namespace

void addAdminCommands(CLI::App& root, std::function<int()>& action) {
  auto* admin =
      root.add_subcommand("admin", "Manage a registry's credentials on its data directory");
  admin->require_subcommand(1);
  auto data = std::make_shared<Target>();
  auto addData = [data](CLI::App* cmd) {
    cmd->add_option("--data", data->dataDir, "Data directory of the server")->capture_default_str();
    cmd->add_option("--registry", data->registry, "Registry in that directory")
        ->capture_default_str();
    metadataOption(cmd, data->metadata);
  };

  // admin update
  {
    auto* cmd = admin->add_subcommand("update", "Switch the admin account and anonymous pull");
    addData(cmd);
    auto adminEnabled = std::make_shared<std::string>();
    auto anonymous = std::make_shared<std::string>();
    cmd->add_option("--admin-enabled", *adminEnabled, "true or false");
    cmd->add_option("--anonymous-pull-enabled", *anonymous, "true or false");
    cmd->callback([&action, data, adminEnabled, anonymous] {
      action = [data, adminEnabled, anonymous] {
        auto s = openStores(*data);
        meta::RegistryChange change;
        if (!adminEnabled->empty()) {
          change.adminEnabled = parseBool(*adminEnabled, "--admin-enabled");
        }
        if (!anonymous->empty()) {
          change.anonymousPull = parseBool(*anonymous, "--anonymous-pull-enabled");
        }
        auto before = settingsOf(s);
        check(s.identities->updateRegistry(s.defaultRegistry, change));
        auto after = settingsOf(s);
        auto out = registryJson(after);
        // Enabling the admin for the first time gives it its two passwords, shown once.
        if (after.adminEnabled && !before.adminEnabled &&
            check(s.identities->adminSecrets(s.defaultRegistry)).empty()) {
          json::array passwords;
          for (const char* name : {"password", "password2"}) {
            const auto secret = auth::generateSecret();
            check(s.identities->setAdminSecret(s.defaultRegistry, name, auth::hashSecret(secret)));
            passwords.push_back(json::object{{"name", name}, {"value", secret}});
          }
          out["passwords"] = std::move(passwords);
        }
        print(out);
        return 0;
      };
    });
  }

  // admin credential show|renew
  {
    auto* credential = admin->add_subcommand("credential", "The admin account's passwords");
    credential->require_subcommand(1);
    auto* show = credential->add_subcommand("show", "Show the admin user name and password names");
    addData(show);
    show->callback([&action, data] {
      action = [data] {
        auto s = openStores(*data);
        // Only hashes are stored: values are shown once, by `renew`.
        print(credentialJson(settingsOf(s).name, "", ""));
        return 0;
      };
    });
    auto* renew = credential->add_subcommand("renew", "Generate a new value for one password");
    addData(renew);
    auto name = std::make_shared<std::string>();
    renew->add_option("--password-name", *name, "password or password2")
        ->required()
        ->check(CLI::IsMember({"password", "password2"}));
    renew->callback([&action, data, name] {
      action = [data, name] {
        auto s = openStores(*data);
        const auto secret = auth::generateSecret();
        check(s.identities->setAdminSecret(s.defaultRegistry, *name, auth::hashSecret(secret)));
        print(credentialJson(settingsOf(s).name, *name, secret));
        return 0;
      };
    });
  }

  // admin scope-map create
  {
    auto* maps = admin->add_subcommand("scope-map", "Repository permissions for tokens");
    maps->require_subcommand(1);
    auto* create = maps->add_subcommand("create", "Create a scope map");
    addData(create);
    auto name = std::make_shared<std::string>();
    auto description = std::make_shared<std::string>();
    auto repos = std::make_shared<std::vector<std::vector<std::string>>>();
    create->add_option("--name", *name, "Scope map name")->required();
    create->add_option("--description", *description, "Free text");
    create->add_option("--repository", *repos, "REPO ACTION... (repeatable)")
        ->required()
        ->allow_extra_args()
        ->expected(2, 6)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    create->callback([&action, data, name, description, repos] {
      action = [data, name, description, repos] {
        if (!auth::isValidIdentityName(*name)) {
          throw CommandError{
              "scope map names have 1-50 letters, digits or dashes, the first a letter or digit"};
        }
        auto rules = parseRules(*repos);
        auto s = openStores(*data);
        check(s.identities->createScopeMap(s.defaultRegistry, {*name, *description, rules}));
        print(json::object{
            {"name", *name}, {"description", *description}, {"actions", actionsJson(rules)}});
        return 0;
      };
    });
  }

  // admin token create|update
  {
    auto* tokens = admin->add_subcommand("token", "Repository-scoped credentials");
    tokens->require_subcommand(1);
    auto* create = tokens->add_subcommand("create", "Create a token with two passwords");
    addData(create);
    auto name = std::make_shared<std::string>();
    auto scopeMap = std::make_shared<std::string>();
    auto status = std::make_shared<std::string>("enabled");
    auto expiration = std::make_shared<std::string>();
    auto repos = std::make_shared<std::vector<std::vector<std::string>>>();
    create->add_option("--name", *name, "Token name (its user name)")->required();
    auto* mapOpt = create->add_option("--scope-map", *scopeMap, "Existing or built-in scope map");
    auto* repoOpt = create->add_option("--repository", *repos, "REPO ACTION... (repeatable)")
                        ->allow_extra_args()
                        ->expected(2, 6)
                        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    mapOpt->excludes(repoOpt);
    create->add_option("--status", *status, "enabled or disabled")
        ->check(CLI::IsMember({"enabled", "disabled"}))
        ->capture_default_str();
    create->add_option("--expiration", *expiration,
                       "Passwords expire at, e.g. 2030-01-01T00:00:00Z");
    create->callback([&action, data, name, scopeMap, status, expiration, repos] {
      action = [data, name, scopeMap, status, expiration, repos] {
        if (!auth::isValidIdentityName(*name)) {
          throw CommandError{
              "token names have 1-50 letters, digits or dashes, the first a letter or digit"};
        }
        if (scopeMap->empty() && repos->empty()) {
          throw CommandError{"give --scope-map or --repository"};
        }
        const auto expiry = parseTime(*expiration);
        auto s = openStores(*data);
        if (*name == settingsOf(s).name) {
          throw CommandError{"a token cannot take the admin user name"};
        }
        std::string mapName = *scopeMap;
        if (mapName.empty()) {
          mapName = *name + "-scope-map";
          check(s.identities->createScopeMap(s.defaultRegistry, {mapName, "", parseRules(*repos)}));
        } else if (!auth::builtinScopeMap(mapName) &&
                   !check(s.identities->scopeMap(s.defaultRegistry, mapName))) {
          throw CommandError{"scope map \"" + mapName + "\" not found"};
        }
        meta::TokenRecord token{*name, mapName, *status == "enabled", {}, 0};
        json::array passwords;
        for (const char* pw : {"password1", "password2"}) {
          const auto secret = auth::generateSecret();
          token.secrets.push_back({pw, auth::hashSecret(secret), expiry});
          passwords.push_back(
              json::object{{"name", pw}, {"value", secret}, {"expiry", timeJson(expiry)}});
        }
        check(s.identities->createToken(s.defaultRegistry, token));
        print(json::object{
            {"name", *name},
            {"scopeMapName", mapName},
            {"status", *status},
            {"credentials", json::object{{"username", *name}, {"passwords", passwords}}}});
        return 0;
      };
    });

    auto* update = tokens->add_subcommand("update", "Enable or disable a token");
    addData(update);
    auto uname = std::make_shared<std::string>();
    auto ustatus = std::make_shared<std::string>();
    update->add_option("--name", *uname, "Token name")->required();
    update->add_option("--status", *ustatus, "enabled or disabled")
        ->required()
        ->check(CLI::IsMember({"enabled", "disabled"}));
    update->callback([&action, data, uname, ustatus] {
      action = [data, uname, ustatus] {
        auto s = openStores(*data);
        if (!check(
                s.identities->setTokenEnabled(s.defaultRegistry, *uname, *ustatus == "enabled"))) {
          throw CommandError{"token \"" + *uname + "\" not found"};
        }
        print(json::object{{"name", *uname}, {"status", *ustatus}});
        return 0;
      };
    });
  }

  // admin key rotate
  {
    auto* keys = admin->add_subcommand("key", "The keys that sign access tokens");
    keys->require_subcommand(1);
    auto* rotate = keys->add_subcommand("rotate", "Sign new tokens with a new key");
    addData(rotate);
    rotate->callback([&action, data] {
      action = [data] {
        auto s = openStores(*data);
        auth::Authenticator authenticator(*s.identities, {});
        print(json::object{{"kid", check(authenticator.rotateSigningKey())}});
        return 0;
      };
    });
  }

  // admin gc
  {
    auto* cmd = admin->add_subcommand(
        "gc",
        "Run one garbage-collection pass now and print what it removed (also while "
        "`berth serve` runs on the directory)");
    auto dir = std::make_shared<std::string>("./data");
    auto metadata = std::make_shared<std::string>();
    auto registry = std::make_shared<std::string>();
    auto dryRun = std::make_shared<bool>(false);
    auto grace = std::make_shared<uint32_t>(3600);
    auto expiry = std::make_shared<uint32_t>(86400);
    cmd->add_option("--data", *dir, "Data directory of the server")->capture_default_str();
    metadataOption(cmd, *metadata);
    cmd->add_option("--registry", *registry, "Only this registry (default: every registry)");
    cmd->add_flag("--dry-run", *dryRun, "Count what would be removed; remove nothing");
    cmd->add_option("--grace-seconds", *grace,
                    "Keep unreferenced blobs this long after their last use (the server's "
                    "gc_grace_seconds)")
        ->capture_default_str();
    cmd->add_option("--upload-expiry-seconds", *expiry,
                    "Remove upload sessions nothing wrote to for this long")
        ->capture_default_str();
    auto store = storageOption(cmd);
    cmd->callback([&action, dir, metadata, registry, dryRun, grace, expiry, store] {
      action = [dir, metadata, registry, dryRun, grace, expiry, store] {
        if (*expiry == 0) throw CommandError{"--upload-expiry-seconds must be at least 1"};
        auto stores =
            app::Stores::open(*dir, app::kDefaultDiskReserveBytes, app::MetadataOptions{*metadata});
        if (!stores) throw CommandError{stores.error().detail};
        auto registries = check(stores->identities->listRegistries());
        if (!registry->empty()) {
          std::erase_if(registries, [&](const auto& r) { return r.name != *registry; });
          if (registries.empty()) throw CommandError{"registry \"" + *registry + "\" not found"};
        }
        jobs::GcOptions options;
        options.grace = std::chrono::seconds(*grace);
        options.uploadExpiry = std::chrono::seconds(*expiry);
        options.dryRun = *dryRun;
        options.sweepOrphans = true;
        json::array out;
        bool failed = false;
        for (const auto& r : registries) {
          auto blobs = check(app::openRegistryStore(*dir, {*store, {}}, r));
          const auto run = jobs::collectGarbage(*stores->meta, *blobs, r.id, options);
          if (!run.dryRun) (void)stores->meta->recordGcRun(r.id, run);
          failed = failed || !run.error.empty();
          auto entry = control::gcRunJson(run);
          entry.emplace("registry", r.name);
          out.push_back(std::move(entry));
        }
        print(out);
        return failed ? 1 : 0;
      };
    });
  }

  // admin backup, admin restore
  {
    auto* cmd = admin->add_subcommand(
        "backup",
        "Back up a data directory, also while `berth serve` runs on it: the database as of one "
        "moment and every blob it knows, each verified against its digest");
    auto dir = std::make_shared<std::string>("./data");
    auto out = std::make_shared<std::string>();
    cmd->add_option("--data", *dir, "Data directory of the server")->capture_default_str();
    cmd->add_option("--out", *out, "Directory to write the backup to (absent or empty)")
        ->required();
    auto store = storageOption(cmd);
    cmd->callback([&action, dir, out, store] {
      action = [dir, out, store] {
        auto report = check(app::backupDataDirectory(*dir, *out, {*store, {}}));
        print(backupJson(report));
        return 0;
      };
    });
  }
  {
    auto* cmd = admin->add_subcommand(
        "restore",
        "Make a new data directory from a backup (then start `berth serve --data` on it)");
    auto from = std::make_shared<std::string>();
    auto dir = std::make_shared<std::string>();
    cmd->add_option("--from", *from, "A directory `berth admin backup` wrote")->required();
    cmd->add_option("--data", *dir, "The data directory to make (absent or empty)")->required();
    auto store = storageOption(cmd);
    cmd->callback([&action, from, dir, store] {
      action = [from, dir, store] {
        auto report = check(app::restoreDataDirectory(*from, *dir, {*store, {}}));
        print(backupJson(report));
        return 0;
      };
    });
  }

  // admin dev-cert
  {
    auto* cmd = admin->add_subcommand(
        "dev-cert", "Make a CA and a server certificate for local HTTPS (not for production)");
    auto out = std::make_shared<std::string>();
    auto hosts = std::make_shared<std::vector<std::string>>();
    cmd->add_option("--out", *out, "Directory to write ca.crt, ca.key, server.crt, server.key")
        ->required();
    cmd->add_option("--host", *hosts, "Extra DNS name or IP address for the certificate");
    cmd->callback([&action, out, hosts] {
      action = [out, hosts] {
        check(tls::writeDevCertificates(*out, *hosts));
        print(json::object{{"ca", *out + "/ca.crt"},
                           {"cert", *out + "/server.crt"},
                           {"key", *out + "/server.key"}});
        return 0;
      };
    });
  }
}

int runCommand(const std::function<int()>& action) {
  try {
    return action();
  } catch (const CommandError& e) {
    std::cerr << "berth: " << e.message << "\n";
    return 1;
  }
}

}  // namespace berth::cli
