#include "jobs/purge.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <set>
#include <unordered_map>

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
    if (options.tags && t.updated < options.before && RE2::FullMatch(t.name, *options.tags)) {
      candidates.push_back(std::move(t));
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.updated != b.updated ? a.updated > b.updated : a.name < b.name;
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
    const bool young = m.manifest.created >= options.before;
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

}  // namespace berth::jobs
