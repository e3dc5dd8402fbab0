// `berth user …`, `berth sp …` and `berth role assignment …`: people, service principals and
// their roles (`az ad user`, `az ad sp`, `az role assignment`).
#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

const std::string kUsers = "/api/v1/users";
const std::string kServicePrincipals = "/api/v1/service-principals";
const std::string kRoleAssignments = "/api/v1/role-assignments";

std::string userPath(const std::string& name) { return kUsers + "/" + escapePath(name); }
std::string spPath(const std::string& id) { return kServicePrincipals + "/" + escapePath(id); }

struct PrincipalArgs {
  std::string name;
  std::string id;
  std::string password;
  bool passwordStdin = false;
  std::string role;
  std::vector<std::string> scopes;
  std::string years;
  std::string endDate;
  bool append = false;
  std::string keyId;
  std::string issuer, subject, audience;
  std::string assignee, scope;
  std::vector<std::string> ids;
  bool yes = false;
};

// --password or --password-stdin; nothing when neither is given.
std::optional<std::string> passwordOf(const PrincipalArgs& args) {
  auto password = passwordOption(args.password, args.passwordStdin);
  if (password && password->empty()) throw ClientError("standard input holds no password");
  return password;
}

void addPasswordOptions(CLI::App* cmd, PrincipalArgs& args) {
  cmd->add_option("-p,--password", args.password, "The password (12 characters or more)")
      ->type_name("PASSWORD");
  cmd->add_flag("--password-stdin", args.passwordStdin,
                "Read the password from the first line of standard input");
}

std::optional<uint64_t> yearsOf(const PrincipalArgs& args) {
  auto years = parseCount(args.years, "--years");
  if (!years) return std::nullopt;
  return static_cast<uint64_t>(*years);
}

void addYears(CLI::App* cmd, PrincipalArgs& args) {
  cmd->add_option("--years", args.years, "The client secret's life in years (1 to 10; default 1)")
      ->type_name("YEARS");
  cmd->add_option("--end-date", args.endDate,
                  "The client secret ends at this UTC time instead, e.g. 2027-06-30T00:00:00Z")
      ->type_name("TIME");
}

// --years and --end-date into the request body.
void addLife(json::object& body, const PrincipalArgs& args) {
  if (auto years = yearsOf(args)) body["years"] = *years;
  if (!args.endDate.empty()) body["endDate"] = args.endDate;
}

void addYes(CLI::App* cmd, PrincipalArgs& args) {
  cmd->add_flag("-y,--yes", args.yes, "Do not refuse: the deletion is intended");
}

// ---- users ----

void addUserCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "user", "People who sign in with a password and act by roles");
  auto args = std::make_shared<PrincipalArgs>();

  auto* create = set.command(*group, "create", "Create a user", [args]() -> Output {
    json::object body{{"name", args->name}};
    if (auto password = passwordOf(*args)) body["password"] = *password;
    return ControlClient::open().post(kUsers, body);
  });
  create->add_option("-n,--name", args->name, "The user's name (its sign-in name)")
      ->type_name("NAME")
      ->required();
  addPasswordOptions(create, *args);
  create->footer(
      "Without a password the user cannot sign in until `berth user set-password`.\n\n"
      "Example:\n  berth user create --name alice --password-stdin < password.txt");

  set.command(
      *group, "list", "List users", []() -> Output { return ControlClient::open().get(kUsers); },
      "table");

  auto* show = set.command(*group, "show", "Show a user", [args]() -> Output {
    return ControlClient::open().get(userPath(args->name));
  });
  show->add_option("-n,--name", args->name, "The user's name")->type_name("NAME")->required();

  auto* remove =
      set.command(*group, "delete", "Delete a user and its role assignments", [args]() -> Output {
        requireYes(args->yes, "deleting user \"" + args->name + "\"");
        ControlClient::open().remove(userPath(args->name));
        return std::nullopt;
      });
  remove->add_option("-n,--name", args->name, "The user's name")->type_name("NAME")->required();
  addYes(remove, *args);

  auto* setPassword =
      set.command(*group, "set-password", "Give a user a new password", [args]() -> Output {
        auto password = passwordOf(*args);
        if (!password) throw ClientError("give --password or --password-stdin");
        ControlClient::open().post(userPath(args->name) + "/password",
                                   json::object{{"password", *password}});
        return std::nullopt;
      });
  setPassword->add_option("-n,--name", args->name, "The user's name")
      ->type_name("NAME")
      ->required();
  addPasswordOptions(setPassword, *args);
  setPassword->footer("Sessions signed in with the old password end at once.");
}

// ---- service principals ----

void addFederatedCredentialCommands(CommandSet& set, CLI::App& sp) {
  auto* group = set.group(sp, "federated-credential",
                          "Trust OpenID Connect ID tokens of an issuer (workload identity)");
  auto args = std::make_shared<PrincipalArgs>();
  auto addSp = [&](CLI::App* cmd) {
    cmd->add_option("--sp,--id", args->id, "The service principal's appId")
        ->type_name("APP_ID")
        ->required();
  };
  auto* create = set.command(*group, "create", "Add a federated credential", [args]() -> Output {
    json::object body{{"name", args->name}, {"issuer", args->issuer}, {"subject", args->subject}};
    if (!args->audience.empty()) body["audience"] = args->audience;
    return ControlClient::open().post(spPath(args->id) + "/federated-credentials", body);
  });
  addSp(create);
  create->add_option("-n,--name", args->name, "The credential's name")
      ->type_name("NAME")
      ->required();
  create->add_option("--issuer", args->issuer, "The issuer's URL, as the tokens' iss claim")
      ->type_name("URL")
      ->required();
  create
      ->add_option("--subject", args->subject,
                   "The tokens' sub claim, exactly, or a prefix of it ending in *")
      ->type_name("SUBJECT")
      ->required();
  create
      ->add_option("--audience", args->audience,
                   "An audience the tokens must hold (default api://BerthTokenExchange)")
      ->type_name("AUDIENCE");
  create->footer(
      "Examples:\n"
      "  berth sp federated-credential create --sp $APP_ID --name github-main \\\n"
      "    --issuer https://token.actions.githubusercontent.com \\\n"
      "    --subject repo:org/app:ref:refs/heads/main\n"
      "  berth sp federated-credential create --sp $APP_ID --name cluster \\\n"
      "    --issuer https://kubernetes.example --subject 'system:serviceaccount:ci:*'");

  auto* list = set.command(
      *group, "list", "List a service principal's federated credentials",
      [args]() -> Output {
        return ControlClient::open().get(spPath(args->id) + "/federated-credentials");
      },
      "table");
  addSp(list);

  auto* remove = set.command(*group, "delete", "Delete a federated credential", [args]() -> Output {
    ControlClient::open().remove(spPath(args->id) + "/federated-credentials/" +
                                 escapePath(args->name));
    return std::nullopt;
  });
  addSp(remove);
  remove->add_option("-n,--name", args->name, "The credential's name")
      ->type_name("NAME")
      ->required();
}

void addServicePrincipalCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "sp", "Service principals: machines that act by roles");
  auto args = std::make_shared<PrincipalArgs>();

  auto* create =
      set.command(*group, "create-for-rbac", "Create a service principal, and assign it a role",
                  [args]() -> Output {
                    if (args->role.empty() != args->scopes.empty()) {
                      throw ClientError("--role and --scopes go together");
                    }
                    json::object body{{"name", args->name}};
                    if (!args->role.empty()) {
                      body["role"] = args->role;
                      json::array scopes;
                      for (const auto& s : args->scopes) scopes.emplace_back(s);
                      body["scopes"] = std::move(scopes);
                    }
                    addLife(body, *args);
                    return ControlClient::open().post(kServicePrincipals, body);
                  });
  create->add_option("-n,--name", args->name, "Its display name")->type_name("NAME")->required();
  create
      ->add_option("--role", args->role,
                   "AcrPull, AcrPush, AcrDelete, Reader, Contributor or Owner")
      ->type_name("ROLE");
  create
      ->add_option("--scopes", args->scopes,
                   "Where the role applies: /, /registries/R or /registries/R/repositories/P")
      ->type_name("SCOPE");
  addYears(create, *args);
  create->footer(
      "Prints the appId and the client secret (shown once): `docker login -u <appId> -p "
      "<secret> <login server>`.\n\n"
      "Example:\n  berth sp create-for-rbac --name ci --role AcrPush --scopes "
      "/registries/myregistry");

  set.command(
      *group, "list", "List service principals",
      []() -> Output { return ControlClient::open().get(kServicePrincipals); }, "table");

  auto* show = set.command(*group, "show", "Show a service principal", [args]() -> Output {
    return ControlClient::open().get(spPath(args->id));
  });
  show->add_option("--id", args->id, "Its appId")->type_name("APP_ID")->required();

  auto* remove = set.command(
      *group, "delete", "Delete a service principal and its role assignments", [args]() -> Output {
        requireYes(args->yes, "deleting service principal " + args->id);
        ControlClient::open().remove(spPath(args->id));
        return std::nullopt;
      });
  remove->add_option("--id", args->id, "Its appId")->type_name("APP_ID")->required();
  addYes(remove, *args);

  auto* credential = set.group(*group, "credential", "Client secrets of a service principal");
  auto* reset = set.command(*credential, "reset", "Make a new client secret", [args]() -> Output {
    json::object body;
    if (args->append) body["append"] = true;
    addLife(body, *args);
    return ControlClient::open().post(spPath(args->id) + "/credentials", body);
  });
  reset->add_option("--id", args->id, "Its appId")->type_name("APP_ID")->required();
  reset->add_flag("--append", args->append, "Keep the secrets it has (default: replace them)");
  addYears(reset, *args);

  auto* listCredentials = set.command(
      *credential, "list", "List its client secrets (key ids and end times)",
      [args]() -> Output {
        auto sp = ControlClient::open().get(spPath(args->id));
        const auto* credentials =
            sp.is_object() ? sp.as_object().if_contains("credentials") : nullptr;
        if (credentials == nullptr) throw ClientError("the server's reply has no credentials");
        return *credentials;
      },
      "table");
  listCredentials->add_option("--id", args->id, "Its appId")->type_name("APP_ID")->required();

  auto* deleteCredential =
      set.command(*credential, "delete", "Delete a client secret", [args]() -> Output {
        ControlClient::open().remove(spPath(args->id) + "/credentials/" + escapePath(args->keyId));
        return std::nullopt;
      });
  deleteCredential->add_option("--id", args->id, "Its appId")->type_name("APP_ID")->required();
  deleteCredential->add_option("--key-id", args->keyId, "The secret's key id")
      ->type_name("KEY_ID")
      ->required();

  addFederatedCredentialCommands(set, *group);
}

// ---- role assignments ----

void addRoleCommands(CommandSet& set, CLI::App& root) {
  auto* role = set.group(root, "role", "Roles of people and service principals");
  auto* group = set.group(*role, "assignment", "Role assignments at a scope");
  auto args = std::make_shared<PrincipalArgs>();

  auto* create = set.command(*group, "create", "Assign a role", [args]() -> Output {
    return ControlClient::open().post(
        kRoleAssignments,
        json::object{{"assignee", args->assignee}, {"role", args->role}, {"scope", args->scope}});
  });
  create->add_option("--assignee", args->assignee, "A user's name or a service principal's appId")
      ->type_name("ID")
      ->required();
  create
      ->add_option("--role", args->role,
                   "AcrPull, AcrPush, AcrDelete, Reader, Contributor or Owner")
      ->type_name("ROLE")
      ->required();
  create
      ->add_option("--scope", args->scope, "/, /registries/R or /registries/R/repositories/PATTERN")
      ->type_name("SCOPE")
      ->required();
  create->footer(
      "Example:\n  berth role assignment create --assignee alice --role AcrPush \\\n"
      "    --scope '/registries/myregistry/repositories/team/*'");

  auto* list = set.command(
      *group, "list", "List role assignments",
      [args]() -> Output {
        std::string path = kRoleAssignments;
        char sep = '?';
        if (!args->assignee.empty()) {
          path += sep + std::string("assignee=") + escapeQuery(args->assignee);
          sep = '&';
        }
        if (!args->scope.empty()) path += sep + std::string("scope=") + escapeQuery(args->scope);
        return ControlClient::open().get(path);
      },
      "table");
  list->add_option("--assignee", args->assignee, "Only this principal's")->type_name("ID");
  list->add_option("--scope", args->scope, "Only those at this scope")->type_name("SCOPE");

  auto* remove = set.command(*group, "delete", "Delete role assignments", [args]() -> Output {
    auto control = ControlClient::open();
    for (const auto& id : args->ids) control.remove(kRoleAssignments + "/" + escapePath(id));
    return std::nullopt;
  });
  remove->add_option("--ids", args->ids, "Their ids")->type_name("ID")->required();
}

}  // namespace

void addPrincipalCommands(CommandSet& set, CLI::App& root) {
  addUserCommands(set, root);
  addServicePrincipalCommands(set, root);
  addRoleCommands(set, root);
}

}  // namespace berth::cli::client
