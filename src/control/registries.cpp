// /api/v1/registries[/{registry}[/usage]]: create, list, show, update and delete registries,
// check a name, report usage.
#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>

#include "auth/authenticator.hpp"
#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/log.hpp"

namespace berth::control {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kNameRule = "a registry name has 5 to 50 lowercase letters and digits";

bool isValidRegistryName(std::string_view name) {
  return name.size() >= 5 && name.size() <= 50 &&
         std::all_of(name.begin(), name.end(),
                     [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); });
}

// Normal form, without a trailing separator, so that paths compare element by element.
fs::path normalDirectory(const fs::path& path) {
  auto p = path.lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

// Where the registry's blobs live: the place given at creation (a path or a store URL, as
// stored), else the server's store.
storage::StoreUrl storeOf(Call& c, const meta::RegistrySettings& r) {
  if (!r.storagePath.empty()) {
    if (auto url = storage::parseStoreUrl(r.storagePath)) return *url;
  }
  auto url = c.deps.host.defaultStore(r.name);
  if (url.kind == storage::StoreUrl::Kind::File) url.path = normalDirectory(url.path);
  return url;
}

json::object registryJson(Call& c, const meta::RegistrySettings& r) {
  const auto store = storeOf(c, r);
  json::object out{{"name", r.name},
                   {"loginServer", c.deps.host.loginServer(r.name)},
                   {"sku", json::object{{"name", r.sku}, {"tier", r.sku}}},
                   {"adminUserEnabled", r.adminEnabled},
                   {"anonymousPullEnabled", r.anonymousPull},
                   {"auditPullsEnabled", r.auditPulls},
                   {"storage", store.str()},
                   {"quota", json::object{{"storageBytes", r.quotaBytes}}},
                   {"creationDate", rfc3339(r.created)},
                   {"provisioningState", "Succeeded"}};
  // The directory, for registries on the filesystem.
  if (store.kind == storage::StoreUrl::Kind::File) out["storagePath"] = store.path.string();
  return out;
}

Result<meta::RegistrySettings> reread(Call& c, meta::RegistryId id) {
  auto settings = c.deps.identities.registrySettings(id);
  if (!settings) return settings.takeError();
  if (!*settings) return error(Code::NotFound, "registry not found");
  return std::move(**settings);
}

Error skuError() { return error(Code::InvalidArgument, "sku must be Basic, Standard or Premium"); }

}  // namespace

const Sku* findSku(std::string_view name) {
  auto it = std::find_if(kSkus.begin(), kSkus.end(), [&](const Sku& s) { return s.name == name; });
  return it == kSkus.end() ? nullptr : &*it;
}

const Sku& skuOf(const meta::RegistrySettings& registry) {
  const auto* sku = findSku(registry.sku);
  return sku != nullptr ? *sku : kSkus.front();
}

Result<uint64_t> userScopeMapCount(Call& c) {
  auto maps = c.deps.identities.listScopeMaps(c.registryId());
  if (!maps) return maps.takeError();
  return static_cast<uint64_t>(std::count_if(maps->begin(), maps->end(), [](const auto& m) {
    return !auth::builtinScopeMap(m.name).has_value();
  }));
}

Result<uint64_t> tokenCount(Call& c) {
  auto tokens = c.deps.identities.listTokens(c.registryId());
  if (!tokens) return tokens.takeError();
  return static_cast<uint64_t>(tokens->size());
}

Reply listRegistries(Call& c) {
  auto registries = c.deps.identities.listRegistries();
  if (!registries) return registries.takeError();
  json::array out;
  for (const auto& r : *registries) {
    // A principal sees the registries its roles reach.
    if (c.caller.kind == Caller::Kind::Principal && !auth::reaches(c.caller.roles, r.id)) continue;
    out.push_back(registryJson(c, r));
  }
  return jsonReply(200, out);
}

Reply createRegistry(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto skuName = f.string("sku");
  auto adminEnabled = f.boolean("adminUserEnabled");
  auto anonymousPull = f.boolean("anonymousPullEnabled");
  auto auditPulls = f.boolean("auditPullsEnabled");
  auto storagePath = f.string("storagePath");
  auto storageUrl = f.string("storage");
  auto quotaBytes = f.unsignedInteger("quotaBytes");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!isValidRegistryName(*name)) return error(Code::InvalidArgument, std::string(kNameRule));
  const Sku* sku = findSku(skuName.value_or("Basic"));
  if (sku == nullptr) return skuError();

  meta::RegistrySettings settings;
  settings.name = *name;
  settings.sku = std::string(sku->name);
  settings.quotaBytes = quotaBytes.value_or(sku->quotaBytes);
  settings.adminEnabled = adminEnabled.value_or(false);
  settings.anonymousPull = anonymousPull.value_or(false);
  settings.auditPulls = auditPulls.value_or(false);
  if (storagePath && storageUrl) {
    return error(Code::InvalidArgument, "give storage or storagePath, not both");
  }
  if (storagePath) {
    const fs::path path(*storagePath);
    if (!path.is_absolute()) {
      return error(Code::InvalidArgument, "storagePath must be an absolute path");
    }
    settings.storagePath = normalDirectory(path).string();
  }
  if (storageUrl) {
    auto url = storage::parseStoreUrl(*storageUrl);
    if (!url) return error(Code::InvalidArgument, url.error().detail);
    if (url->kind == storage::StoreUrl::Kind::File) url->path = normalDirectory(url->path);
    settings.storagePath =
        url->kind == storage::StoreUrl::Kind::File ? url->path.string() : url->str();
  }

  // Two registries sharing a place would delete each other's blobs.
  auto existing = c.deps.identities.listRegistries();
  if (!existing) return existing.takeError();
  const auto place = storeOf(c, settings);
  for (const auto& other : *existing) {
    if (other.name == settings.name) {
      return error(Code::Conflict, "registry " + settings.name + " already exists");
    }
    if (storage::overlaps(place, storeOf(c, other))) {
      return error(Code::Conflict,
                   "storage " + place.str() + " overlaps the storage of registry " + other.name);
    }
  }

  auto id = c.deps.identities.createRegistry(settings);
  if (!id) {
    if (codeOf(id.error()) == Code::Conflict) {
      return error(Code::Conflict, "registry " + settings.name + " already exists");
    }
    return id.takeError();
  }
  auto created = reread(c, *id);
  if (!created) return created.takeError();
  if (auto storage = c.deps.host.createStorage(*created); !storage) {
    if (auto undo = c.deps.identities.deleteRegistry(*id); !undo) {
      log::error("registry row left behind", {{"registry", settings.name},
                                              {"request_id", c.requestId},
                                              {"detail", undo.error().detail}});
    }
    c.deps.host.forget(*id);
    return storage.takeError();
  }
  log::info("registry created", {{"registry", settings.name}, {"request_id", c.requestId}});
  return jsonReply(201, registryJson(c, *created));
}

Reply checkName(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  json::object out{{"nameAvailable", false}, {"reason", nullptr}, {"message", nullptr}};
  if (!isValidRegistryName(*name)) {
    out["reason"] = "Invalid";
    out["message"] = kNameRule;
    return jsonReply(200, out);
  }
  auto found = c.deps.identities.registryByName(*name);
  if (!found) return found.takeError();
  if (*found) {
    out["reason"] = "AlreadyExists";
    out["message"] = "The registry " + *name + " is already in use.";
    return jsonReply(200, out);
  }
  out["nameAvailable"] = true;
  return jsonReply(200, out);
}

Reply showRegistry(Call& c) { return jsonReply(200, registryJson(c, c.settings())); }

Reply updateRegistry(Call& c) {
  BodyFields f(c.body);
  auto skuName = f.string("sku");
  auto adminEnabled = f.boolean("adminUserEnabled");
  auto anonymousPull = f.boolean("anonymousPullEnabled");
  auto auditPulls = f.boolean("auditPullsEnabled");
  auto quotaBytes = f.unsignedInteger("quotaBytes");
  if (auto r = f.finish(); !r) return r.takeError();

  meta::RegistryChange change;
  change.auditPulls = auditPulls;
  change.adminEnabled = adminEnabled;
  change.anonymousPull = anonymousPull;
  change.quotaBytes = quotaBytes;
  if (skuName && *skuName != c.settings().sku) {
    const Sku* sku = findSku(*skuName);
    if (sku == nullptr) return skuError();
    // A smaller SKU must still hold what the registry has.
    auto maps = userScopeMapCount(c);
    if (!maps) return maps.takeError();
    auto tokens = tokenCount(c);
    if (!tokens) return tokens.takeError();
    auto hooks = c.deps.events.store.webhooks(c.registryId());
    if (!hooks) return hooks.takeError();
    if (hooks->size() > sku->webhookLimit) {
      return error(Code::Conflict, "the " + std::string(sku->name) + " SKU allows " +
                                       std::to_string(sku->webhookLimit) +
                                       " webhooks; the registry has " +
                                       std::to_string(hooks->size()));
    }
    if (*maps > sku->identityLimit || *tokens > sku->identityLimit) {
      return error(Code::Conflict, "the " + std::string(sku->name) + " SKU allows " +
                                       std::to_string(sku->identityLimit) +
                                       " scope maps and tokens; the registry has " +
                                       std::to_string(*maps) + " scope maps and " +
                                       std::to_string(*tokens) + " tokens");
    }
    change.sku = std::string(sku->name);
    // The new SKU brings its included storage unless the caller names a quota.
    if (!change.quotaBytes) change.quotaBytes = sku->quotaBytes;
  } else if (skuName && findSku(*skuName) == nullptr) {
    return skuError();
  }
  if (auto r = c.deps.identities.updateRegistry(c.registryId(), change); !r) return r.takeError();
  c.deps.host.forget(c.registryId());
  auto updated = reread(c, c.registryId());
  if (!updated) return updated.takeError();
  return jsonReply(200, registryJson(c, *updated));
}

Reply deleteRegistry(Call& c) {
  const auto& r = c.settings();
  if (r.name == c.deps.host.defaultRegistry()) {
    return error(Code::Conflict, "registry " + r.name + " is the default registry");
  }
  auto deleted = c.deps.identities.deleteRegistry(r.id);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "registry " + r.name + " not found");
  auto removed = c.deps.host.removeStorage(r);
  c.deps.host.forget(r.id);
  if (!removed) {
    log::error(
        "registry storage not removed",
        {{"registry", r.name}, {"request_id", c.requestId}, {"detail", removed.error().detail}});
    return error(Code::Internal,
                 "registry " + r.name +
                     " deleted, but its storage could not be removed: " + removed.error().detail);
  }
  log::info("registry deleted", {{"registry", r.name}, {"request_id", c.requestId}});
  return http::Response::empty(204);
}

Reply showGc(Call& c) {
  auto last = c.deps.meta.lastGcRun(c.registryId());
  if (!last) return last.takeError();
  json::value run = nullptr;
  if (*last) run = gcRunJson(**last);
  return jsonReply(200, json::object{{"lastRun", std::move(run)}});
}

Reply showUsage(Call& c) {
  auto usage = c.deps.meta.usage(c.registryId());
  if (!usage) return usage.takeError();
  auto maps = userScopeMapCount(c);
  if (!maps) return maps.takeError();
  auto tokens = tokenCount(c);
  if (!tokens) return tokens.takeError();
  auto hooks = c.deps.events.store.webhooks(c.registryId());
  if (!hooks) return hooks.takeError();
  const auto& sku = skuOf(c.settings());
  auto entry = [](std::string_view name, json::value limit, uint64_t current,
                  std::string_view unit) {
    return json::object{
        {"name", name}, {"limit", std::move(limit)}, {"currentValue", current}, {"unit", unit}};
  };
  json::array value{
      entry("Size", c.settings().quotaBytes, usage->storedBytes, "Bytes"),
      entry("Repositories", nullptr, usage->repositories, "Count"),
      entry("ScopeMaps", sku.identityLimit, *maps, "Count"),
      entry("Tokens", sku.identityLimit, *tokens, "Count"),
      entry("Webhooks", sku.webhookLimit, hooks->size(), "Count"),
  };
  return jsonReply(200, json::object{{"value", std::move(value)}});
}

}  // namespace berth::control
