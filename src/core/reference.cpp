#include "core/reference.hpp"

namespace berth {
namespace {

bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: alphanumeric runs joined by ".", "_", "__" or one or more "-".
bool isValidComponent(std::string_view part) {
  if (part.empty() || !isAlnum(part.front()) || !isAlnum(part.back())) return false;
  size_t i = 0;
  while (i < part.size()) {
    if (isAlnum(part[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < part.size() && !isAlnum(part[j])) ++j;
    const auto sep = part.substr(i, j - i);
    const bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

}  // namespace

bool isValidRepositoryName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  size_t start = 0;
  while (true) {
    const auto slash = name.find('/', start);
    const auto part =
        name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (!isValidComponent(part)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool isValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag.front())) return false;
  for (char c : tag.substr(1)) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

std::optional<std::pair<std::string, std::string>> splitPurgeFilter(std::string_view text) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;
    } else if (c == '(' || c == '[') {
      ++depth;
    } else if ((c == ')' || c == ']') && depth > 0) {
      --depth;
    } else if (c == ':' && depth == 0) {
      if (i == 0 || i + 1 == text.size()) return std::nullopt;
      return std::pair(std::string(text.substr(0, i)), std::string(text.substr(i + 1)));
    }
  }
  return std::nullopt;
}

}  // namespace berth
