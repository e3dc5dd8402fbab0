#pragma once
// Permissions: scope-map rules (repository pattern -> actions) and Docker token scopes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::auth {

// Scope-map actions, as ACR names them.
enum ActionBit : uint8_t {
  kContentRead = 1,
  kContentWrite = 2,
  kContentDelete = 4,
  kMetadataRead = 8,
  kMetadataWrite = 16,
};
inline constexpr uint8_t kAllActions = 31;

// "content/read" -> kContentRead; nullopt for anything else.
std::optional<uint8_t> parseScopeAction(std::string_view name);
std::vector<std::string> scopeActionNames(uint8_t mask);

// `team/app` (exact), `team/*` (every repository below team/), `*` (all).
bool isValidPattern(std::string_view pattern);
bool patternMatches(std::string_view pattern, std::string_view repository);

struct Rule {
  std::string pattern;
  uint8_t actions = 0;
};

// What a caller may do: the union of its rules.
class Permissions {
 public:
  Permissions() = default;
  explicit Permissions(std::vector<Rule> rules) : rules_(std::move(rules)) {}
  static Permissions all() { return Permissions({{"*", kAllActions}}); }

  uint8_t actionsOn(std::string_view repository) const;
  bool any(uint8_t mask) const;
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

// A Docker token scope: "repository:team/app:pull,push" or "registry:catalog:*".
struct Scope {
  std::string type;
  std::string name;
  std::vector<std::string> actions;
};
// Parses one scope; several may arrive space-separated in one parameter (OAuth2 style).
std::optional<Scope> parseScope(std::string_view text);
std::vector<Scope> parseScopes(std::string_view text);

// Docker actions granted by scope-map actions: pull <- content/read, push <- content/write,
// delete <- content/delete.
std::vector<std::string> grantedDockerActions(uint8_t mask, const std::vector<std::string>& asked);

// Names of tokens and user scope maps: 1 to 50 letters, digits and dashes, starting with a
// letter or digit (so never like a built-in map, which starts with "_").
bool isValidIdentityName(std::string_view name);

}  // namespace berth::auth
