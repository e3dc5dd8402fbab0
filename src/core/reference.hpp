#pragma once
// The OCI distribution grammar for repository names and tags.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace berth {

inline constexpr size_t kMaxNameLength = 255;

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
bool isValidRepositoryName(std::string_view name);

// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool isValidTag(std::string_view tag);

// A purge filter "REPOSITORY_REGEX:TAG_REGEX" split at its first colon outside parentheses and
// brackets (so that "(?:a|b):v.*" splits after the group); nullopt when there is no such
// colon with something on both sides.
std::optional<std::pair<std::string, std::string>> splitPurgeFilter(std::string_view text);

}  // namespace berth
