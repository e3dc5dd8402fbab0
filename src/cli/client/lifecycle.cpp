// Storage lifecycle from the command line: `berth purge` (as ACR's `acr purge`), its schedules,
// `berth config retention|soft-delete` (as `az acr config`), and a tag's history and rollback.
#include <re2/re2.h>

#include <iostream>

#include "cli/client/args.hpp"
#include "cli/client/artifacts.hpp"
#include "cli/client/control.hpp"
#include "cli/client/groups.hpp"
#include "core/reference.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

// The flags purge takes, also after `--` in `purge schedule create`.
struct PurgeArgs {
  std::string registry;
  std::vector<std::string> filters;
  std::string ago = "0d";
  bool untagged = false;
  std::string keep;
  bool dryRun = false;
};

void addPurgeFlags(CLI::App* cmd, PurgeArgs& args) {
  cmd->add_option("--filter", args.filters,
                  "REPOSITORY_REGEX:TAG_REGEX, matched against whole names (repeatable), "
                  "e.g. 'team/.*:v1\\..*'")
      ->type_name("FILTER");
  cmd->add_option("--ago", args.ago, "Only tags last pushed longer ago: 30m, 12h, 7d, 2d3h6m")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_flag("--untagged", args.untagged,
                "Also delete manifests that no tag, index or subject keeps");
  cmd->add_option("--keep", args.keep, "Of the matching tags, keep the newest N per repository")
      ->type_name("N");
}

std::pair<std::string, std::string> splitFilter(const std::string& filter) {
  auto parts = splitPurgeFilter(filter);
  if (!parts) {
    throw ClientError("--filter must be REPOSITORY_REGEX:TAG_REGEX, got \"" + filter + "\"");
  }
  return std::move(*parts);
}

// Every repository of the registry, by name.
std::vector<std::string> repositoryNames(ControlClient& control, const std::string& registry) {
  std::vector<std::string> names;
  for (const auto& entry :
       control.getAllPages(registryPath(registry) + "/repositories?n=1000", std::nullopt)) {
    if (entry.is_string()) names.emplace_back(entry.as_string());
  }
  return names;
}

Output purge(const PurgeArgs& args) {
  // Not required by the parser: `purge schedule …` does not take purge's own options.
  if (args.registry.empty()) throw ClientError("--registry is required");
  if (args.filters.empty() && !args.untagged) {
    throw ClientError("give --filter, --untagged, or both: nothing to purge");
  }
  const auto keep = parseCount(args.keep, "--keep");
  std::vector<std::pair<std::string, std::string>> filters;
  for (const auto& f : args.filters) filters.push_back(splitFilter(f));
  auto control = ControlClient::open();
  // Which repositories, with the tag patterns of the filters that match each, as one
  // alternation. RE2, as on the server: the syntax of Go's regexp, which ACR's purge takes.
  std::vector<std::unique_ptr<RE2>> patterns;
  for (const auto& [repositories, tagPattern] : filters) {
    for (const auto* text : {&repositories, &tagPattern}) {
      auto compiled = std::make_unique<RE2>(*text, RE2::Quiet);
      if (!compiled->ok()) {
        throw ClientError("invalid regular expression \"" + *text + "\": " + compiled->error());
      }
      if (text == &repositories) patterns.push_back(std::move(compiled));
    }
  }
  std::vector<std::pair<std::string, std::string>> work;  // repository, tag pattern
  const auto names = repositoryNames(control, args.registry);
  for (const auto& name : names) {
    std::string tags;
    bool matched = filters.empty();
    for (size_t i = 0; i < filters.size(); ++i) {
      if (!RE2::FullMatch(name, *patterns[i])) continue;
      const auto& tagPattern = filters[i].second;
      matched = true;
      if (!tags.empty()) tags += '|';
      tags += "(?:" + tagPattern + ")";
    }
    if (matched) work.emplace_back(name, tags);
  }
  json::array rows;
  size_t done = 0;
  for (const auto& [repository, tags] : work) {
    ++done;
    if (work.size() > 1) {
      std::cerr << "purging " << repository << " (" << done << "/" << work.size() << ")\n";
    }
    json::object body{{"ago", args.ago}, {"untagged", args.untagged}, {"dryRun", args.dryRun}};
    if (!tags.empty()) body["tagFilter"] = tags;
    if (keep) body["keep"] = *keep;
    const json::value reply =
        control.post(repositoryPath(args.registry, repository) + "/_purge", body);
    const auto& r = reply.as_object();
    const std::string action = args.dryRun ? "would delete" : "deleted";
    for (const auto& t : r.at("tagsDeleted").as_array()) {
      rows.push_back(json::object{{"repository", repository},
                                  {"action", action + " tag"},
                                  {"tag", t.at("tag")},
                                  {"digest", t.at("digest")}});
    }
    for (const auto& m : r.at("manifestsDeleted").as_array()) {
      rows.push_back(json::object{{"repository", repository},
                                  {"action", action + " manifest"},
                                  {"tag", ""},
                                  {"digest", m}});
    }
    for (const auto& l : r.at("locked").as_array()) {
      const std::string item(l.as_string());
      const bool digest = item.find(':') != std::string::npos;
      rows.push_back(json::object{{"repository", repository},
                                  {"action", "kept, locked"},
                                  {"tag", digest ? "" : item},
                                  {"digest", digest ? item : ""}});
    }
  }
  std::cerr << (args.dryRun ? "dry run: " : "") << rows.size() << " change(s) in " << work.size()
            << " repositor" << (work.size() == 1 ? "y" : "ies") << "\n";
  return rows;
}

// Parses purge flags given after `--` to `purge schedule create`.
PurgeArgs purgeFlags(const std::vector<std::string>& words) {
  PurgeArgs out;
  for (size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= words.size()) throw ClientError(w + " needs a value");
      return words[++i];
    };
    if (w == "--filter") {
      out.filters.push_back(value());
    } else if (w == "--ago") {
      out.ago = value();
    } else if (w == "--keep") {
      out.keep = value();
    } else if (w == "--untagged") {
      out.untagged = true;
    } else {
      throw ClientError("unknown purge flag \"" + w + "\" (--filter, --ago, --untagged, --keep)");
    }
  }
  if (out.filters.empty() && !out.untagged) {
    throw ClientError("give the purge flags after --: --filter, --untagged, or both");
  }
  for (const auto& f : out.filters) splitFilter(f);
  return out;
}

void addRegistryOption(CLI::App* cmd, std::string& registry) {
  cmd->add_option("-r,--registry", registry, "Name of the registry")->type_name("NAME")->required();
}

struct PolicyArgs {
  std::string registry;
  std::string status;
  std::string days;
  std::string type;
};

Output updatePolicy(const PolicyArgs& args, const std::string& key, bool retention) {
  json::object policy;
  if (!args.status.empty())
    policy["status"] = parseChoice(args.status, "--status", {"enabled", "disabled"});
  if (!args.days.empty()) {
    const auto days = parseCount(args.days, "--days");
    policy["days"] = *days;
  }
  if (retention && !args.type.empty()) parseChoice(args.type, "--type", {"UntaggedManifests"});
  if (policy.empty()) throw ClientError("nothing to update: give --status or --days");
  const json::value reply = ControlClient::open().patch(registryPath(args.registry) + "/policies",
                                                        json::object{{key, policy}});
  return reply.as_object().at(key);
}

struct TagArgs {
  std::string registry;
  std::string image;
  std::string to;
  std::string steps;
  std::string top;
};

Image tagImage(const std::string& text) {
  Image image = parseImage(text, "--image");
  if (image.tag.empty()) throw ClientError("--image must be REPOSITORY:TAG, not a digest");
  return image;
}

}  // namespace

void addLifecycleCommands(CommandSet& set, CLI::App& root) {
  // berth purge
  auto args = std::make_shared<PurgeArgs>();
  auto* purgeCmd = set.command(
      root, "purge",
      "Delete tags older than a duration that match filters, and with --untagged the manifests "
      "left without tags (as `acr purge`); prints what it deletes",
      [args]() -> Output { return purge(*args); }, "table");
  purgeCmd->add_option("-r,--registry", args->registry, "Name of the registry")->type_name("NAME");
  addPurgeFlags(purgeCmd, *args);
  purgeCmd->add_flag("--dry-run", args->dryRun, "Show what would be deleted; delete nothing");
  purgeCmd->require_subcommand(0, 1);
  purgeCmd->footer(
      "Examples:\n"
      "  berth purge -r myregistry --filter 'app:.*' --ago 7d --untagged\n"
      "  berth purge -r myregistry --filter 'team/.*:^build-.*' --keep 5 --dry-run\n"
      "  berth purge schedule create -r myregistry --cron '0 3 * * *' -- --filter 'app:.*' "
      "--ago 30d");

  auto* schedules = set.group(*purgeCmd, "schedule", "Purges that run on a schedule");
  {
    auto a = std::make_shared<PurgeArgs>();
    auto cron = std::make_shared<std::string>();
    auto words = std::make_shared<std::vector<std::string>>();
    auto* cmd = set.command(*schedules, "create", "Run a purge on a schedule (cron, UTC)",
                            [a, cron, words]() -> Output {
                              PurgeArgs flags = purgeFlags(*words);
                              json::array filters;
                              for (const auto& f : flags.filters) filters.emplace_back(f);
                              json::object body{{"schedule", *cron},
                                                {"filters", filters},
                                                {"ago", flags.ago},
                                                {"untagged", flags.untagged}};
                              if (auto keep = parseCount(flags.keep, "--keep"))
                                body["keep"] = *keep;
                              return ControlClient::open().post(
                                  registryPath(a->registry) + "/purge-schedules", body);
                            });
    addRegistryOption(cmd, a->registry);
    cmd->add_option("--cron", *cron,
                    "When: minute hour day-of-month month day-of-week, e.g. '0 3 * * *'")
        ->type_name("CRON")
        ->required();
    cmd->add_option("purge-flags", *words, "After --: --filter, --ago, --untagged, --keep");
  }
  {
    auto a = std::make_shared<PurgeArgs>();
    auto* cmd = set.command(*schedules, "list", "List the purge schedules", [a]() -> Output {
      return ControlClient::open().get(registryPath(a->registry) + "/purge-schedules");
    });
    addRegistryOption(cmd, a->registry);
  }
  {
    auto a = std::make_shared<PurgeArgs>();
    auto id = std::make_shared<std::string>();
    auto* cmd = set.command(*schedules, "delete", "Delete a purge schedule", [a, id]() -> Output {
      ControlClient::open().remove(registryPath(a->registry) + "/purge-schedules/" + *id);
      return std::nullopt;
    });
    addRegistryOption(cmd, a->registry);
    cmd->add_option("--id", *id, "The schedule's id")->required();
  }

  // berth config retention|soft-delete
  auto* config = set.group(root, "config", "A registry's policies (as `az acr config`)");
  for (const bool retention : {true, false}) {
    const std::string name = retention ? "retention" : "soft-delete";
    const std::string key = retention ? "retentionPolicy" : "softDeletePolicy";
    auto* group = set.group(*config, name,
                            retention ? "Delete untagged manifests after a number of days"
                                      : "Keep deleted manifests and tags restorable for days");
    auto a = std::make_shared<PolicyArgs>();
    auto* update =
        set.command(*group, "update", "Enable, disable or change the policy",
                    [a, key, retention]() -> Output { return updatePolicy(*a, key, retention); });
    addRegistryOption(update, a->registry);
    update->add_option("--status", a->status, "enabled or disabled")->type_name("STATUS");
    update->add_option("--days", a->days, "Days, 1 to 365")->type_name("N");
    if (retention) {
      update->add_option("--type", a->type, "UntaggedManifests (the one type)")->type_name("TYPE");
    }
    auto s = std::make_shared<PolicyArgs>();
    auto* show = set.command(*group, "show", "Show the policy", [s, key]() -> Output {
      const json::value reply = ControlClient::open().get(registryPath(s->registry) + "/policies");
      return reply.as_object().at(key);
    });
    addRegistryOption(show, s->registry);
  }
}

void addTagHistoryCommands(CommandSet& set, CLI::App& repository) {
  {
    auto a = std::make_shared<TagArgs>();
    auto* cmd = set.command(
        repository, "tag-history",
        "Every change of a tag: created, moved, deleted, restored; when, by whom, from where",
        [a]() -> Output {
          const Image image = tagImage(a->image);
          const auto top = parseCount(a->top, "--top").value_or(100);
          const json::value reply = ControlClient::open().get(
              tagPath(a->registry, image.repository, image.tag) +
              "/history?n=" + std::to_string(std::min<size_t>(top, 1000)));
          return reply.as_object().at("history");
        });
    cmd->add_option("-n,--name,--registry", a->registry, "Name of the registry")
        ->type_name("NAME")
        ->required();
    cmd->add_option("--image", a->image, "REPOSITORY:TAG")->type_name("IMAGE")->required();
    cmd->add_option("--top", a->top, "At most this many changes, newest first (default 100)")
        ->type_name("N");
  }
  {
    auto a = std::make_shared<TagArgs>();
    auto* cmd = set.command(
        repository, "tag-rollback",
        "Point a tag back where it pointed before (--steps 1 by default, or --to a digest)",
        [a]() -> Output {
          const Image image = tagImage(a->image);
          if (!a->to.empty() && !a->steps.empty())
            throw ClientError("give --to or --steps, not both");
          json::object body;
          if (!a->to.empty()) body["to"] = a->to;
          if (auto steps = parseCount(a->steps, "--steps")) body["steps"] = *steps;
          return ControlClient::open().post(
              tagPath(a->registry, image.repository, image.tag) + "/rollback", body);
        });
    cmd->add_option("-n,--name,--registry", a->registry, "Name of the registry")
        ->type_name("NAME")
        ->required();
    cmd->add_option("--image", a->image, "REPOSITORY:TAG")->type_name("IMAGE")->required();
    cmd->add_option("--to", a->to, "A digest the tag pointed at")->type_name("DIGEST");
    cmd->add_option("--steps", a->steps, "How many changes back")->type_name("N");
  }
}

void addDeletedRepositoryCommand(CommandSet& set, CLI::App& repository) {
  auto registry = std::make_shared<std::string>();
  auto* cmd = set.command(
      repository, "list-deleted", "Repositories with soft-deleted manifests, and how many each has",
      [registry]() -> Output {
        return ControlClient::open().get(registryPath(*registry) + "/deleted-repositories");
      });
  cmd->add_option("-n,--name,--registry", *registry, "Name of the registry")
      ->type_name("NAME")
      ->required();
}

void addDeletedManifestCommands(CommandSet& set, CLI::App& manifest) {
  {
    auto registry = std::make_shared<std::string>();
    auto repository = std::make_shared<std::string>();
    auto* cmd = set.command(
        manifest, "list-deleted",
        "Soft-deleted manifests of a repository, with the tags they had and until when they can "
        "be restored",
        [registry, repository]() -> Output {
          const json::value reply =
              ControlClient::open().get(repositoryPath(*registry, *repository) + "/_deleted");
          return reply.as_object().at("manifests");
        });
    addRegistryOption(cmd, *registry);
    cmd->add_option("-n,--name", *repository, "Repository name, e.g. team/app")
        ->type_name("REPO")
        ->required();
  }
  {
    auto registry = std::make_shared<std::string>();
    auto image = std::make_shared<std::string>();
    auto tag = std::make_shared<std::string>();
    auto* cmd = set.command(
        manifest, "restore",
        "Restore a soft-deleted manifest, with the tags it had or the one --tag names",
        [registry, image, tag]() -> Output {
          const Image parsed = parseImage(*image, "--image");
          if (parsed.digest.empty()) throw ClientError("--image must be REPOSITORY@DIGEST");
          json::object body;
          if (!tag->empty()) body["tag"] = *tag;
          return ControlClient::open().post(repositoryPath(*registry, parsed.repository) +
                                                "/_deleted/" + parsed.digest + "/restore",
                                            body);
        });
    addRegistryOption(cmd, *registry);
    cmd->add_option("--image", *image, "REPOSITORY@DIGEST")->type_name("IMAGE")->required();
    cmd->add_option("--tag", *tag, "Point this tag at it instead")->type_name("TAG");
  }
}

}  // namespace berth::cli::client
