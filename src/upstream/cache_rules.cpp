#include "upstream/cache_rules.hpp"

#include "core/reference.hpp"
#include "upstream/client.hpp"

namespace berth::upstream {
namespace {

Error invalid(std::string text) { return explainedError(ApiCode::NameInvalid, std::move(text)); }

bool wildcard(std::string_view s) { return s == "*" || s.ends_with("/*"); }

// "HOST/PATH" split at its first slash, the host as parseImageRef reads it.
std::optional<std::pair<std::string, std::string>> splitSource(std::string_view source) {
  const auto slash = source.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const auto first = source.substr(0, slash);
  auto parsed = parseImageRef(std::string(first) + "/x");
  if (!parsed) return std::nullopt;
  const bool hub =
      first == "docker.io" || first == "index.docker.io" || first == "registry-1.docker.io";
  if (parsed->host == "docker.io" && !hub) return std::nullopt;  // the first part is no host
  return std::pair(parsed->host, std::string(source.substr(slash + 1)));
}

}  // namespace

Result<void> checkCacheRule(std::string_view source, std::string_view target) {
  const auto split = splitSource(source);
  if (!split) {
    return invalid("invalid source \"" + std::string(source.substr(0, 300)) +
                   "\": give HOST/REPOSITORY or HOST/PREFIX/*");
  }
  const auto& path = split->second;
  if (path != "*" &&
      !isValidRepositoryName(wildcard(path) ? path.substr(0, path.size() - 2) : path)) {
    return invalid("invalid source repository \"" + path.substr(0, 300) + "\"");
  }
  if (target == "*" ||
      (wildcard(target) && !isValidRepositoryName(target.substr(0, target.size() - 2))) ||
      (!wildcard(target) && !isValidRepositoryName(target))) {
    return invalid("invalid target \"" + std::string(target.substr(0, 300)) +
                   "\": give REPOSITORY or PREFIX/*");
  }
  if (wildcard(path) != wildcard(target)) {
    return invalid("source and target both end in /* or neither does");
  }
  return {};
}

std::optional<CacheSource> matchCacheRule(const std::vector<meta::CacheRule>& rules,
                                          std::string_view repository) {
  const meta::CacheRule* best = nullptr;
  size_t bestPrefix = 0;
  for (const auto& rule : rules) {
    if (!wildcard(rule.target)) {
      if (rule.target == repository) {
        best = &rule;
        break;
      }
      continue;
    }
    const std::string_view prefix(rule.target.data(), rule.target.size() - 1);  // "team/"
    if (repository.size() > prefix.size() && repository.starts_with(prefix) &&
        prefix.size() > bestPrefix) {
      best = &rule;
      bestPrefix = prefix.size();
    }
  }
  if (best == nullptr) return std::nullopt;
  const auto split = splitSource(best->source);
  if (!split) return std::nullopt;
  CacheSource out{best->name, split->first, split->second, best->credentialSet};
  if (wildcard(best->target)) {
    const auto rest = repository.substr(best->target.size() - 1);
    const std::string& path = split->second;
    out.repository =
        (path == "*" ? std::string() : path.substr(0, path.size() - 1)) + std::string(rest);
  }
  if (out.host == "docker.io" && out.repository.find('/') == std::string::npos) {
    out.repository = "library/" + out.repository;
  }
  return out;
}

}  // namespace berth::upstream
