// `berth manifest …`: the manifests of a registry by image reference (`az acr manifest`).
#include "cli/client/args.hpp"
#include "cli/client/artifacts.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

struct ManifestArgs {
  std::string registry;
  std::string image;
  std::string repository;
  std::string artifactType;
  std::string orderby;
  std::string top;
  std::string deleteEnabled;
  std::string writeEnabled;
  bool yes = false;
};

void addRegistry(CLI::App* cmd, ManifestArgs& args) {
  cmd->add_option("-r,--registry", args.registry, "Name of the registry")
      ->type_name("REGISTRY")
      ->required();
}

void addImage(CLI::App* cmd, ManifestArgs& args) {
  cmd->add_option("image", args.image,
                  "REPOSITORY:TAG or REPOSITORY@DIGEST, optionally after the registry's login "
                  "server and a slash")
      ->type_name("IMAGE")
      ->required();
}

// The Manifest object of the API for the image named on the command line, and its path.
struct Shown {
  std::string path;
  json::value manifest;
};

Shown showImage(ControlClient& control, const ManifestArgs& args) {
  const Image image = parseImageOf(control, args.registry, args.image, "IMAGE");
  const std::string digest = manifestDigest(control, args.registry, image);
  std::string path = manifestPath(args.registry, image.repository, digest);
  json::value manifest = control.get(path);
  return {std::move(path), std::move(manifest)};
}

Output show(const ManifestArgs& args) {
  auto control = ControlClient::open();
  const json::value manifest = showImage(control, args).manifest;
  const auto* document =
      manifest.is_object() ? manifest.as_object().if_contains("manifest") : nullptr;
  if (document == nullptr || !document->is_object()) {
    throw ClientError("the server's reply has no \"manifest\" object");
  }
  return *document;
}

// Filtered here: the API lists every referrer of a manifest with its artifactType.
Output listReferrers(const ManifestArgs& args) {
  auto control = ControlClient::open();
  const json::value manifest = showImage(control, args).manifest;
  json::array out;
  for (const auto& referrer : arrayField(manifest, "referrers")) {
    const auto* type =
        referrer.is_object() ? referrer.as_object().if_contains("artifactType") : nullptr;
    const bool matches = args.artifactType.empty() || (type != nullptr && type->is_string() &&
                                                       type->as_string() == args.artifactType);
    if (matches) out.push_back(referrer);
  }
  return out;
}

Output updateMetadata(const ManifestArgs& args) {
  const json::object body = lockChange(args.deleteEnabled, args.writeEnabled);
  if (body.empty())
    throw ClientError("nothing to update: give --delete-enabled or --write-enabled");
  auto control = ControlClient::open();
  return control.patch(showImage(control, args).path, body);
}

Output remove(const ManifestArgs& args) {
  requireYes(args.yes, "deleting manifest \"" + args.image + "\"");
  auto control = ControlClient::open();
  deleteImage(control, args.registry, parseImageOf(control, args.registry, args.image, "IMAGE"));
  return std::nullopt;
}

}  // namespace

void addManifestCommands(CommandSet& set, CLI::App& root) {
  auto* group = set.group(root, "manifest", "Show, list, lock and delete manifests");
  group->footer(
      "IMAGE is REPOSITORY:TAG or REPOSITORY@DIGEST, also after the registry's login server\n"
      "(myregistry.registry.example:5000/team/app:v1); a tag stands for its manifest.\n\n"
      "Examples:\n"
      "  berth manifest show -r myregistry team/app:v1\n"
      "  berth manifest list-referrers -r myregistry team/app:v1 "
      "--artifact-type application/vnd.example.sig\n"
      "  berth manifest update-metadata -r myregistry team/app@sha256:... --delete-enabled false");
  {
    auto args = std::make_shared<ManifestArgs>();
    auto* cmd = set.command(*group, "show", "Show a manifest itself (its JSON content)",
                            [args] { return show(*args); });
    addRegistry(cmd, *args);
    addImage(cmd, *args);
  }
  {
    auto args = std::make_shared<ManifestArgs>();
    auto* cmd = set.command(*group, "list-referrers",
                            "List the manifests whose subject is this one (signatures, SBOMs)",
                            [args] { return listReferrers(*args); });
    addRegistry(cmd, *args);
    addImage(cmd, *args);
    cmd->add_option("--artifact-type", args->artifactType, "Only referrers of this artifact type")
        ->type_name("TYPE");
  }
  {
    auto args = std::make_shared<ManifestArgs>();
    auto* cmd = set.command(
        *group, "list-metadata", "List the manifests of a repository with their details",
        [args]() -> Output {
          auto control = ControlClient::open();
          return listManifests(control, args->registry, args->repository, args->orderby, args->top);
        });
    addRegistry(cmd, *args);
    cmd->add_option("-n,--name", args->repository, "Repository name, e.g. team/app")
        ->type_name("REPO")
        ->required();
    cmd->add_option("--orderby", args->orderby, "time_desc (default) or time_asc")
        ->type_name("ORDER");
    cmd->add_option("--top", args->top, "List at most this many")->type_name("N");
  }
  {
    auto args = std::make_shared<ManifestArgs>();
    auto* cmd = set.command(*group, "update-metadata", "Lock or unlock a manifest",
                            [args] { return updateMetadata(*args); });
    addRegistry(cmd, *args);
    addImage(cmd, *args);
    cmd->add_option("--delete-enabled", args->deleteEnabled,
                    "Allow deleting or untagging the manifest: true or false")
        ->type_name("BOOL");
    cmd->add_option("--write-enabled", args->writeEnabled,
                    "Allow deleting it, untagging it and moving its tags away: true or false")
        ->type_name("BOOL");
  }
  {
    auto args = std::make_shared<ManifestArgs>();
    auto* cmd = set.command(*group, "delete", "Delete a manifest and every tag on it",
                            [args] { return remove(*args); });
    addRegistry(cmd, *args);
    addImage(cmd, *args);
    cmd->add_flag("-y,--yes", args->yes, "Do not refuse: the deletion is intended");
  }
  addDeletedManifestCommands(set, *group);
}

}  // namespace berth::cli::client
