// The admin account's credentials, `login`, and scope maps:
// /api/v1/registries/{registry}/{credentials[/renew],login,scope-maps[/{name}]}.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "auth/authenticator.hpp"
#include "auth/password.hpp"
#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/log.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

constexpr std::array<std::string_view, 2> kAdminPasswords{"password", "password2"};

json::object credentialsJson(const meta::RegistrySettings& r, std::string_view renewed,
                             std::string_view value) {
  json::array passwords;
  for (auto name : kAdminPasswords) {
    json::value v = nullptr;
    if (name == renewed) v = json::string(value);
    passwords.push_back(json::object{{"name", name}, {"value", std::move(v)}});
  }
  return {{"username", r.name}, {"passwords", std::move(passwords)}};
}

std::string_view builtinDescription(std::string_view name) {
  if (name == "_repositories_admin") return "Can perform all read, write and delete operations";
  if (name == "_repositories_pull") return "Can pull any repository";
  if (name == "_repositories_pull_metadata_read") {
    return "Can pull and read the metadata of any repository";
  }
  if (name == "_repositories_push") return "Can push to and pull from any repository";
  if (name == "_repositories_push_metadata_write") {
    return "Can push, pull, and read and write the metadata of any repository";
  }
  return "";
}

json::object scopeMapJson(const meta::ScopeMapRecord& map, bool builtin) {
  json::array actions;
  for (const auto& rule : map.rules) {
    for (const auto& action : auth::scopeActionNames(rule.actions)) {
      actions.emplace_back("repositories/" + rule.pattern + "/" + action);
    }
  }
  return {{"name", map.name},
          {"description", map.description},
          {"type", builtin ? "SystemDefined" : "UserDefined"},
          {"actions", std::move(actions)},
          {"creationDate", rfc3339(map.created)}};
}

// A built-in map as a record; it has been there since the registry was created.
std::optional<meta::ScopeMapRecord> builtinRecord(const Call& c, std::string_view name) {
  auto rules = auth::builtinScopeMap(name);
  if (!rules) return std::nullopt;
  meta::ScopeMapRecord map{
      std::string(name), std::string(builtinDescription(name)), {}, c.settings().created};
  for (auto& r : *rules) map.rules.push_back({std::move(r.pattern), r.actions});
  return map;
}

// "repositories/<pattern>/<content|metadata>/<read|write|delete>" -> (pattern, action bit)
Result<meta::ScopeRule> parseAction(std::string_view text) {
  constexpr std::string_view kPrefix = "repositories/";
  const auto bad = [&](std::string_view why) {
    return error(Code::InvalidArgument,
                 "invalid action \"" + std::string(text) + "\": " + std::string(why));
  };
  if (!text.starts_with(kPrefix)) return bad("it must start with repositories/");
  const auto rest = text.substr(kPrefix.size());
  const auto verb = rest.rfind('/');
  const auto group = verb == std::string_view::npos || verb == 0 ? std::string_view::npos
                                                                 : rest.rfind('/', verb - 1);
  if (group == std::string_view::npos || group == 0) {
    return bad("expected repositories/<repository pattern>/<content|metadata>/<action>");
  }
  const auto pattern = rest.substr(0, group);
  const auto bit = auth::parseScopeAction(rest.substr(group + 1));
  if (!bit) {
    return bad(
        "actions are content/read, content/write, content/delete, metadata/read, "
        "metadata/write");
  }
  if (!auth::isValidPattern(pattern)) {
    return bad("the repository pattern must be a repository name, name/* or *");
  }
  return meta::ScopeRule{std::string(pattern), *bit};
}

// Adds (or, with `remove`, takes away) each action to the rules, keeping their order.
Result<void> applyActions(std::vector<meta::ScopeRule>& rules,
                          const std::vector<std::string>& actions, bool remove) {
  for (const auto& text : actions) {
    auto parsed = parseAction(text);
    if (!parsed) return parsed.takeError();
    auto it = std::find_if(rules.begin(), rules.end(),
                           [&](const auto& r) { return r.pattern == parsed->pattern; });
    if (remove) {
      if (it != rules.end()) it->actions &= static_cast<uint8_t>(~parsed->actions);
    } else if (it != rules.end()) {
      it->actions |= parsed->actions;
    } else {
      rules.push_back(std::move(*parsed));
    }
  }
  std::erase_if(rules, [](const auto& r) { return r.actions == 0; });
  return {};
}

Error scopeMapNotFound(std::string_view name) {
  return error(Code::NotFound, "scope map " + std::string(name) + " not found");
}

Error builtinRefused() { return error(Code::Denied, "built-in scope maps cannot be changed"); }

Result<meta::ScopeMapRecord> storedScopeMap(Call& c, std::string_view name) {
  auto map = c.deps.identities.scopeMap(c.registryId(), name);
  if (!map) return map.takeError();
  if (!*map) return scopeMapNotFound(name);
  return std::move(**map);
}

}  // namespace

// ---- credentials and login ----

Reply showCredentials(Call& c) { return jsonReply(200, credentialsJson(c.settings(), "", "")); }

Reply renewCredential(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (std::find(kAdminPasswords.begin(), kAdminPasswords.end(), *name) == kAdminPasswords.end()) {
    return error(Code::InvalidArgument, "field \"name\" must be password or password2");
  }
  const auto secret = auth::generateSecret();
  if (auto r = c.deps.identities.setAdminSecret(c.registryId(), *name, auth::hashSecret(secret));
      !r) {
    return r.takeError();
  }
  c.deps.host.forget(c.registryId());
  log::info(
      "admin password renewed",
      {{"registry", c.settings().name}, {"password_name", *name}, {"request_id", c.requestId}});
  return jsonReply(200, credentialsJson(c.settings(), *name, secret));
}

Reply login(Call& c) {
  const auto loginServer = c.deps.host.loginServer(c.settings().name);
  // The registry's owner, or a principal: its token does what its roles allow, and stops
  // when the principal is deleted.
  const std::string subject = c.caller.kind == Caller::Kind::Principal
                                  ? std::string(auth::kPrincipalPrefix) + c.caller.principal
                                  : std::string(auth::kRefreshTokenUser);
  auto issued = c.deps.authenticator.issueRefreshToken(c.settings().id, subject, loginServer);
  if (!issued) return issued.takeError();
  return jsonReply(200, json::object{{"loginServer", loginServer},
                                     {"username", auth::kRefreshTokenUser},
                                     {"refreshToken", issued->token},
                                     {"expiresIn", issued->expiresIn}});
}

// ---- scope maps ----

Reply listScopeMaps(Call& c) {
  auto stored = c.deps.identities.listScopeMaps(c.registryId());
  if (!stored) return stored.takeError();
  json::array out;
  for (auto name : auth::builtinScopeMapNames())
    out.push_back(scopeMapJson(*builtinRecord(c, name), true));
  for (const auto& map : *stored) out.push_back(scopeMapJson(map, false));
  return jsonReply(200, out);
}

Reply createScopeMap(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto description = f.string("description");
  auto actions = f.strings("actions");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!actions) return missingField("actions");
  if (auth::builtinScopeMap(*name)) {
    return error(Code::Conflict, "scope map " + *name + " already exists (built in)");
  }
  if (!isValidIdentityName(*name)) {
    return error(Code::InvalidArgument, "a scope map name " + std::string(kIdentityNameRule));
  }
  if (actions->empty()) return error(Code::InvalidArgument, "field \"actions\" must not be empty");
  meta::ScopeMapRecord map{*name, description.value_or(""), {}, 0};
  if (auto r = applyActions(map.rules, *actions, false); !r) return r.takeError();

  const auto& sku = skuOf(c.settings());
  auto count = userScopeMapCount(c);
  if (!count) return count.takeError();
  if (*count >= sku.identityLimit) {
    return error(Code::Denied, "the " + std::string(sku.name) + " SKU allows at most " +
                                   std::to_string(sku.identityLimit) + " scope maps");
  }
  if (auto r = c.deps.identities.createScopeMap(c.registryId(), map); !r) {
    if (codeOf(r.error()) == Code::Conflict) {
      return error(Code::Conflict, "scope map " + *name + " already exists");
    }
    return r.takeError();
  }
  auto created = storedScopeMap(c, *name);
  if (!created) return created.takeError();
  return jsonReply(201, scopeMapJson(*created, false));
}

Reply showScopeMap(Call& c) {
  if (auto builtin = builtinRecord(c, c.name)) return jsonReply(200, scopeMapJson(*builtin, true));
  auto map = storedScopeMap(c, c.name);
  if (!map) return map.takeError();
  return jsonReply(200, scopeMapJson(*map, false));
}

Reply updateScopeMap(Call& c) {
  BodyFields f(c.body);
  auto description = f.string("description");
  auto add = f.strings("addActions");
  auto remove = f.strings("removeActions");
  if (auto r = f.finish(); !r) return r.takeError();
  if (auth::builtinScopeMap(c.name)) return builtinRefused();
  auto map = storedScopeMap(c, c.name);
  if (!map) return map.takeError();
  if (description) map->description = *description;
  if (add) {
    if (auto r = applyActions(map->rules, *add, false); !r) return r.takeError();
  }
  if (remove) {
    if (auto r = applyActions(map->rules, *remove, true); !r) return r.takeError();
  }
  auto updated = c.deps.identities.updateScopeMap(c.registryId(), *map);
  if (!updated) return updated.takeError();
  if (!*updated) return scopeMapNotFound(c.name);
  c.deps.host.forget(c.registryId());
  auto stored = storedScopeMap(c, c.name);
  if (!stored) return stored.takeError();
  return jsonReply(200, scopeMapJson(*stored, false));
}

Reply deleteScopeMap(Call& c) {
  if (auth::builtinScopeMap(c.name)) return builtinRefused();
  auto deleted = c.deps.identities.deleteScopeMap(c.registryId(), c.name);
  if (!deleted) {
    if (codeOf(deleted.error()) == Code::Conflict) {
      return error(Code::Conflict, "scope map " + c.name + " is used by a token");
    }
    return deleted.takeError();
  }
  if (!*deleted) return scopeMapNotFound(c.name);
  c.deps.host.forget(c.registryId());
  return http::Response::empty(204);
}

}  // namespace berth::control
