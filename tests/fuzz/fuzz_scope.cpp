// Docker token scopes and scope-map patterns: parsing any text, and matching names against
// patterns, with the rules ACR gives them checked on every input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/scope.hpp"
#include "core/reference.hpp"

using namespace berth::auth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& scope : parseScopes(text)) {
    if (scope.type.empty()) std::abort();
    // Nothing is granted without rights; what is granted was asked for ("*" asks for all,
    // metadata_read comes with pull), once.
    if (!grantedDockerActions(0, scope.actions).empty()) std::abort();
    const auto granted = grantedDockerActions(kAllActions, scope.actions);
    auto asked = [&](std::string_view a) {
      return std::find(scope.actions.begin(), scope.actions.end(), a) != scope.actions.end();
    };
    for (const auto& g : granted) {
      if (std::count(granted.begin(), granted.end(), g) != 1) std::abort();
      if (!asked(g) && !asked("*") && !(g == "metadata_read" && asked("pull"))) std::abort();
    }
  }
  (void)parseScopeAction(text);
  (void)isValidIdentityName(text);

  // "pattern\nrepository": a valid pattern matches by its rules.
  const auto newline = text.find('\n');
  const auto pattern = text.substr(0, newline);
  const auto name = newline == std::string_view::npos ? text : text.substr(newline + 1);
  if (!isValidPattern(pattern)) return 0;
  const bool matches = patternMatches(pattern, name);
  bool expected = false;
  if (pattern == "*") {
    expected = true;
  } else if (pattern.ends_with("/*")) {
    // "team/*" covers what lies below team/, not "team/" itself (no repository's name).
    const auto prefix = pattern.substr(0, pattern.size() - 1);
    expected = name.size() > prefix.size() && name.starts_with(prefix);
  } else {
    expected = name == pattern;
  }
  if (matches != expected) std::abort();
  const Permissions permissions({{std::string(pattern), kContentRead}});
  if ((permissions.actionsOn(name) == kContentRead) != matches) std::abort();
  return 0;
}
