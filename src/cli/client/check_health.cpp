// `berth check-health`: can this machine reach the server and one of its registries, log in
// and get a token (`az acr check-health`), all without DNS.
#include <strings.h>

#include <map>

#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"
#include "cli/client/login_server.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

constexpr const char* kRefreshTokenUser = "00000000-0000-0000-0000-000000000000";

struct CheckHealthArgs {
  std::string registry;
  bool ignoreErrors = false;
};

class Report {
 public:
  void ok(const std::string& name, const std::string& detail) { add(name, true, detail); }
  void failed(const std::string& name, const std::string& detail) { add(name, false, detail); }
  // The checks that need an earlier one that failed.
  void notRun(std::initializer_list<const char*> names, const std::string& because) {
    for (const char* name : names) failed(name, "not run: " + because);
  }
  size_t failures() const { return failures_; }
  size_t size() const { return checks_.size(); }
  const json::array& checks() const { return checks_; }

 private:
  void add(const std::string& name, bool passed, const std::string& detail) {
    if (!passed) ++failures_;
    checks_.push_back(
        json::object{{"name", name}, {"status", passed ? "ok" : "failed"}, {"detail", detail}});
  }
  json::array checks_;
  size_t failures_ = 0;
};

// The parameters of `WWW-Authenticate: Bearer realm="…",service="…"`; empty unless Bearer.
std::map<std::string, std::string> bearerChallenge(const std::string& header) {
  std::map<std::string, std::string> params;
  if (header.size() < 7 || strncasecmp(header.c_str(), "Bearer ", 7) != 0) return params;
  size_t i = 7;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    const auto eq = header.find('=', i);
    if (eq == std::string::npos) break;
    const std::string key = header.substr(i, eq - i);
    std::string value;
    i = eq + 1;
    if (i < header.size() && header[i] == '"') {
      const auto close = header.find('"', i + 1);
      if (close == std::string::npos) break;
      value = header.substr(i + 1, close - i - 1);
      i = close + 1;
    } else {
      const auto comma = header.find(',', i);
      value = header.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
      i = comma == std::string::npos ? header.size() : comma;
    }
    params[key] = value;
  }
  return params;
}

std::string stringField(const json::value& value, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    const auto* field = value.is_object() ? value.as_object().if_contains(key) : nullptr;
    if (field != nullptr && field->is_string() && !field->as_string().empty()) {
      return std::string(field->as_string());
    }
  }
  return {};
}

// Runs the checks in order; a check that fails stops the ones that depend on it.
Report runChecks(const std::string& registry) {
  Report report;
  ControlClient control(resolveEndpoint());
  const Endpoint& endpoint = control.endpoint();
  const UrlParts server = parseUrl(endpoint.server, "the server");
  const bool https = server.scheme == "https";

  try {
    HttpRequest request;
    request.url = endpoint.server + "/healthz";
    request.caFile = endpoint.caFile;
    const HttpResponse health = control.http().send(request);
    if (health.status != 200) {
      report.failed("server", "GET " + endpoint.server + "/healthz answered HTTP " +
                                  std::to_string(health.status));
    } else {
      report.ok("server", "GET " + endpoint.server + "/healthz answered 200");
    }
    if (https) {
      report.ok("tls", endpoint.caFile.empty() ? "certificate verified with the system's CAs"
                                               : "certificate verified with " + endpoint.caFile);
    } else {
      report.ok("tls", "plain HTTP");
    }
    if (health.status != 200) {
      report.notRun({"registry", "challenge", "refresh-token", "access-token", "v2-access"},
                    "the server is not healthy");
      return report;
    }
  } catch (const TransportError& e) {
    report.failed("server", e.what());
    if (!https) {
      report.ok("tls", "plain HTTP");
    } else if (e.tls()) {
      report.failed("tls", e.what());
    } else {
      report.failed("tls", "not run: the server is unreachable");
    }
    report.notRun({"registry", "challenge", "refresh-token", "access-token", "v2-access"},
                  "the server is unreachable");
    return report;
  }

  std::string loginServerName;
  try {
    loginServerName = stringField(control.get(registryPath(registry)), {"loginServer"});
    if (loginServerName.empty()) throw ClientError("the server's reply has no \"loginServer\"");
    report.ok("registry", "\"" + registry + "\" answers at " + loginServerName);
  } catch (const ClientError& e) {
    report.failed("registry", e.what());
    report.notRun({"challenge", "refresh-token", "access-token", "v2-access"},
                  "the registry is unknown");
    return report;
  }

  const LoginServer loginServer(endpoint, loginServerName);
  const std::string v2 = loginServer.url("/v2/");
  std::map<std::string, std::string> challenge;
  try {
    const HttpResponse reply = loginServer.get(control.http(), v2, {});
    challenge = bearerChallenge(reply.header("www-authenticate").value_or(""));
    if (reply.status != 401 || challenge["realm"].empty()) {
      report.failed("challenge", "GET " + v2 + " answered HTTP " + std::to_string(reply.status) +
                                     (challenge.empty() ? " without" : " with") +
                                     " a Bearer challenge (want 401 with one)");
    } else {
      report.ok("challenge", "GET " + v2 + " answered 401 with realm " + challenge["realm"]);
    }
  } catch (const ClientError& e) {
    report.failed("challenge", e.what());
  }

  std::string refreshToken;
  try {
    refreshToken = stringField(control.post(registryPath(registry) + "/login"), {"refreshToken"});
    if (refreshToken.empty()) throw ClientError("the server's reply has no \"refreshToken\"");
    report.ok("refresh-token", "POST /api/v1/registries/" + registry + "/login gave one");
  } catch (const ClientError& e) {
    report.failed("refresh-token", e.what());
  }
  if (challenge["realm"].empty() || refreshToken.empty()) {
    report.notRun({"access-token", "v2-access"}, "no challenge or no refresh token");
    return report;
  }

  std::string accessToken;
  const std::string& realm = challenge["realm"];
  try {
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&") +
                      "service=" + escapeQuery(challenge["service"]);
    const HttpResponse reply =
        loginServer.get(control.http(), url,
                        {"Authorization: " + basicAuthorization(kRefreshTokenUser, refreshToken)});
    if (reply.status == 200) {
      json::error_code ec;
      accessToken = stringField(json::parse(reply.body, ec), {"access_token", "token"});
    }
    if (accessToken.empty()) {
      report.failed("access-token", "GET " + realm + " answered HTTP " +
                                        std::to_string(reply.status) +
                                        (reply.status == 200 ? " without a token" : ""));
    } else {
      report.ok("access-token", "GET " + realm + " gave one for the refresh token");
    }
  } catch (const ClientError& e) {
    report.failed("access-token", e.what());
  }
  if (accessToken.empty()) {
    report.notRun({"v2-access"}, "no access token");
    return report;
  }

  try {
    const HttpResponse reply =
        loginServer.get(control.http(), v2, {"Authorization: Bearer " + accessToken});
    if (reply.status == 200) {
      report.ok("v2-access", "GET " + v2 + " with the access token answered 200");
    } else {
      report.failed("v2-access", "GET " + v2 + " with the access token answered HTTP " +
                                     std::to_string(reply.status));
    }
  } catch (const ClientError& e) {
    report.failed("v2-access", e.what());
  }
  return report;
}

}  // namespace

void addCheckHealthCommand(CommandSet& set, CLI::App& root) {
  auto args = std::make_shared<CheckHealthArgs>();
  auto* cmd = set.command(
      root, "check-health",
      "Check that the server and a registry answer, and that logging in to it works",
      [args]() -> Output {
        const Report report = runChecks(args->registry);
        if (report.failures() > 0 && !args->ignoreErrors) {
          throw FailureAfterOutput(report.checks(), std::to_string(report.failures()) + " of " +
                                                        std::to_string(report.size()) +
                                                        " health checks failed");
        }
        return report.checks();
      });
  cmd->add_option("-n,--name", args->registry, "Name of the registry")
      ->type_name("NAME")
      ->required();
  cmd->add_flag("--ignore-errors", args->ignoreErrors,
                "Exit with status 0 even when a check fails");
  cmd->footer(
      "Checks, in order: server (GET /healthz), tls (certificate verified, or plain HTTP),\n"
      "registry (the control API knows it), challenge (its login server answers GET /v2/ with\n"
      "401 and a Bearer challenge), refresh-token (POST .../login), access-token (the\n"
      "challenge's realm gives a token for it) and v2-access (GET /v2/ with that token is\n"
      "200). The login server is reached at the configured server's address, without DNS.\n\n"
      "Example:\n"
      "  berth check-health -n myregistry -o table");
}

}  // namespace berth::cli::client
