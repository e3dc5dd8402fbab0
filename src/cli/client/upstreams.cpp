// `berth credential-set …` (as `az acr credential-set`), `berth import` (as `az acr import`),
// `berth import-job list|show` and `berth cache …` (as `az acr cache`).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/client/args.hpp"
#include "cli/client/control.hpp"
#include "cli/client/files.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct CredentialSetArgs {
  std::string registry;
  std::string name;
  std::string loginServer;
  std::string username;
  std::string passwordFile;
  bool passwordStdin = false;
  bool yes = false;
};

std::string credentialSetPath(std::string_view registry, std::string_view name) {
  return registryPath(registry) + "/credential-sets/" + escapePath(name);
}

void addRegistry(CLI::App* cmd, std::string& registry) {
  cmd->add_option("-r,--registry", registry, "Name of the registry")
      ->type_name("REGISTRY")
      ->required();
}

void addNames(CLI::App* cmd, CredentialSetArgs& args) {
  cmd->add_option("-n,--name", args.name, "Name of the credential set")
      ->type_name("NAME")
      ->required();
  addRegistry(cmd, args.registry);
}

void addSecretOptions(CLI::App* cmd, CredentialSetArgs& args) {
  cmd->add_option("--login-server", args.loginServer,
                  "The upstream registry, HOST[:PORT] (Docker Hub: docker.io)")
      ->type_name("HOST");
  cmd->add_option("-u,--username", args.username, "The upstream's user name")
      ->type_name("USERNAME");
  cmd->add_option("--password-file", args.passwordFile,
                  "A file holding the upstream's password or access token (its first line)")
      ->type_name("FILE");
  cmd->add_flag("--password-stdin", args.passwordStdin,
                "Read the password from the first line of standard input");
}

// --password-file F or --password-stdin; nothing when neither is given.
std::optional<std::string> passwordOf(const CredentialSetArgs& args) {
  if (!args.passwordFile.empty() && args.passwordStdin) {
    throw ClientError("give --password-file or --password-stdin, not both");
  }
  if (!args.passwordFile.empty()) {
    auto text = trimmed(readFile(args.passwordFile, "--password-file"));
    if (const auto line = text.find('\n'); line != std::string::npos) text.resize(line);
    return text;
  }
  return passwordOption("", args.passwordStdin);
}

std::string mib(uint64_t bytes) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return out;
}

uint64_t count(const json::object& progress, std::string_view key) {
  const auto* v = progress.if_contains(key);
  return v && v->is_int64() ? static_cast<uint64_t>(v->as_int64())
                            : (v && v->is_uint64() ? v->as_uint64() : 0);
}

std::string textOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// "running: 2 manifests, 5 blobs copied (12.3 MiB), 1 already in the registry"
std::string progressLine(const json::object& job) {
  const auto* p = job.if_contains("progress");
  const json::object empty;
  const auto& progress = p && p->is_object() ? p->as_object() : empty;
  std::string line = textOf(job, "status") + ": " + std::to_string(count(progress, "manifests")) +
                     " manifests, " + std::to_string(count(progress, "blobsCopied")) +
                     " blobs copied (" + mib(count(progress, "bytesCopied")) + ")";
  const auto known = count(progress, "blobsMounted") + count(progress, "blobsPresent");
  if (known > 0) line += ", " + std::to_string(known) + " already in the registry";
  return line;
}

struct ImportArgs {
  std::string registry;
  std::string source;
  std::vector<std::string> images;
  std::string credentialSet;
  std::string username;
  std::string password;
  bool passwordStdin = false;
  std::string platform;
  bool force = false;
  bool noWait = false;
  std::string id;
  std::string top;
};

struct CacheArgs {
  std::string registry;
  std::string name;
  std::string source;
  std::string target;
  std::string credentialSet;
  bool yes = false;
};

std::string cacheRulePath(std::string_view registry, std::string_view name) {
  return registryPath(registry) + "/cache-rules/" + escapePath(name);
}

void addCacheCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "cache",
                          "Pull-through cache rules: pulls that miss come from another registry");
  group->footer(
      "A pull of the target repository that misses is fetched from the source and stored\n"
      "meanwhile; tags are checked with the source after cache_tag_ttl_seconds, and when the\n"
      "source cannot answer the stored copy is served (X-Berth-Cache: stale).\n\n"
      "Example:\n"
      "  berth cache create -r myregistry -n hub --source-repo 'docker.io/library/*' \\\n"
      "    --target-repo 'hub/*' --credential-set dockerhub\n"
      "  docker pull myregistry.registry.example/hub/alpine:3.20");
  auto names = [](CLI::App* cmd, CacheArgs& args) {
    cmd->add_option("-n,--name", args.name, "Name of the cache rule")
        ->type_name("NAME")
        ->required();
    addRegistry(cmd, args.registry);
  };
  {
    auto args = std::make_shared<CacheArgs>();
    auto* cmd = set.command(*group, "create", "Create a cache rule", [args]() -> Output {
      json::object body{{"name", args->name},
                        {"sourceRepository", args->source},
                        {"targetRepository", args->target}};
      if (!args->credentialSet.empty()) body["credentialSet"] = args->credentialSet;
      return ControlClient::open().post(registryPath(args->registry) + "/cache-rules", body);
    });
    names(cmd, *args);
    cmd->add_option("--source-repo", args->source,
                    "HOST/REPOSITORY, or HOST/PREFIX/* (Docker Hub: docker.io/library/NAME)")
        ->type_name("SOURCE")
        ->required();
    cmd->add_option("--target-repo", args->target,
                    "REPOSITORY, or PREFIX/* for a source ending in /*")
        ->type_name("TARGET")
        ->required();
    cmd->add_option("-c,--cred-set,--credential-set", args->credentialSet,
                    "A credential set of the registry for the source's host")
        ->type_name("SET");
  }
  {
    auto args = std::make_shared<CacheArgs>();
    auto* cmd =
        set.command(*group, "list", "List the cache rules of a registry", [args]() -> Output {
          return ControlClient::open().get(registryPath(args->registry) + "/cache-rules");
        });
    addRegistry(cmd, args->registry);
  }
  {
    auto args = std::make_shared<CacheArgs>();
    auto* cmd = set.command(*group, "show", "Show a cache rule", [args]() -> Output {
      return ControlClient::open().get(cacheRulePath(args->registry, args->name));
    });
    names(cmd, *args);
  }
  {
    auto args = std::make_shared<CacheArgs>();
    auto* cmd =
        set.command(*group, "update", "Change a cache rule's credential set", [args]() -> Output {
          return ControlClient::open().patch(cacheRulePath(args->registry, args->name),
                                             json::object{{"credentialSet", args->credentialSet}});
        });
    names(cmd, *args);
    cmd->add_option("-c,--cred-set,--credential-set", args->credentialSet,
                    "A credential set of the registry for the source's host (\"\" for none)")
        ->type_name("SET")
        ->required();
  }
  {
    auto args = std::make_shared<CacheArgs>();
    auto* cmd = set.command(
        *group, "delete", "Delete a cache rule (what it stored stays)", [args]() -> Output {
          requireYes(args->yes, "deleting cache rule \"" + args->name + "\"");
          ControlClient::open().remove(cacheRulePath(args->registry, args->name));
          return std::nullopt;
        });
    names(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not ask for confirmation");
  }
}

}  // namespace

void addUpstreamCommands(CommandSet& set, CLI::App& root) {
  addCacheCommands(set, root);
  auto* group =
      set.group(root, "credential-set", "Logins to other registries, for imports (sealed)");
  group->footer(
      "The password is kept sealed (XSalsa20-Poly1305, under the key in the server's data\n"
      "directory) and never shown again.\n\n"
      "Example:\n"
      "  berth credential-set create -r myregistry -n dockerhub --login-server docker.io \\\n"
      "    -u myuser --password-file ~/.dockerhub-token");
  {
    auto args = std::make_shared<CredentialSetArgs>();
    auto* cmd = set.command(*group, "create", "Create a credential set", [args]() -> Output {
      if (args->loginServer.empty()) throw ClientError("--login-server is required");
      if (args->username.empty()) throw ClientError("--username is required");
      auto password = passwordOf(*args);
      if (!password) throw ClientError("--password-file or --password-stdin is required");
      json::object body{{"name", args->name},
                        {"loginServer", args->loginServer},
                        {"username", args->username},
                        {"password", *password}};
      return ControlClient::open().post(registryPath(args->registry) + "/credential-sets", body);
    });
    addNames(cmd, *args);
    addSecretOptions(cmd, *args);
  }
  {
    auto args = std::make_shared<CredentialSetArgs>();
    auto* cmd =
        set.command(*group, "list", "List the credential sets of a registry", [args]() -> Output {
          return ControlClient::open().get(registryPath(args->registry) + "/credential-sets");
        });
    addRegistry(cmd, args->registry);
  }
  {
    auto args = std::make_shared<CredentialSetArgs>();
    auto* cmd = set.command(*group, "show", "Show a credential set", [args]() -> Output {
      return ControlClient::open().get(credentialSetPath(args->registry, args->name));
    });
    addNames(cmd, *args);
  }
  {
    auto args = std::make_shared<CredentialSetArgs>();
    auto* cmd = set.command(*group, "update", "Change a credential set", [args]() -> Output {
      json::object body;
      if (!args->loginServer.empty()) body["loginServer"] = args->loginServer;
      if (!args->username.empty()) body["username"] = args->username;
      if (auto password = passwordOf(*args)) body["password"] = *password;
      if (body.empty()) {
        throw ClientError(
            "nothing to update: give --login-server, --username, --password-file or "
            "--password-stdin");
      }
      return ControlClient::open().patch(credentialSetPath(args->registry, args->name), body);
    });
    addNames(cmd, *args);
    addSecretOptions(cmd, *args);
  }
  {
    auto args = std::make_shared<CredentialSetArgs>();
    auto* cmd = set.command(*group, "delete", "Delete a credential set", [args]() -> Output {
      requireYes(args->yes, "deleting credential set \"" + args->name + "\"");
      ControlClient::open().remove(credentialSetPath(args->registry, args->name));
      return std::nullopt;
    });
    addNames(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not ask for confirmation");
  }

  {
    auto args = std::make_shared<ImportArgs>();
    auto* cmd = set.command(
        root, "import", "Copy an image from another registry into a registry", [args]() -> Output {
          json::object body{{"source", args->source}};
          if (!args->images.empty()) {
            json::array targets;
            for (const auto& image : args->images) targets.emplace_back(image);
            body["targetTags"] = std::move(targets);
          }
          auto password = passwordOption(args->password, args->passwordStdin);
          if (!args->credentialSet.empty()) body["credentialSet"] = args->credentialSet;
          if (!args->username.empty()) body["username"] = args->username;
          if (password) body["password"] = *password;
          if (!args->platform.empty()) body["platform"] = args->platform;
          if (args->force) body["force"] = true;
          auto control = ControlClient::open();
          auto job = control.post(registryPath(args->registry) + "/imports", body);
          if (args->noWait || !job.is_object()) return job;
          const std::string id = textOf(job.as_object(), "id");
          const auto path = registryPath(args->registry) + "/imports/" + escapePath(id);
          std::string last;
          for (auto delay = std::chrono::milliseconds(100);;) {
            const auto status = textOf(job.as_object(), "status");
            const auto line = progressLine(job.as_object());
            if (line != last) {
              std::cerr << "berth: import " << id.substr(0, 8) << " " << line << "\n";
              last = line;
            }
            if (status == "succeeded") return job;
            if (status == "failed") {
              throw FailureAfterOutput(job, "import failed: " + textOf(job.as_object(), "error"));
            }
            std::this_thread::sleep_for(delay);
            delay = std::min(delay * 2, std::chrono::milliseconds(1000));
            job = control.get(path);
            if (!job.is_object()) throw ClientError("the import's status is not a JSON object");
          }
        });
    addRegistry(cmd, args->registry);
    cmd->add_option("--source", args->source,
                    "The image: HOST/REPOSITORY:TAG or HOST/REPOSITORY@DIGEST (without a host: "
                    "Docker Hub)")
        ->type_name("IMAGE")
        ->required();
    cmd->add_option("-t,--image", args->images,
                    "Target REPOSITORY[:TAG] (repeatable); default: the source's")
        ->type_name("TARGET");
    cmd->add_option("--credential-set", args->credentialSet,
                    "A credential set of the registry for the source's host")
        ->type_name("NAME");
    cmd->add_option("-u,--username", args->username, "The source registry's user name")
        ->type_name("USERNAME");
    cmd->add_option("-p,--password", args->password, "The source registry's password")
        ->type_name("PASSWORD");
    cmd->add_flag("--password-stdin", args->passwordStdin,
                  "Read the password from the first line of standard input");
    cmd->add_option("--platform", args->platform,
                    "Of an index, only this platform: OS/ARCH[/VARIANT]")
        ->type_name("PLATFORM");
    cmd->add_flag("--force", args->force, "Move target tags that point at another image");
    cmd->add_flag("--no-wait", args->noWait,
                  "Return at once with the import job (see `berth import-job show`)");
    cmd->footer(
        "The copy is made by the server: the bytes never pass through this machine. Blobs the\n"
        "registry holds already are linked, not copied again. Progress goes to stderr.\n\n"
        "Example:\n"
        "  berth import -r myregistry --source docker.io/library/alpine:3.20 \\\n"
        "    --image base/alpine:3.20 --credential-set dockerhub");
  }
  auto* jobs = set.group(root, "import-job", "Imports under way and finished");
  {
    auto args = std::make_shared<ImportArgs>();
    auto* cmd =
        set.command(*jobs, "list", "List the recent imports of a registry", [args]() -> Output {
          std::string path = registryPath(args->registry) + "/imports";
          if (auto n = parseCount(args->top, "--top")) {
            path += "?n=" + std::to_string(*n);
          }
          return ControlClient::open().get(path);
        });
    addRegistry(cmd, args->registry);
    cmd->add_option("--top", args->top, "At most this many (newest first)")->type_name("N");
  }
  {
    auto args = std::make_shared<ImportArgs>();
    auto* cmd = set.command(*jobs, "show", "Show an import and its progress", [args]() -> Output {
      return ControlClient::open().get(registryPath(args->registry) + "/imports/" +
                                       escapePath(args->id));
    });
    addRegistry(cmd, args->registry);
    cmd->add_option("--id", args->id, "The import's id")->type_name("ID")->required();
  }
}

}  // namespace berth::cli::client
