// `berth login`: store credentials for a registry where docker, podman, skopeo and buildah
// find them (`az acr login`).
#include <iostream>

#include "cli/client/args.hpp"
#include "cli/client/auth_files.hpp"
#include "cli/client/control.hpp"
#include "cli/client/files.hpp"
#include "cli/client/groups.hpp"
#include "cli/client/login_server.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

// The user name that tells a registry the password is a refresh token (as on ACR).
constexpr const char* kRefreshTokenUser = "00000000-0000-0000-0000-000000000000";

struct LoginArgs {
  std::string registry;
  std::string username;
  std::string password;
  bool exposeToken = false;
  std::string user;  // --user: a person or service principal signs in to the server
  bool passwordStdin = false;
  std::string identityTokenFile;
};

std::string stringField(const json::value& value, std::string_view key) {
  const auto* field = value.is_object() ? value.as_object().if_contains(key) : nullptr;
  if (field == nullptr || !field->is_string()) {
    throw ClientError("the server's reply has no \"" + std::string(key) + "\"");
  }
  return std::string(field->as_string());
}

// Credentials given with --username are checked on the registry before they are stored, as
// `docker login` does.
void verifyCredentials(ControlClient& control, const LoginServer& server, const std::string& user,
                       const std::string& password) {
  const HttpResponse response = server.get(
      control.http(), server.url("/v2/"), {"Authorization: " + basicAuthorization(user, password)});
  if (response.status == 401) {
    throw ClientError("login to " + server.name() + " failed: wrong user name or password");
  }
  if (response.status != 200) {
    throw ClientError("login to " + server.name() + " failed: GET /v2/ answered HTTP " +
                      std::to_string(response.status));
  }
}

void storeCredentials(const std::string& loginServer, const std::string& user,
                      const std::string& password) {
  // Both files are read and merged before either is written: a broken one changes neither.
  const auto dockerFile = dockerConfigPath();
  const auto containersFile = containersAuthPath();
  const std::string docker = withAuth(dockerFile, loginServer, user, password);
  const std::string containers = withAuth(containersFile, loginServer, user, password);
  writePrivateFile(dockerFile, docker);
  writePrivateFile(containersFile, containers);
  std::cout << "Login Succeeded" << std::endl;
}

// `berth login --user NAME`: a session of the server for a person (or a service principal by
// its appId), stored for the commands that follow.
Output signIn(const LoginArgs& args) {
  if (!args.registry.empty() || !args.username.empty() || !args.identityTokenFile.empty()) {
    throw ClientError(
        "--user signs in to the server; it takes no --name, --username or "
        "--identity-token-file");
  }
  const std::string password = passwordOption(args.password, args.passwordStdin).value_or("");
  if (password.empty()) {
    throw ClientError("the password is empty: give --password or --password-stdin");
  }
  Endpoint endpoint = resolveEndpoint();
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint.server + "/api/v1/session";
  request.caFile = endpoint.caFile;
  request.headers = {"Content-Type: application/json", "Accept: application/json",
                     "X-Berth-Request: cli"};
  request.body = json::serialize(json::object{{"username", args.user}, {"password", password}});
  HttpClient http;
  const HttpResponse response = http.send(request);
  if (response.status != 201) throw ClientError("sign-in failed: " + errorMessage(response));
  std::string cookie;
  for (const auto& [name, value] : response.headers) {
    constexpr std::string_view kPrefix = "berth_session=";
    if (name == "set-cookie" && value.starts_with(kPrefix)) {
      cookie = value.substr(kPrefix.size(), value.find(';') - kPrefix.size());
    }
  }
  if (cookie.empty()) throw ClientError("the server's sign-in reply set no session cookie");
  saveSession(StoredSession{endpoint.server, cookie, args.user});
  json::error_code ec;
  json::value reply = json::parse(response.body, ec);
  if (ec) throw ClientError("the server's sign-in reply is not JSON");
  return reply;
}

// `berth login -n R --identity-token-file F`: an OpenID Connect ID token (GitHub Actions,
// GitLab CI, a Kubernetes service account) exchanged for a refresh token of the service
// principal whose federated credential trusts it; no secret stored anywhere.
Output exchangeIdentityToken(const LoginArgs& args) {
  if (!args.username.empty() || !args.password.empty()) {
    throw ClientError("--identity-token-file takes no --username or --password");
  }
  const std::string token = trimmed(readFile(args.identityTokenFile, "identity token file"));
  if (token.empty()) throw ClientError(args.identityTokenFile + " is empty");
  Endpoint endpoint = resolveEndpoint();
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint.server + "/oauth2/exchange";
  request.caFile = endpoint.caFile;
  request.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  request.body = "grant_type=access_token&service=" + escapeQuery(args.registry) +
                 "&access_token=" + escapeQuery(token);
  HttpClient http;
  const HttpResponse response = http.send(request);
  json::error_code ec;
  json::value reply = json::parse(response.body, ec);
  if (response.status != 200) {
    const auto* description =
        !ec && reply.is_object() ? reply.as_object().if_contains("error_description") : nullptr;
    throw ClientError("the identity token was refused: " +
                      (description != nullptr && description->is_string()
                           ? std::string(description->as_string())
                           : "HTTP " + std::to_string(response.status)));
  }
  if (ec) throw ClientError("the server's exchange reply is not JSON");
  const std::string loginServer = stringField(reply, "loginServer");
  const std::string refreshToken = stringField(reply, "refresh_token");
  if (args.exposeToken) {
    return json::object{{"accessToken", refreshToken},
                        {"loginServer", loginServer},
                        {"username", kRefreshTokenUser}};
  }
  storeCredentials(loginServer, kRefreshTokenUser, refreshToken);
  return std::nullopt;
}

Output login(const LoginArgs& args) {
  if (!args.user.empty()) return signIn(args);
  if (args.registry.empty()) throw ClientError("give --name (a registry) or --user");
  if (!args.identityTokenFile.empty()) return exchangeIdentityToken(args);
  if (args.exposeToken && !args.username.empty()) {
    throw ClientError("--expose-token gets a token for the operator; it takes no --username");
  }
  if (args.username.empty() != args.password.empty()) {
    throw ClientError("--username and --password go together");
  }
  auto control = ControlClient::open();
  std::string loginServer;
  std::string user = args.username;
  std::string password = args.password;
  if (user.empty()) {
    const json::value reply = control.post(registryPath(args.registry) + "/login");
    loginServer = stringField(reply, "loginServer");
    user = kRefreshTokenUser;
    password = stringField(reply, "refreshToken");
    if (args.exposeToken) {
      return json::object{
          {"accessToken", password}, {"loginServer", loginServer}, {"username", user}};
    }
  } else {
    loginServer = stringField(control.get(registryPath(args.registry)), "loginServer");
    verifyCredentials(control, LoginServer(control.endpoint(), loginServer), user, password);
  }
  storeCredentials(loginServer, user, password);
  return std::nullopt;
}

Output logout() {
  std::optional<StoredSession> session;
  try {
    session = loadSession();
  } catch (const ClientError&) {
    // A damaged session file: removed all the same.
  }
  if (!removeSession()) {
    std::cout << "Not signed in" << std::endl;
    return std::nullopt;
  }
  // Ends it on the server too; a server that is gone or a session already over is no error.
  try {
    Endpoint endpoint = resolveEndpoint();
    if (session && session->server == endpoint.server) {
      HttpRequest request;
      request.method = "DELETE";
      request.url = endpoint.server + "/api/v1/session";
      request.caFile = endpoint.caFile;
      request.headers = {"Cookie: berth_session=" + session->cookie, "X-Berth-Request: cli"};
      HttpClient http;
      (void)http.send(request);
    }
  } catch (const ClientError&) {
  }
  std::cout << "Signed out" << std::endl;
  return std::nullopt;
}

}  // namespace

void addLoginCommand(CommandSet& set, CLI::App& root) {
  auto args = std::make_shared<LoginArgs>();
  auto* cmd = set.command(root, "login", "Log docker, podman, skopeo and buildah in to a registry",
                          [args]() -> Output { return login(*args); });
  cmd->add_option("-n,--name,--registry", args->registry, "Name of the registry")
      ->type_name("NAME");
  cmd->add_option("-u,--username", args->username,
                  "Log in as this user (the admin user or a token) instead of with a refresh "
                  "token")
      ->type_name("USER");
  cmd->add_option("-p,--password", args->password, "Password of --username")->type_name("PASSWORD");
  cmd->add_flag("-t,--expose-token", args->exposeToken,
                "Print a refresh token instead of storing it (for `docker login` elsewhere)");
  cmd->add_option("--user", args->user,
                  "Sign in to the server as this user (or service principal, by its appId); "
                  "later commands act with its roles until `berth logout`")
      ->type_name("NAME");
  cmd->add_flag("--password-stdin", args->passwordStdin,
                "Read the password of --user from the first line of standard input");
  cmd->add_option("--identity-token-file", args->identityTokenFile,
                  "Exchange this OpenID Connect ID token (GitHub Actions, GitLab CI, a "
                  "Kubernetes service account) for a refresh token of the service principal "
                  "whose federated credential trusts it")
      ->type_name("FILE");
  cmd->footer(
      "Without --username, berth asks the server for a refresh token and stores it as the\n"
      "password of user 00000000-0000-0000-0000-000000000000. Credentials go to\n"
      "$DOCKER_CONFIG/config.json (~/.docker/config.json) and to $REGISTRY_AUTH_FILE\n"
      "($XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/<uid>/auth.json).\n\n"
      "Examples:\n"
      "  berth login -n myregistry\n"
      "  berth login -n myregistry -u ci-push -p \"$TOKEN_PASSWORD\"\n"
      "  berth login --user alice --password-stdin < password.txt\n"
      "  berth login --registry myregistry --identity-token-file \"$ID_TOKEN_FILE\"\n"
      "  berth login -n myregistry --expose-token --query accessToken -o tsv |\n"
      "    docker login myregistry.registry.example:5000 -u 00000000-0000-0000-0000-000000000000 "
      "--password-stdin");
}

void addLogoutCommand(CommandSet& set, CLI::App& root) {
  auto* cmd = set.command(root, "logout", "End the sign-in of `berth login --user`",
                          []() -> Output { return logout(); });
  cmd->footer("Removes the stored session and ends it on the server.");
}

}  // namespace berth::cli::client
