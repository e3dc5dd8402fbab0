// Webhooks (/api/v1/registries/{registry}/webhooks[/{name}[/ping|/events|/config]]) and the
// audit log (/api/v1/audit, /api/v1/registries/{registry}/audit).
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <tuple>

#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/random.hpp"
#include "events/audit.hpp"
#include "events/webhook_rules.hpp"
#include "storage/object/signing.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

constexpr size_t kMaxHeaders = 32;
constexpr size_t kMaxHeaderValue = 4096;
constexpr size_t kMaxScopes = 64;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string timeMs(int64_t ms) {
  if (ms <= 0) return {};
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(ms % 1000));
  return storage::signing::utcTime(static_cast<std::time_t>(ms / 1000), "%Y-%m-%dT%H:%M:%S") +
         fraction;
}

json::array strings(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& item : items) out.emplace_back(item);
  return out;
}

// `full`: the whole service URI; otherwise its scheme and host only, since chat services put
// their secret in the path (for callers who see a registry but may not change it: Readers).
json::object webhookJson(const meta::Webhook& w, bool full = true) {
  json::array headers;
  for (const auto& [name, value] : w.headers) headers.emplace_back(name);
  std::string uri = w.uri;
  if (!full) {
    const auto scheme = uri.find("://");
    const auto path = scheme == std::string::npos ? 0 : uri.find_first_of("/?#", scheme + 3);
    if (path != std::string::npos) uri.resize(path);  // (URIs never hold user information)
  }
  return {{"name", w.name},
          {"serviceUri", uri},
          {"actions", strings(w.actions)},
          {"scopes", strings(w.scopes)},
          {"status", w.enabled ? "enabled" : "disabled"},
          {"customHeaderNames", std::move(headers)},
          {"creationDate", rfc3339(w.created)}};
}

Result<std::vector<std::string>> checkActions(const std::vector<std::string>& actions) {
  if (actions.empty()) return error(Code::InvalidArgument, "give at least one action");
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (a != "push" && a != "delete") {
      return error(Code::InvalidArgument,
                   "invalid action \"" + a + "\": webhooks hear of push and delete");
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}

Result<void> checkScopes(const std::vector<std::string>& scopes) {
  if (scopes.size() > kMaxScopes) {
    return error(Code::InvalidArgument, "at most " + std::to_string(kMaxScopes) + " scopes");
  }
  for (const auto& s : scopes) {
    if (!events::isValidScope(s)) {
      return error(Code::InvalidArgument,
                   "invalid scope \"" + s +
                       "\": use REPOSITORY[:TAG], where REPOSITORY may be team/* or * and TAG "
                       "may be * or end in *");
    }
  }
  return {};
}

bool isToken(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  for (char ch : name) {
    const auto u = static_cast<unsigned char>(ch);
    if (!(std::isalnum(u) ||
          std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos))
      return false;
  }
  return true;
}

Result<void> checkHeaders(const std::vector<std::pair<std::string, std::string>>& headers) {
  if (headers.size() > kMaxHeaders) {
    return error(Code::InvalidArgument, "at most " + std::to_string(kMaxHeaders) + " headers");
  }
  for (const auto& [name, value] : headers) {
    if (!isToken(name)) return error(Code::InvalidArgument, "invalid header name \"" + name + "\"");
    const auto lower = storage::signing::lowerAscii(name);
    if (lower == "content-length" || lower == "host" || lower == "transfer-encoding" ||
        lower.starts_with("x-berth-")) {
      return error(Code::InvalidArgument, "header " + name + " is set by berth");
    }
    if (value.size() > kMaxHeaderValue ||
        value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return error(Code::InvalidArgument,
                   "invalid value of header " + name + ": one line of at most 4096 bytes");
    }
  }
  return {};
}

Result<bool> statusOf(const std::optional<std::string>& status) {
  if (!status || *status == "enabled") return true;
  if (*status == "disabled") return false;
  return error(Code::InvalidArgument, "status must be enabled or disabled");
}

Result<meta::Webhook> findWebhook(Call& c) {
  auto found = c.deps.events.store.webhook(c.registryId(), c.name);
  if (!found) return found.takeError();
  if (!*found) {
    return error(Code::NotFound,
                 "webhook " + c.name + " not found in registry " + c.settings().name);
  }
  return std::move(**found);
}

json::value payloadValue(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return json::string(text);
  return v;
}

// ?last=ID&n=N of a listing by id, newest first: ids below `last` (0: from the newest), at
// most n (1 to 1000, 100 by default).
Result<std::pair<int64_t, size_t>> pageParams(const Call& c) {
  int64_t before = 0;
  size_t limit = 100;
  if (auto last = c.param("last")) {
    auto [p, ec] = std::from_chars(last->data(), last->data() + last->size(), before);
    if (ec != std::errc() || p != last->data() + last->size() || before < 0) {
      return error(Code::InvalidArgument, "last must be an id of the previous page");
    }
  }
  if (auto n = c.param("n")) {
    auto [p, ec] = std::from_chars(n->data(), n->data() + n->size(), limit);
    if (ec != std::errc() || p != n->data() + n->size() || limit == 0 || limit > 1000) {
      return error(Code::InvalidArgument, "n must be 1 to 1000");
    }
  }
  return std::pair(before, limit);
}

}  // namespace

Reply listWebhooks(Call& c) {
  auto hooks = c.deps.events.store.webhooks(c.registryId());
  if (!hooks) return hooks.takeError();
  json::array out;
  for (const auto& w : *hooks) out.push_back(webhookJson(w, changesRegistry(c)));
  return jsonReply(200, out);
}

Reply createWebhook(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto uri = f.string("serviceUri");
  auto actions = f.strings("actions");
  auto scopes = f.strings("scopes");
  auto headers = f.stringMap("customHeaders");
  auto status = f.string("status");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!uri) return missingField("serviceUri");
  if (!actions) return missingField("actions");
  if (!isValidIdentityName(*name)) {
    return error(Code::InvalidArgument, "a webhook name " + std::string(kIdentityNameRule));
  }
  if (auto r = events::checkUri(*uri, c.deps.events.allowLoopback); !r) {
    return error(Code::InvalidArgument, r.error().detail);
  }
  auto checked = checkActions(*actions);
  if (!checked) return checked.takeError();
  if (auto r = checkScopes(scopes.value_or(std::vector<std::string>{})); !r) return r.takeError();
  if (auto r = checkHeaders(headers.value_or(decltype(headers)::value_type{})); !r) {
    return r.takeError();
  }
  auto enabled = statusOf(status);
  if (!enabled) return enabled.takeError();
  auto existing = c.deps.events.store.webhooks(c.registryId());
  if (!existing) return existing.takeError();
  const auto& sku = skuOf(c.settings());
  if (existing->size() >= sku.webhookLimit) {
    return error(Code::Conflict, "the " + std::string(sku.name) + " SKU allows " +
                                     std::to_string(sku.webhookLimit) + " webhooks");
  }
  meta::Webhook w;
  w.registry = c.registryId();
  w.name = *name;
  w.uri = *uri;
  w.actions = std::move(*checked);
  w.scopes = scopes.value_or(std::vector<std::string>{});
  w.headers = headers.value_or(decltype(headers)::value_type{});
  w.enabled = *enabled;
  const auto secret = events::SecretBox::newSecret();
  w.sealedSecret = c.deps.events.secrets.seal(secret);
  if (auto r = c.deps.events.store.createWebhook(w); !r) return r.takeError();
  auto created = c.deps.events.store.webhook(c.registryId(), w.name);
  if (!created) return created.takeError();
  auto body = webhookJson(created->value_or(w));
  body["secret"] = secret;
  return jsonReply(201, body);
}

Reply showWebhook(Call& c) {
  auto w = findWebhook(c);
  if (!w) return w.takeError();
  return jsonReply(200, webhookJson(*w, changesRegistry(c)));
}

Reply updateWebhook(Call& c) {
  BodyFields f(c.body);
  auto uri = f.string("serviceUri");
  auto actions = f.strings("actions");
  auto scopes = f.strings("scopes");
  auto headers = f.stringMap("customHeaders");
  auto status = f.string("status");
  auto regenerate = f.boolean("regenerateSecret");
  if (auto r = f.finish(); !r) return r.takeError();
  auto w = findWebhook(c);
  if (!w) return w.takeError();
  if (uri) {
    if (auto r = events::checkUri(*uri, c.deps.events.allowLoopback); !r) {
      return error(Code::InvalidArgument, r.error().detail);
    }
    w->uri = *uri;
  }
  if (actions) {
    auto checked = checkActions(*actions);
    if (!checked) return checked.takeError();
    w->actions = std::move(*checked);
  }
  if (scopes) {
    if (auto r = checkScopes(*scopes); !r) return r.takeError();
    w->scopes = std::move(*scopes);
  }
  if (headers) {
    if (auto r = checkHeaders(*headers); !r) return r.takeError();
    w->headers = std::move(*headers);
  }
  if (status) {
    auto enabled = statusOf(status);
    if (!enabled) return enabled.takeError();
    w->enabled = *enabled;
  }
  std::string secret;
  if (regenerate.value_or(false)) {
    secret = events::SecretBox::newSecret();
    w->sealedSecret = c.deps.events.secrets.seal(secret);
  }
  auto updated = c.deps.events.store.updateWebhook(*w);
  if (!updated) return updated.takeError();
  if (!*updated) return error(Code::NotFound, "webhook " + c.name + " not found");
  auto body = webhookJson(*w);
  if (!secret.empty()) body["secret"] = secret;
  return jsonReply(200, body);
}

Reply deleteWebhook(Call& c) {
  auto deleted = c.deps.events.store.deleteWebhook(c.registryId(), c.name);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "webhook " + c.name + " not found");
  return http::Response::empty(204);
}

Reply pingWebhook(Call& c) {
  auto w = findWebhook(c);
  if (!w) return w.takeError();
  const auto id = newUuid();
  meta::Delivery d;
  d.registry = c.registryId();
  d.webhook = w->name;
  d.action = "ping";
  d.createdMs = nowMs();
  d.nextAttemptMs = d.createdMs;
  d.payload = events::pingPayload(id, d.createdMs);
  auto delivery = c.deps.events.store.addDelivery(d);
  if (!delivery) return delivery.takeError();
  if (c.deps.events.wake) c.deps.events.wake();
  return jsonReply(202, json::object{{"id", id}, {"delivery", *delivery}});
}

Reply listWebhookEvents(Call& c) {
  auto w = findWebhook(c);
  if (!w) return w.takeError();
  auto page = pageParams(c);
  if (!page) return page.takeError();
  const auto [before, limit] = *page;
  auto list = c.deps.events.store.deliveries(c.registryId(), c.name, before, limit);
  if (!list) return list.takeError();
  json::array out;
  for (const auto& d : *list) {
    json::object response{{"status", d.status == 0 ? json::value(nullptr) : json::value(d.status)},
                          {"content", d.response}};
    out.push_back(json::object{
        {"id", d.id},
        {"action", d.action},
        {"state", d.state},
        {"attempts", d.attempts},
        {"created", timeMs(d.createdMs)},
        {"nextAttempt", d.state == "pending" ? json::value(timeMs(d.nextAttemptMs)) : nullptr},
        {"finished", d.finishedMs > 0 ? json::value(timeMs(d.finishedMs)) : nullptr},
        {"durationMs", d.durationMs},
        {"error", stringOrNull(d.error)},
        {"eventRequestMessage",
         json::object{
             {"method", "POST"}, {"requestUri", w->uri}, {"content", payloadValue(d.payload)}}},
        {"eventResponseMessage", std::move(response)}});
  }
  json::object body{{"events", std::move(out)}};
  if (list->size() == limit) body["next"] = list->back().id;
  return jsonReply(200, body);
}

Reply showWebhookConfig(Call& c) {
  auto w = findWebhook(c);
  if (!w) return w.takeError();
  json::object headers;
  for (const auto& [name, value] : w->headers) headers[name] = value;
  return jsonReply(200,
                   json::object{{"serviceUri", w->uri}, {"customHeaders", std::move(headers)}});
}

Reply listAudit(Call& c) {
  meta::AuditQuery q;
  if (c.registry) q.registry = c.settings().name;
  if (auto since = c.param("since")) {
    auto t = parseRfc3339(*since);
    if (!t) return error(Code::InvalidArgument, "since must be an RFC 3339 time");
    q.sinceMs = *t * 1000;
  }
  if (auto identity = c.param("identity")) q.identity = std::string(*identity);
  if (auto action = c.param("action")) q.action = std::string(*action);
  auto page = pageParams(c);
  if (!page) return page.takeError();
  std::tie(q.beforeId, q.limit) = *page;
  auto records = c.deps.events.store.audit(q);
  if (!records) return records.takeError();
  json::array out;
  for (const auto& r : *records) {
    auto line = json::parse(events::auditLine(r)).as_object();
    line["id"] = r.id;
    out.push_back(std::move(line));
  }
  json::object body{{"records", std::move(out)}};
  if (records->size() == q.limit) body["next"] = records->back().id;
  return jsonReply(200, body);
}

}  // namespace berth::control
