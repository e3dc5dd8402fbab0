#pragma once
// Pull-through cache rules as ACR has them: a target repository (or "PREFIX/*") of the registry
// whose pulls come from a source repository (or "HOST/PREFIX/*") of another registry. Pure.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "meta/upstream_store.hpp"

namespace berth::upstream {

// Where a pulled repository comes from.
struct CacheSource {
  std::string rule;        // the rule's name
  std::string host;        // "docker.io"
  std::string repository;  // in the upstream: "library/alpine"
  std::string credentialSet;
};

// A source "HOST/REPOSITORY" or "HOST/PREFIX/*" (or "HOST/*") and a target "REPOSITORY" or
// "PREFIX/*", both with a wildcard or neither. INVALID_ARGUMENT-shaped errors (explained).
Result<void> checkCacheRule(std::string_view source, std::string_view target);

// The rule `repository` falls under: an exact target first, else the longest prefix; with the
// upstream repository it maps to (Docker Hub's one-part names under library/).
std::optional<CacheSource> matchCacheRule(const std::vector<meta::CacheRule>& rules,
                                          std::string_view repository);

}  // namespace berth::upstream
