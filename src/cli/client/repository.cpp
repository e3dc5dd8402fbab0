// `berth repository …`: repositories, tags and manifests of a registry (`az acr repository`).
#include <algorithm>

#include "cli/client/args.hpp"
#include "cli/client/artifacts.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct RepositoryArgs {
  std::string registry;
  std::string repository;
  std::string image;
  std::string orderby;
  std::string top;
  bool detail = false;
  bool yes = false;
  std::string deleteEnabled;
  std::string writeEnabled;
  std::string readEnabled;
  std::string listEnabled;
};

// Exactly one of --repository and --image, as az requires.
void requireOneTarget(const RepositoryArgs& args) {
  if (args.repository.empty() == args.image.empty()) {
    throw ClientError("give either --repository or --image");
  }
}

void addRegistry(CLI::App* cmd, RepositoryArgs& args) {
  cmd->add_option("-n,--name", args.registry, "Name of the registry")
      ->type_name("NAME")
      ->required();
}

void addTarget(CLI::App* cmd, RepositoryArgs& args, const std::string& imageHelp) {
  cmd->add_option("--repository", args.repository, "Repository name, e.g. team/app")
      ->type_name("REPO");
  cmd->add_option("--image", args.image, imageHelp)->type_name("IMAGE");
}

// The API's pages are at most 1000 names; by time there are no further pages.
constexpr size_t kMaxPage = 1000;

Output listRepositories(const RepositoryArgs& args) {
  const auto top = parseCount(args.top, "--top");
  const std::string path = registryPath(args.registry) + "/repositories";
  if (!args.orderby.empty()) {
    const auto order = parseChoice(args.orderby, "--orderby", {"time_desc", "time_asc"});
    if (top && *top > kMaxPage) throw ClientError("--top is at most 1000 with --orderby");
    return ControlClient::open().get(path + "?orderby=" + order +
                                     "&n=" + std::to_string(top.value_or(kMaxPage)));
  }
  // Pages of the size asked for.
  return ControlClient::open().getAllPages(
      top ? path + "?n=" + std::to_string(std::min(*top, kMaxPage)) : path, top);
}

Output showTags(const RepositoryArgs& args) {
  std::string query;
  if (!args.orderby.empty()) {
    query = "?orderby=" + parseChoice(args.orderby, "--orderby", {"time_desc", "time_asc", "name"});
  }
  parseCount(args.top, "--top");
  const json::value reply =
      ControlClient::open().get(repositoryPath(args.registry, args.repository) + "/_tags" + query);
  json::array tags = firstItems(arrayField(reply, "tags"), args.top);
  if (args.detail) return tags;
  json::array names;
  for (const auto& tag : tags) {
    if (const auto* name = tag.is_object() ? tag.as_object().if_contains("name") : nullptr) {
      names.push_back(*name);
    }
  }
  return names;
}

Output showManifests(const RepositoryArgs& args) {
  auto control = ControlClient::open();
  json::array manifests =
      listManifests(control, args.registry, args.repository, args.orderby, args.top);
  if (args.detail) return manifests;
  // Without --detail, as az: the digest, its tags and when it was pushed.
  json::array brief;
  for (const auto& manifest : manifests) {
    if (!manifest.is_object()) continue;
    json::object entry;
    for (const char* key : {"digest", "tags", "createdTime"}) {
      if (const auto* v = manifest.as_object().if_contains(key)) entry[key] = *v;
    }
    brief.push_back(std::move(entry));
  }
  return brief;
}

Output show(const RepositoryArgs& args) {
  requireOneTarget(args);
  auto control = ControlClient::open();
  if (!args.repository.empty()) {
    return control.get(repositoryPath(args.registry, args.repository));
  }
  const Image image = parseImage(args.image, "--image");
  if (!image.tag.empty()) return control.get(tagPath(args.registry, image.repository, image.tag));
  return control.get(manifestPath(args.registry, image.repository, image.digest));
}

Output update(const RepositoryArgs& args) {
  requireOneTarget(args);
  json::object body = lockChange(args.deleteEnabled, args.writeEnabled);
  const auto read = parseBool(args.readEnabled, "--read-enabled");
  const auto list = parseBool(args.listEnabled, "--list-enabled");
  if (!args.image.empty() && (read || list)) {
    throw ClientError("--read-enabled and --list-enabled apply to a --repository, not an --image");
  }
  if (read) body["readEnabled"] = *read;
  if (list) body["listEnabled"] = *list;
  if (body.empty()) {
    throw ClientError(
        "nothing to update: give --delete-enabled, --write-enabled, --read-enabled or "
        "--list-enabled");
  }
  auto control = ControlClient::open();
  if (!args.repository.empty()) {
    return control.patch(repositoryPath(args.registry, args.repository), body);
  }
  const Image image = parseImage(args.image, "--image");
  if (!image.tag.empty()) {
    return control.patch(tagPath(args.registry, image.repository, image.tag), body);
  }
  return control.patch(manifestPath(args.registry, image.repository, image.digest), body);
}

Output remove(const RepositoryArgs& args) {
  requireOneTarget(args);
  requireYes(args.yes,
             "deleting " + (args.repository.empty() ? "image \"" + args.image + "\""
                                                    : "repository \"" + args.repository + "\""));
  auto control = ControlClient::open();
  if (!args.repository.empty()) {
    return control.remove(repositoryPath(args.registry, args.repository));
  }
  return deleteImage(control, args.registry, parseImage(args.image, "--image"));
}

Output untag(const RepositoryArgs& args) {
  const Image image = parseImage(args.image, "--image");
  if (image.tag.empty()) throw ClientError("untag needs --image REPOSITORY:TAG, not a digest");
  ControlClient::open().remove(tagPath(args.registry, image.repository, image.tag));
  return std::nullopt;
}

}  // namespace

void addRepositoryCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "repository", "Manage repositories, tags and manifests");
  group->footer(
      "Examples:\n"
      "  berth repository list -n myregistry\n"
      "  berth repository show-tags -n myregistry --repository team/app --orderby time_desc "
      "--top 5\n"
      "  berth repository update -n myregistry --image team/app:v1 --write-enabled false\n"
      "  berth repository delete -n myregistry --image team/app@sha256:... --yes");
  {
    auto args = std::make_shared<RepositoryArgs>();
    auto* cmd = set.command(*group, "list", "List the repositories of a registry",
                            [args] { return listRepositories(*args); });
    addRegistry(cmd, *args);
    cmd->add_option("--top", args->top, "List at most this many")->type_name("N");
    cmd->add_option("--orderby", args->orderby,
                    "time_desc or time_asc: by last update, the first --top (default and at "
                    "most 1000); without it, by name")
        ->type_name("ORDER");
  }
  {
    auto args = std::make_shared<RepositoryArgs>();
    auto* cmd = set.command(*group, "show", "Show a repository, or a tag or manifest with --image",
                            [args] { return show(*args); });
    addRegistry(cmd, *args);
    addTarget(cmd, *args, "A tag (REPOSITORY:TAG) or manifest (REPOSITORY@DIGEST)");
  }
  {
    auto args = std::make_shared<RepositoryArgs>();
    auto* cmd = set.command(*group, "show-tags", "List the tags of a repository",
                            [args] { return showTags(*args); });
    addRegistry(cmd, *args);
    cmd->add_option("--repository", args->repository, "Repository name, e.g. team/app")
        ->type_name("REPO")
        ->required();
    cmd->add_option("--orderby", args->orderby, "time_desc (default), time_asc or name")
        ->type_name("ORDER");
    cmd->add_option("--top", args->top, "List at most this many")->type_name("N");
    cmd->add_flag("--detail", args->detail, "Show each tag's digest, size, times and locks");
  }
  {
    auto args = std::make_shared<RepositoryArgs>();
    auto* cmd = set.command(*group, "show-manifests", "List the manifests of a repository",
                            [args] { return showManifests(*args); });
    addRegistry(cmd, *args);
    cmd->add_option("--repository", args->repository, "Repository name, e.g. team/app")
        ->type_name("REPO")
        ->required();
    cmd->add_option("--orderby", args->orderby, "time_desc (default) or time_asc")
        ->type_name("ORDER");
    cmd->add_option("--top", args->top, "List at most this many")->type_name("N");
    cmd->add_flag("--detail", args->detail,
                  "Show media type, size, platforms, referrers and locks too");
  }
  {
    auto args = std::make_shared<RepositoryArgs>();
    auto* cmd = set.command(*group, "update",
                            "Lock or unlock a repository, or a tag or manifest with --image",
                            [args] { return update(*args); });
    addRegistry(cmd, *args);
    addTarget(cmd, *args, "A tag (REPOSITORY:TAG) or manifest (REPOSITORY@DIGEST)");
    cmd->add_option("--delete-enabled", args->deleteEnabled, "Allow deleting: true or false")
        ->type_name("BOOL");
    cmd->add_option("--write-enabled", args->writeEnabled,
                    "Allow pushing, or moving the tag: true or false")
        ->type_name("BOOL");
    cmd->add_option("--read-enabled", args->readEnabled,
                    "Allow pulling from the repository: true or false")
        ->type_name("BOOL");
    cmd->add_option("--list-enabled", args->listEnabled,
                    "Show the repository in listings: true or false")
        ->type_name("BOOL");
    cmd->footer(
        "Examples:\n"
        "  berth repository update -n myregistry --repository team/app --delete-enabled false\n"
        "  berth repository update -n myregistry --image team/app:v1 --write-enabled false");
  }
  {
    auto args = std::make_shared<RepositoryArgs>();
    auto* cmd = set.command(
        *group, "delete",
        "Delete a repository, or an image (its manifest and every tag on it) with --image",
        [args] { return remove(*args); });
    addRegistry(cmd, *args);
    addTarget(cmd, *args, "REPOSITORY:TAG or REPOSITORY@DIGEST");
    cmd->add_flag("-y,--yes", args->yes, "Do not refuse: the deletion is intended");
  }
  {
    auto args = std::make_shared<RepositoryArgs>();
    auto* cmd = set.command(*group, "untag", "Remove a tag, keeping its manifest",
                            [args] { return untag(*args); });
    addRegistry(cmd, *args);
    cmd->add_option("--image", args->image, "REPOSITORY:TAG")->type_name("IMAGE")->required();
  }
  addTagHistoryCommands(set, *group);
  addDeletedRepositoryCommand(set, *group);
}

}  // namespace berth::cli::client
