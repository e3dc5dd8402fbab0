// `berth login`: store credentials for a registry where docker, podman, skopeo and buildah
// find them (`az acr login`).
#include <iostream>

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

Output login(const LoginArgs& args) {
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
  // Both files are read and merged before either is written: a broken one changes neither.
  const auto dockerFile = dockerConfigPath();
  const auto containersFile = containersAuthPath();
  const std::string docker = withAuth(dockerFile, loginServer, user, password);
  const std::string containers = withAuth(containersFile, loginServer, user, password);
  writePrivateFile(dockerFile, docker);
  writePrivateFile(containersFile, containers);
  std::cout << "Login Succeeded" << std::endl;
  return std::nullopt;
}

}  // namespace

void addLoginCommand(CommandSet& set, CLI::App& root) {
  auto args = std::make_shared<LoginArgs>();
  auto* cmd = set.command(root, "login", "Log docker, podman, skopeo and buildah in to a registry",
                          [args]() -> Output { return login(*args); });
  cmd->add_option("-n,--name", args->registry, "Name of the registry")
      ->type_name("NAME")
      ->required();
  cmd->add_option("-u,--username", args->username,
                  "Log in as this user (the admin user or a token) instead of with a refresh "
                  "token")
      ->type_name("USER");
  cmd->add_option("-p,--password", args->password, "Password of --username")->type_name("PASSWORD");
  cmd->add_flag("-t,--expose-token", args->exposeToken,
                "Print a refresh token instead of storing it (for `docker login` elsewhere)");
  cmd->footer(
      "Without --username, berth asks the server for a refresh token and stores it as the\n"
      "password of user 00000000-0000-0000-0000-000000000000. Credentials go to\n"
      "$DOCKER_CONFIG/config.json (~/.docker/config.json) and to $REGISTRY_AUTH_FILE\n"
      "($XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/<uid>/auth.json).\n\n"
      "Examples:\n"
      "  berth login -n myregistry\n"
      "  berth login -n myregistry -u ci-push -p \"$TOKEN_PASSWORD\"\n"
      "  berth login -n myregistry --expose-token --query accessToken -o tsv |\n"
      "    docker login myregistry.registry.example:5000 -u 00000000-0000-0000-0000-000000000000 "
      "--password-stdin");
}

}  // namespace berth::cli::client
