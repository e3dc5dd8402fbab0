#include "auth/scope.hpp"

#include <algorithm>
#include <array>

#include "core/reference.hpp"

namespace berth::auth {
namespace {

constexpr std::array<std::pair<std::string_view, uint8_t>, 5> kActions{{
    {"content/read", kContentRead},
    {"content/write", kContentWrite},
    {"content/delete", kContentDelete},
    {"metadata/read", kMetadataRead},
    {"metadata/write", kMetadataWrite},
}};

}  // namespace

std::optional<uint8_t> parseScopeAction(std::string_view name) {
  for (const auto& [text, bit] : kActions) {
    if (text == name) return bit;
  }
  return std::nullopt;
}

std::vector<std::string> scopeActionNames(uint8_t mask) {
  std::vector<std::string> out;
  for (const auto& [text, bit] : kActions) {
    if (mask & bit) out.emplace_back(text);
  }
  return out;
}

bool isValidPattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (pattern.ends_with("/*")) return isValidRepositoryName(pattern.substr(0, pattern.size() - 2));
  return isValidRepositoryName(pattern);
}

bool patternMatches(std::string_view pattern, std::string_view repository) {
  if (pattern == "*") return true;
  if (pattern.ends_with("/*")) {
    const auto prefix = pattern.substr(0, pattern.size() - 1);  // keeps the slash
    return repository.size() > prefix.size() && repository.starts_with(prefix);
  }
  return pattern == repository;
}

uint8_t Permissions::actionsOn(std::string_view repository) const {
  uint8_t mask = 0;
  for (const auto& rule : rules_) {
    if (patternMatches(rule.pattern, repository)) mask |= rule.actions;
  }
  return mask;
}

bool Permissions::any(uint8_t mask) const {
  return std::any_of(rules_.begin(), rules_.end(),
                     [mask](const Rule& r) { return (r.actions & mask) != 0; });
}

std::optional<Scope> parseScope(std::string_view text) {
  // type[(class)]:name:actions, where name may itself contain ':' only for a registry host
  // and port, which repository names never do.
  const auto first = text.find(':');
  const auto last = text.rfind(':');
  if (first == text.npos || last == first) return std::nullopt;
  Scope s;
  s.type = std::string(text.substr(0, first));
  if (const auto paren = s.type.find('('); paren != std::string::npos) s.type.resize(paren);
  s.name = std::string(text.substr(first + 1, last - first - 1));
  auto actions = text.substr(last + 1);
  while (!actions.empty()) {
    const auto comma = actions.find(',');
    auto action = actions.substr(0, comma);
    if (!action.empty()) s.actions.emplace_back(action);
    if (comma == actions.npos) break;
    actions.remove_prefix(comma + 1);
  }
  if (s.type.empty() || s.name.empty()) return std::nullopt;
  return s;
}

std::vector<Scope> parseScopes(std::string_view text) {
  std::vector<Scope> out;
  while (!text.empty()) {
    const auto space = text.find(' ');
    if (auto s = parseScope(text.substr(0, space))) out.push_back(std::move(*s));
    if (space == text.npos) break;
    text.remove_prefix(space + 1);
  }
  return out;
}

std::vector<std::string> grantedDockerActions(uint8_t mask, const std::vector<std::string>& asked) {
  std::vector<std::string> out;
  auto grant = [&](std::string_view action, bool allowed) {
    const bool wanted = std::find(asked.begin(), asked.end(), action) != asked.end() ||
                        std::find(asked.begin(), asked.end(), "*") != asked.end();
    if (wanted && allowed) out.emplace_back(action);
  };
  grant("pull", mask & kContentRead);
  grant("push", mask & kContentWrite);
  grant("delete", mask & kContentDelete);
  // Tag listing and catalog need metadata/read; a token carries it as "metadata_read".
  const bool pullAsked = std::find(asked.begin(), asked.end(), "pull") != asked.end();
  const bool pullGranted = std::find(out.begin(), out.end(), "pull") != out.end();
  if (pullAsked && !pullGranted && (mask & kMetadataRead)) {
    out.emplace_back("metadata_read");
  } else {
    grant("metadata_read", mask & kMetadataRead);
  }
  return out;
}

bool isValidIdentityName(std::string_view name) {
  const auto alnum = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
  return !name.empty() && name.size() <= 50 && alnum(name.front()) &&
         std::all_of(name.begin(), name.end(), [&](char ch) { return alnum(ch) || ch == '-'; });
}

}  // namespace berth::auth
