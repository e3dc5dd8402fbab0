#pragma once
// The OCI distribution grammar for repository names and tags.
#include <string_view>

namespace berth {

inline constexpr size_t kMaxNameLength = 255;

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
bool isValidRepositoryName(std::string_view name);

// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool isValidTag(std::string_view tag);

}  // namespace berth
