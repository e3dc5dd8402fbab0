// `berth repository …`: repositories, tags and manifests of a registry (`az acr repository`).
#include <algorithm>

#include "cli/client/args.hpp"
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

// `--image R:tag` or `--image R@sha256:…`.
struct Image {
  std::string repository;
  std::string tag;     // empty for a digest reference
  std::string digest;  // empty for a tag reference
};

Image parseImage(const std::string& text) {
  const auto bad = [&] {
    return ClientError("--image must be REPOSITORY:TAG or REPOSITORY@DIGEST, not \"" + text + "\"");
  };
  Image image;
  if (const auto at = text.find('@'); at != std::string::npos) {
    image.repository = text.substr(0, at);
    image.digest = text.substr(at + 1);
    if (image.digest.find(':') == std::string::npos) throw bad();
  } else {
    const auto colon = text.rfind(':');
    const auto slash = text.rfind('/');
    if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) throw bad();
    image.repository = text.substr(0, colon);
    image.tag = text.substr(colon + 1);
    if (image.tag.empty()) throw bad();
  }
  if (image.repository.empty()) throw bad();
  return image;
}

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

json::array firstItems(json::array items, const std::string& top) {
  if (auto count = parseCount(top, "--top"); count && items.size() > *count) items.resize(*count);
  return items;
}

const json::array& arrayField(const json::value& value, std::string_view key) {
  const auto* field = value.is_object() ? value.as_object().if_contains(key) : nullptr;
  if (field == nullptr || !field->is_array()) {
    throw ClientError("the server's reply has no \"" + std::string(key) + "\" list");
  }
  return field->as_array();
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
  std::string query;
  if (!args.orderby.empty()) {
    query = "?orderby=" + parseChoice(args.orderby, "--orderby", {"time_desc", "time_asc"});
  }
  parseCount(args.top, "--top");
  const json::value reply = ControlClient::open().get(
      repositoryPath(args.registry, args.repository) + "/_manifests" + query);
  json::array manifests = firstItems(arrayField(reply, "manifests"), args.top);
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
  const Image image = parseImage(args.image);
  if (!image.tag.empty()) return control.get(tagPath(args.registry, image.repository, image.tag));
  return control.get(manifestPath(args.registry, image.repository, image.digest));
}

Output update(const RepositoryArgs& args) {
  requireOneTarget(args);
  json::object body;
  if (auto v = parseBool(args.deleteEnabled, "--delete-enabled")) body["deleteEnabled"] = *v;
  if (auto v = parseBool(args.writeEnabled, "--write-enabled")) body["writeEnabled"] = *v;
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
  const Image image = parseImage(args.image);
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
  // An image goes with every tag on its manifest, as `az acr repository delete --image` does.
  const Image image = parseImage(args.image);
  std::string digest = image.digest;
  if (digest.empty()) {
    const json::value tag = control.get(tagPath(args.registry, image.repository, image.tag));
    const auto* field = tag.is_object() ? tag.as_object().if_contains("digest") : nullptr;
    if (field == nullptr || !field->is_string()) {
      throw ClientError("the server's reply has no \"digest\"");
    }
    digest = std::string(field->as_string());
  }
  const std::string path = manifestPath(args.registry, image.repository, digest);
  const json::value manifest = control.get(path);
  control.remove(path);
  return json::object{{"manifestsDeleted", json::array{json::value(digest)}},
                      {"tagsDeleted", arrayField(manifest, "tags")}};
}

Output untag(const RepositoryArgs& args) {
  const Image image = parseImage(args.image);
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
    auto* cmd =
        set.command(*group, "list", "List the repositories of a registry", [args]() -> Output {
          const auto top = parseCount(args->top, "--top");
          std::string path = registryPath(args->registry) + "/repositories";
          // Pages of the size asked for; the API caps them at 1000.
          if (top) path += "?n=" + std::to_string(std::min<size_t>(*top, 1000));
          return ControlClient::open().getAllPages(path, top);
        });
    addRegistry(cmd, *args);
    cmd->add_option("--top", args->top, "List at most this many")->type_name("N");
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
}

}  // namespace berth::cli::client
