#pragma once
// Purge: deletes the tags of a repository that match a pattern and were last pushed before a
// time (keeping the newest few), and, when asked, the manifests no tag keeps. The same pass
// serves `berth purge`, purge schedules and the retention policy for untagged manifests.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meta/metadata_store.hpp"

namespace re2 {
class RE2;
}

namespace berth::jobs {

struct PurgeOptions {
  // Tags whose whole name this matches are candidates; null: no tag is.
  const re2::RE2* tags = nullptr;
  // Tags last pushed, and manifests created, at or before this (seconds since the epoch).
  int64_t before = 0;
  // Also delete the manifests that no tag keeps (see purgeRepository).
  bool untagged = false;
  // Of the tags that match and are old enough, keep the newest this many.
  size_t keep = 0;
  bool dryRun = false;
  // Who deletes, for the tag history.
  meta::Actor actor;
};

struct PurgedTag {
  std::string tag;
  std::string digest;
};

struct PurgeResult {
  std::vector<PurgedTag> tags;
  std::vector<std::string> manifests;  // digests, referrers that went with them included
  // Tags and manifests left because they, or their repository, are locked.
  std::vector<std::string> locked;
};

// One repository. A manifest is untagged when no tag points at it, no manifest that stays
// references it (an index its platform images, a signature its subject) and it is not a
// referrer of a manifest that stays; manifests a lock keeps count as staying.
Result<PurgeResult> purgeRepository(meta::MetadataStore& meta, meta::RepositoryId repository,
                                    const PurgeOptions& options);

// A `--filter`: patterns for repository names and for their tags, matched in whole.
struct PurgeFilter {
  std::string repositories;
  std::string tags;
};
// "REPO_REGEX:TAG_REGEX", split at the first colon outside parentheses and brackets (so that
// "(?:a|b):v.*" works). nullopt, with the reason in `error`, when malformed or when a pattern
// is not a valid regular expression.
std::optional<PurgeFilter> parseFilter(std::string_view text, std::string* error = nullptr);

// What a purge over a registry did (schedules and retention report it).
struct RegistryPurge {
  uint64_t repositories = 0;
  uint64_t tags = 0;
  uint64_t manifests = 0;
  uint64_t locked = 0;
  std::string error;
};
// Every listed repository of the registry that a filter matches, purged with the tag patterns
// of the filters that match it; with no filters (the retention policy), every repository.
// `options.tags` is ignored.
RegistryPurge purgeRegistry(meta::MetadataStore& meta, meta::RegistryId registry,
                            const std::vector<PurgeFilter>& filters, PurgeOptions options);

// "2d3h6m", "30m", "1h30s": the units d, h, m and s, as `acr purge --ago` takes them.
std::optional<int64_t> parseDuration(std::string_view text);

}  // namespace berth::jobs
