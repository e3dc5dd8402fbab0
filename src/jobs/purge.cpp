#include "jobs/purge.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <memory>
#include <set>
#include <unordered_map>

#include "core/reference.hpp"

namespace berth::jobs {
namespace {

// The child manifests an index or manifest list names.
std::vector<std::string> childrenOf(const meta::ManifestRecord& m) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto doc = boost::json::parse(m.payload, ec);
  if (ec || !doc.is_object()) return out;
  const auto* list = doc.as_object().if_contains("manifests");
  if (!list || !list->is_array()) return out;
  for (const auto& entry : list->as_array()) {
    const auto* d = entry.is_object() ? entry.as_object().if_contains("digest") : nullptr;
    if (d && d->is_string()) out.emplace_back(d->as_string());
  }
  return out;
}

bool locked(const meta::Attributes& a) { return !a.deleteEnabled || !a.writeEnabled; }

}  // namespace

Result<PurgeResult> purgeRepository(meta::MetadataStore& meta, meta::RepositoryId repository,
                                    const PurgeOptions& options) {
  PurgeResult result;
  auto tags = meta.tagInfos(repository);
  if (!tags) return tags.takeError();
  // Candidates: matching and old enough, newest first; the first `keep` stay.
  std::vector<meta::TagInfo> candidates;
  for (auto& t : *tags) {
    if (options.tags && t.updated <= options.before && RE2::FullMatch(t.name, *options.tags)) {
      candidates.push_back(std::move(t));
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    // Pushed in the same second: the greater name counts as the newer (v10 after v9 aside).
    return a.updated != b.updated ? a.updated > b.updated : a.name > b.name;
  });
  std::set<std::string> gone;  // tags deleted (or, in a dry run, that would be)
  for (size_t i = options.keep; i < candidates.size(); ++i) {
    const auto& t = candidates[i];
    if (options.dryRun) {
      if (locked(t.attributes)) {
        result.locked.push_back(t.name);
        continue;
      }
    } else {
      auto deleted = meta.deleteTag(repository, t.name, options.actor);
      if (!deleted && deleted.error().code == ApiCode::Denied) {
        result.locked.push_back(t.name);
        continue;
      }
      if (!deleted) return deleted.takeError();
      if (!*deleted) continue;  // deleted meanwhile
    }
    gone.insert(t.name);
    result.tags.push_back({t.name, t.digest});
  }
  if (!options.untagged) return result;

  auto manifests = meta.manifestInfos(repository);
  if (!manifests) return manifests.takeError();
  std::unordered_map<std::string, const meta::ManifestInfo*> byDigest;
  for (const auto& m : *manifests) byDigest[m.manifest.digest] = &m;
  // What stays: tagged (by a tag that stays), young or locked manifests, then, until nothing
  // changes, the children and referrers of what stays and the subjects of referrers that stay.
  std::set<std::string> stays;
  for (const auto& m : *manifests) {
    const bool tagged = std::any_of(m.tags.begin(), m.tags.end(),
                                    [&](const std::string& t) { return !gone.count(t); });
    const bool young = m.manifest.created > options.before;
    if (tagged || young || locked(m.attributes)) stays.insert(m.manifest.digest);
    if (!tagged && !young && locked(m.attributes)) result.locked.push_back(m.manifest.digest);
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& m : *manifests) {
      const auto& digest = m.manifest.digest;
      const bool kept = stays.count(digest) > 0;
      if (kept) {
        for (const auto& child : childrenOf(m.manifest)) {
          if (byDigest.count(child) && stays.insert(child).second) grew = true;
        }
        const auto& subject = m.manifest.subject;
        if (!subject.empty() && byDigest.count(subject) && stays.insert(subject).second)
          grew = true;
      } else if (!m.manifest.subject.empty() && stays.count(m.manifest.subject)) {
        stays.insert(digest);
        grew = true;
      }
    }
  }
  std::set<std::string> deleted;
  for (const auto& m : *manifests) {
    const auto& digest = m.manifest.digest;
    if (stays.count(digest) || deleted.count(digest)) continue;
    if (options.dryRun) {
      deleted.insert(digest);
      result.manifests.push_back(digest);
      continue;
    }
    auto removed = meta.deleteManifest(repository, digest, options.actor);
    if (!removed && removed.error().code == ApiCode::Denied) {
      result.locked.push_back(digest);
      continue;
    }
    if (!removed) return removed.takeError();
    for (auto& d : *removed) {
      if (deleted.insert(d).second) result.manifests.push_back(std::move(d));
    }
  }
  return result;
}

std::optional<int64_t> parseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  while (!text.empty()) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data() || end == text.data() + text.size() || n < 0) {
      return std::nullopt;
    }
    int64_t unit = 0;
    switch (*end) {
      case 'd':
        unit = 86400;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'm':
        unit = 60;
        break;
      case 's':
        unit = 1;
        break;
      default:
        return std::nullopt;
    }
    if (n > (INT64_MAX / 2 - total) / unit) return std::nullopt;
    total += n * unit;
    text.remove_prefix(static_cast<size_t>(end - text.data()) + 1);
  }
  return total;
}

std::optional<PurgeFilter> parseFilter(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<PurgeFilter> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  auto parts = splitPurgeFilter(text);
  if (!parts) return fail("a filter is REPOSITORY_REGEX:TAG_REGEX, e.g. \"app:.*\"");
  PurgeFilter f{std::move(parts->first), std::move(parts->second)};
  for (const auto* pattern : {&f.repositories, &f.tags}) {
    RE2 compiled(*pattern, RE2::Quiet);
    if (!compiled.ok())
      return fail("invalid regular expression \"" + *pattern + "\": " + compiled.error());
  }
  return f;
}

RegistryPurge purgeRegistry(meta::MetadataStore& meta, meta::RegistryId registry,
                            const std::vector<PurgeFilter>& filters, PurgeOptions options) {
  RegistryPurge out;
  // RE2 cannot be moved: one each, owned.
  std::vector<std::pair<std::unique_ptr<RE2>, const PurgeFilter*>> repositoryPatterns;
  for (const auto& f : filters) {
    repositoryPatterns.emplace_back(std::make_unique<RE2>(f.repositories), &f);
  }
  std::string after;
  for (;;) {
    auto page = meta.listRepositories(registry, after, 100);
    if (!page) {
      out.error = page.error().detail;
      return out;
    }
    for (const auto& name : page->items) {
      // The tag patterns of every filter that matches the repository, as one alternation.
      std::string tags;
      bool matched = filters.empty();
      for (const auto& [pattern, filter] : repositoryPatterns) {
        if (!RE2::FullMatch(name, *pattern)) continue;
        matched = true;
        if (!tags.empty()) tags += '|';
        tags += "(?:" + filter->tags + ")";
      }
      if (!matched) continue;
      auto repository = meta.findRepository(registry, name);
      if (!repository || !*repository) continue;  // deleted meanwhile
      std::optional<RE2> tagPattern;
      if (!tags.empty()) tagPattern.emplace(tags);
      options.tags = tagPattern ? &*tagPattern : nullptr;
      auto result = purgeRepository(meta, **repository, options);
      if (!result) {
        out.error = name + ": " + result.error().detail;
        return out;
      }
      ++out.repositories;
      out.tags += result->tags.size();
      out.manifests += result->manifests.size();
      out.locked += result->locked.size();
    }
    if (!page->more || page->items.empty()) return out;
    after = page->items.back();
  }
}

}  // namespace berth::jobs
