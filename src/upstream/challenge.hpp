#pragma once
// WWW-Authenticate, as registries send it (RFC 7235): `Bearer realm="…",service="…",scope="…"`
// for the Docker token flow, `Basic realm="…"` for htpasswd. Pure; fuzzed.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::upstream {

struct Challenge {
  std::string scheme;                         // lower case: "bearer", "basic", …
  std::map<std::string, std::string> params;  // names lower case, values unquoted
  std::string param(std::string_view name) const;
};

// Every challenge of a header value, in order; malformed parts end the list (what was read
// before them stays). At most 16 challenges and 32 parameters each.
std::vector<Challenge> parseChallenges(std::string_view header);

// The one to answer: Bearer with a realm if offered, else Basic.
std::optional<Challenge> preferredChallenge(std::string_view header);

}  // namespace berth::upstream
