// `berth webhook …` (as `az acr webhook`) and `berth audit list`.
#include <chrono>
#include <ctime>
#include <iostream>

#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct WebhookArgs {
  std::string registry;
  std::string name;
  std::string uri;
  std::vector<std::string> actions;
  std::vector<std::string> scopes;
  std::vector<std::string> headers;
  std::string status;
  bool regenerateSecret = false;
  std::string top;
  bool yes = false;
};

std::string webhookPath(std::string_view registry, std::string_view name) {
  return registryPath(registry) + "/webhooks/" + escapePath(name);
}

void addNames(CLI::App* cmd, WebhookArgs& args) {
  cmd->add_option("-n,--name", args.name, "Name of the webhook")->type_name("NAME")->required();
  cmd->add_option("-r,--registry", args.registry, "Name of the registry")
      ->type_name("REGISTRY")
      ->required();
}

// "K=V" pairs as the API's customHeaders object.
json::object headersOf(const std::vector<std::string>& pairs) {
  json::object out;
  for (const auto& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ClientError("--headers takes NAME=VALUE pairs, got \"" + pair + "\"");
    }
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

json::array stringsOf(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& item : items) out.emplace_back(item);
  return out;
}

void addSettings(CLI::App* cmd, WebhookArgs& args) {
  cmd->add_option("--actions", args.actions, "What to hear of: push, delete (one or both)")
      ->type_name("ACTION...")
      ->expected(1, 2);
  cmd->add_option("--scope", args.scopes,
                  "REPOSITORY[:TAG] patterns the events must match (repeatable): team/* or * "
                  "for repositories, * or a prefix ending in * for tags; no tag means :latest. "
                  "None: every event")
      ->type_name("PATTERN...");
  cmd->add_option("--headers", args.headers, "NAME=VALUE headers sent with every delivery")
      ->type_name("NAME=VALUE...");
  cmd->add_option("--status", args.status, "enabled or disabled")->type_name("STATUS");
}

// An RFC 3339 time as it is, or a duration ago (30m, 12h, 7d, 1d12h) as an RFC 3339 time.
std::string sinceOf(const std::string& text) {
  if (text.find('T') != std::string::npos) return text;
  int64_t seconds = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = at;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == at || end == text.size()) {
      throw ClientError("--since takes an RFC 3339 time or a duration such as 30m, 12h or 7d");
    }
    const int64_t n = std::stoll(text.substr(at, end - at));
    switch (text[end]) {
      case 's':
        seconds += n;
        break;
      case 'm':
        seconds += n * 60;
        break;
      case 'h':
        seconds += n * 3600;
        break;
      case 'd':
        seconds += n * 86400;
        break;
      default:
        throw ClientError("--since: unknown unit '" + std::string(1, text[end]) +
                          "' (s, m, h or d)");
    }
    at = end + 1;
  }
  const std::time_t when = std::time(nullptr) - seconds;
  std::tm tm{};
  gmtime_r(&when, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// The pages of a listing that answers {"<key>": [...], "next": id}, up to `limit` items.
json::array pages(ControlClient& control, const std::string& path, std::string_view key,
                  size_t limit) {
  json::array out;
  std::string last;
  while (out.size() < limit) {
    const size_t n = std::min<size_t>(limit - out.size(), 1000);
    std::string url =
        path + (path.find('?') == std::string::npos ? "?" : "&") + "n=" + std::to_string(n);
    if (!last.empty()) url += "&last=" + last;
    auto page = control.get(url);
    const auto* items = page.is_object() ? page.as_object().if_contains(key) : nullptr;
    if (items == nullptr || !items->is_array()) break;
    for (const auto& item : items->as_array()) out.push_back(item);
    const auto* next = page.as_object().if_contains("next");
    if (next == nullptr || !next->is_int64() || items->as_array().empty()) break;
    last = std::to_string(next->as_int64());
  }
  return out;
}

}  // namespace

void addEventCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "webhook", "Send registry events to HTTP endpoints");
  group->footer(
      "Each delivery is a POST of ACR's JSON payload, signed: the header X-Berth-Signature-256\n"
      "is sha256=HEX, the HMAC-SHA256 of the body under the webhook's secret (shown once, by\n"
      "create and by update --regenerate-secret).\n\n"
      "Example:\n"
      "  berth webhook create -r myregistry -n deploy --uri https://ci.example/hook \\\n"
      "    --actions push --scope 'team/*:*' --headers Authorization='Bearer abc'");
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd = set.command(*group, "create", "Create a webhook", [args]() -> Output {
      if (args->actions.empty()) throw ClientError("--actions is required (push, delete)");
      json::object body{
          {"name", args->name}, {"serviceUri", args->uri}, {"actions", stringsOf(args->actions)}};
      if (!args->scopes.empty()) body["scopes"] = stringsOf(args->scopes);
      if (!args->headers.empty()) body["customHeaders"] = headersOf(args->headers);
      if (!args->status.empty()) {
        body["status"] = parseChoice(args->status, "--status", {"enabled", "disabled"});
      }
      auto created = ControlClient::open().post(registryPath(args->registry) + "/webhooks", body);
      std::cerr << "berth: keep the secret now: it is not shown again\n";
      return created;
    });
    addNames(cmd, *args);
    cmd->add_option("--uri", args->uri, "Where events are POSTed (http or https)")
        ->type_name("URL")
        ->required();
    addSettings(cmd, *args);
  }
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd = set.command(*group, "list", "List the webhooks of a registry", [args]() -> Output {
      return ControlClient::open().get(registryPath(args->registry) + "/webhooks");
    });
    cmd->add_option("-r,--registry", args->registry, "Name of the registry")
        ->type_name("REGISTRY")
        ->required();
  }
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd = set.command(*group, "show", "Show a webhook", [args]() -> Output {
      return ControlClient::open().get(webhookPath(args->registry, args->name));
    });
    addNames(cmd, *args);
  }
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd = set.command(*group, "update", "Change a webhook", [args]() -> Output {
      json::object body;
      if (!args->uri.empty()) body["serviceUri"] = args->uri;
      if (!args->actions.empty()) body["actions"] = stringsOf(args->actions);
      if (!args->scopes.empty()) body["scopes"] = stringsOf(args->scopes);
      if (!args->headers.empty()) body["customHeaders"] = headersOf(args->headers);
      if (!args->status.empty()) {
        body["status"] = parseChoice(args->status, "--status", {"enabled", "disabled"});
      }
      if (args->regenerateSecret) body["regenerateSecret"] = true;
      if (body.empty()) {
        throw ClientError(
            "nothing to update: give --uri, --actions, --scope, --headers, --status or "
            "--regenerate-secret");
      }
      auto updated = ControlClient::open().patch(webhookPath(args->registry, args->name), body);
      if (args->regenerateSecret) {
        std::cerr << "berth: keep the new secret now: it is not shown again\n";
      }
      return updated;
    });
    addNames(cmd, *args);
    cmd->add_option("--uri", args->uri, "Where events are POSTed")->type_name("URL");
    addSettings(cmd, *args);
    cmd->add_flag("--regenerate-secret", args->regenerateSecret,
                  "Replace the signing secret (the new one is printed once)");
  }
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd =
        set.command(*group, "delete", "Delete a webhook and its deliveries", [args]() -> Output {
          requireYes(args->yes, "deleting webhook \"" + args->name + "\"");
          ControlClient::open().remove(webhookPath(args->registry, args->name));
          return std::nullopt;
        });
    addNames(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not refuse: the deletion is intended");
  }
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd = set.command(*group, "ping", "Send a ping event", [args]() -> Output {
      return ControlClient::open().post(webhookPath(args->registry, args->name) + "/ping");
    });
    addNames(cmd, *args);
  }
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd = set.command(
        *group, "list-events", "List deliveries, newest first, with the answers they got",
        [args]() -> Output {
          auto control = ControlClient::open();
          const auto top = parseCount(args->top, "--top").value_or(100);
          return pages(control, webhookPath(args->registry, args->name) + "/events", "events", top);
        });
    addNames(cmd, *args);
    cmd->add_option("--top", args->top, "At most this many (default 100)")->type_name("N");
  }
  {
    auto args = std::make_shared<WebhookArgs>();
    auto* cmd = set.command(
        *group, "get-config", "Show the service URI and custom headers", [args]() -> Output {
          return ControlClient::open().get(webhookPath(args->registry, args->name) + "/config");
        });
    addNames(cmd, *args);
  }

  auto* audit = set.group(root, "audit", "Read the audit log");
  {
    struct AuditArgs {
      std::string registry, since, identity, action, top;
    };
    auto args = std::make_shared<AuditArgs>();
    auto* cmd = set.command(
        *audit, "list", "Who did what, newest first",
        [args]() -> Output {
          auto control = ControlClient::open();
          std::string path =
              args->registry.empty() ? "/api/v1/audit" : registryPath(args->registry) + "/audit";
          std::string query;
          auto add = [&](std::string_view key, const std::string& value) {
            if (value.empty()) return;
            query += (query.empty() ? "?" : "&") + std::string(key) + "=" + escapeQuery(value);
          };
          add("since", args->since.empty() ? "" : sinceOf(args->since));
          add("identity", args->identity);
          add("action", args->action);
          const auto top = parseCount(args->top, "--top").value_or(100);
          return pages(control, path + query, "records", top);
        },
        "table");
    cmd->add_option("-r,--registry", args->registry,
                    "Only this registry (the operator may leave it out: every registry and the "
                    "deployment)")
        ->type_name("REGISTRY");
    cmd->add_option("--since", args->since, "From this RFC 3339 time, or this long ago: 1h, 7d")
        ->type_name("TIME");
    cmd->add_option("--identity", args->identity, "admin, token:NAME, operator, anonymous, ...")
        ->type_name("IDENTITY");
    cmd->add_option("--action", args->action,
                    "An action (manifest.push, login) or a family (manifest, token)")
        ->type_name("ACTION");
    cmd->add_option("--top", args->top, "At most this many (default 100)")->type_name("N");
    cmd->footer(
        "Examples:\n"
        "  berth audit list -r myregistry --since 1d --action manifest.push\n"
        "  berth audit list --action login -o json");
  }
}

}  // namespace berth::cli::client
