// Tokens: /api/v1/registries/{registry}/tokens[/{name}[/credentials[/{password}]]]. Passwords
// are generated here, shown once in the reply that creates them, and stored as argon2id hashes.
#include <algorithm>
#include <boost/json.hpp>

#include "auth/authenticator.hpp"
#include "auth/password.hpp"
#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/log.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

constexpr std::array<std::string_view, 2> kTokenPasswords{"password1", "password2"};

bool isTokenPassword(std::string_view name) {
  return std::find(kTokenPasswords.begin(), kTokenPasswords.end(), name) != kTokenPasswords.end();
}

// Password name -> value, for the passwords this request generated.
using Generated = std::vector<std::pair<std::string, std::string>>;

json::object tokenJson(const meta::TokenRecord& t, const Generated& generated = {}) {
  auto secrets = t.secrets;
  std::sort(secrets.begin(), secrets.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  json::array passwords;
  for (const auto& s : secrets) {
    auto it = std::find_if(generated.begin(), generated.end(),
                           [&](const auto& g) { return g.first == s.name; });
    passwords.push_back(json::object{
        {"name", s.name},
        {"creationTime", rfc3339(s.created)},
        {"expiry", timeOrNull(s.expiry)},
        {"value", it == generated.end() ? json::value(nullptr) : json::value(it->second)}});
  }
  return {{"name", t.name},
          {"scopeMapName", t.scopeMap},
          {"status", t.enabled ? "enabled" : "disabled"},
          {"creationDate", rfc3339(t.created)},
          {"credentials", json::object{{"passwords", std::move(passwords)}}}};
}

Error tokenNotFound(std::string_view name) {
  return error(Code::NotFound, "token " + std::string(name) + " not found");
}

Result<meta::TokenRecord> storedToken(Call& c, std::string_view name) {
  auto token = c.deps.identities.token(c.registryId(), name);
  if (!token) return token.takeError();
  if (!*token) return tokenNotFound(name);
  return std::move(**token);
}

Result<bool> parseStatus(const std::string& status) {
  if (status == "enabled") return true;
  if (status == "disabled") return false;
  return error(Code::InvalidArgument, "field \"status\" must be enabled or disabled");
}

// A time in the past is accepted: the password is then of no use, as the caller asked.
Result<std::optional<int64_t>> parseExpiry(const std::optional<std::string>& text) {
  if (!text) return std::optional<int64_t>();
  auto expiry = parseRfc3339(*text);
  if (!expiry) {
    return error(Code::InvalidArgument,
                 "field \"expiry\" must be an RFC 3339 time such as 2030-01-01T00:00:00Z");
  }
  return std::optional<int64_t>(*expiry);
}

// NOT_FOUND unless `name` is a built-in map or one of the registry's.
Result<void> requireScopeMap(Call& c, std::string_view name) {
  if (auth::builtinScopeMap(name)) return {};
  auto map = c.deps.identities.scopeMap(c.registryId(), name);
  if (!map) return map.takeError();
  if (!*map) return error(Code::NotFound, "scope map " + std::string(name) + " not found");
  return {};
}

meta::StoredSecret newSecret(std::string_view name, std::optional<int64_t> expiry,
                             Generated& generated) {
  auto value = auth::generateSecret();
  meta::StoredSecret secret{std::string(name), auth::hashSecret(value), expiry, auth::unixNow()};
  generated.emplace_back(std::string(name), std::move(value));
  return secret;
}

}  // namespace

Reply listTokens(Call& c) {
  auto tokens = c.deps.identities.listTokens(c.registryId());
  if (!tokens) return tokens.takeError();
  json::array out;
  for (const auto& t : *tokens) out.push_back(tokenJson(t));
  return jsonReply(200, out);
}

Reply createToken(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto scopeMapName = f.string("scopeMapName");
  auto status = f.string("status");
  auto expiryText = f.string("expiry");
  auto noPasswords = f.boolean("noPasswords");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!scopeMapName) return missingField("scopeMapName");
  if (!isValidIdentityName(*name)) {
    return error(Code::InvalidArgument, "a token name " + std::string(kIdentityNameRule));
  }
  // The token's name is its user name: the admin's and the refresh tokens' are taken.
  if (*name == c.settings().name || *name == auth::kRefreshTokenUser) {
    return error(Code::Conflict, "the user name " + *name + " is reserved");
  }
  auto enabled = parseStatus(status.value_or("enabled"));
  if (!enabled) return enabled.takeError();
  auto expiry = parseExpiry(expiryText);
  if (!expiry) return expiry.takeError();
  if (auto r = requireScopeMap(c, *scopeMapName); !r) return r.takeError();

  const auto& sku = skuOf(c.settings());
  auto count = tokenCount(c);
  if (!count) return count.takeError();
  if (*count >= sku.identityLimit) {
    return error(Code::Denied, "the " + std::string(sku.name) + " SKU allows at most " +
                                   std::to_string(sku.identityLimit) + " tokens");
  }

  meta::TokenRecord token{*name, *scopeMapName, *enabled, {}, 0};
  Generated generated;
  if (!noPasswords.value_or(false)) {
    for (auto pw : kTokenPasswords) token.secrets.push_back(newSecret(pw, *expiry, generated));
  }
  if (auto r = c.deps.identities.createToken(c.registryId(), token); !r) {
    if (codeOf(r.error()) == Code::Conflict) {
      return error(Code::Conflict, "token " + *name + " already exists");
    }
    return r.takeError();
  }
  log::info("token created",
            {{"registry", c.settings().name}, {"token", *name}, {"request_id", c.requestId}});
  auto created = storedToken(c, *name);
  if (!created) return created.takeError();
  return jsonReply(201, tokenJson(*created, generated));
}

Reply showToken(Call& c) {
  auto token = storedToken(c, c.name);
  if (!token) return token.takeError();
  return jsonReply(200, tokenJson(*token));
}

Reply updateToken(Call& c) {
  BodyFields f(c.body);
  auto scopeMapName = f.string("scopeMapName");
  auto status = f.string("status");
  if (auto r = f.finish(); !r) return r.takeError();
  std::optional<bool> enabled;
  if (status) {
    auto parsed = parseStatus(*status);
    if (!parsed) return parsed.takeError();
    enabled = *parsed;
  }
  if (auto token = storedToken(c, c.name); !token) return token.takeError();
  if (scopeMapName) {
    if (auto r = requireScopeMap(c, *scopeMapName); !r) return r.takeError();
    auto set = c.deps.identities.setTokenScopeMap(c.registryId(), c.name, *scopeMapName);
    if (!set) return set.takeError();
    if (!*set) return tokenNotFound(c.name);
  }
  if (enabled) {
    auto set = c.deps.identities.setTokenEnabled(c.registryId(), c.name, *enabled);
    if (!set) return set.takeError();
    if (!*set) return tokenNotFound(c.name);
  }
  c.deps.host.forget(c.registryId());
  auto token = storedToken(c, c.name);
  if (!token) return token.takeError();
  return jsonReply(200, tokenJson(*token));
}

Reply deleteToken(Call& c) {
  auto deleted = c.deps.identities.deleteToken(c.registryId(), c.name);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return tokenNotFound(c.name);
  c.deps.host.forget(c.registryId());
  log::info("token deleted",
            {{"registry", c.settings().name}, {"token", c.name}, {"request_id", c.requestId}});
  return http::Response::empty(204);
}

Reply generateTokenCredential(Call& c) {
  BodyFields f(c.body);
  auto which = f.string("name");
  auto expiryText = f.string("expiry");
  if (auto r = f.finish(); !r) return r.takeError();
  if (which && !isTokenPassword(*which)) {
    return error(Code::InvalidArgument, "field \"name\" must be password1 or password2");
  }
  auto expiry = parseExpiry(expiryText);
  if (!expiry) return expiry.takeError();
  if (auto token = storedToken(c, c.name); !token) return token.takeError();

  Generated generated;
  for (auto pw : kTokenPasswords) {
    if (which && *which != pw) continue;
    auto set =
        c.deps.identities.setTokenSecret(c.registryId(), c.name, newSecret(pw, *expiry, generated));
    if (!set) return set.takeError();
    if (!*set) return tokenNotFound(c.name);
  }
  c.deps.host.forget(c.registryId());
  log::info("token password generated",
            {{"registry", c.settings().name}, {"token", c.name}, {"request_id", c.requestId}});
  auto token = storedToken(c, c.name);
  if (!token) return token.takeError();
  return jsonReply(200, tokenJson(*token, generated));
}

// The password stops working at once: the store drops its cached identities on every change.
Reply deleteTokenCredential(Call& c) {
  if (!isTokenPassword(c.password)) {
    return error(Code::InvalidArgument,
                 "a token's passwords are password1 and password2, not " + c.password);
  }
  auto deleted = c.deps.identities.deleteTokenSecret(c.registryId(), c.name, c.password);
  if (!deleted) return deleted.takeError();
  if (!*deleted) {
    if (auto token = storedToken(c, c.name); !token) return token.takeError();
    return error(Code::NotFound, "token " + c.name + " has no " + c.password);
  }
  c.deps.host.forget(c.registryId());
  log::info("token password deleted", {{"registry", c.settings().name},
                                       {"token", c.name},
                                       {"password", c.password},
                                       {"request_id", c.requestId}});
  return http::Response::empty(204);
}

}  // namespace berth::control
