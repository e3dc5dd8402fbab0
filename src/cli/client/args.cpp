#include "cli/client/args.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <iostream>

#include "cli/client/error.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += i + 1 == items.size() ? " or " : ", ";
    text += items[i];
  }
  return text;
}

std::string formatTime(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

const std::vector<std::string> kActions = {"content/read", "content/write", "content/delete",
                                           "metadata/read", "metadata/write"};

}  // namespace

std::optional<bool> parseBool(const std::string& text, const std::string& flag) {
  if (text.empty()) return std::nullopt;
  const std::string value = lower(text);
  if (value == "true") return true;
  if (value == "false") return false;
  throw ClientError(flag + " must be true or false, not \"" + text + "\"");
}

std::string parseChoice(const std::string& text, const std::string& flag,
                        const std::vector<std::string>& allowed) {
  for (const auto& choice : allowed) {
    if (lower(choice) == lower(text)) return choice;
  }
  throw ClientError(flag + " must be " + joined(allowed) + ", not \"" + text + "\"");
}

std::optional<std::size_t> parseCount(const std::string& text, const std::string& flag) {
  if (text.empty()) return std::nullopt;
  std::size_t count = 0;
  const auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (ec != std::errc() || rest != text.data() + text.size() || count == 0) {
    throw ClientError(flag + " must be a positive whole number, not \"" + text + "\"");
  }
  return count;
}

std::uint64_t parseSize(const std::string& text, const std::string& flag) {
  const auto bad = [&] {
    return ClientError(flag + " must be a size in bytes, optionally with KiB, MiB, GiB or TiB (" +
                       "e.g. 10GiB), not \"" + text + "\"");
  };
  std::uint64_t number = 0;
  const char* end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc() || rest == text.data()) throw bad();
  std::string unit = lower(std::string(rest, end));
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "kib") {
    shift = 10;
  } else if (unit == "mib") {
    shift = 20;
  } else if (unit == "gib") {
    shift = 30;
  } else if (unit == "tib") {
    shift = 40;
  } else {
    throw bad();
  }
  // JSON numbers lose precision above 2^53; no quota is that large.
  if (number > (std::uint64_t{1} << (53 - shift))) throw ClientError(flag + " is too large");
  return number << shift;
}

std::optional<std::string> parseExpiry(const std::string& expiration, const std::string& days) {
  if (!expiration.empty() && !days.empty()) {
    throw ClientError("give --expiration or --expiration-in-days, not both");
  }
  if (!expiration.empty()) {
    std::tm tm{};
    const char* end = strptime(expiration.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || std::string_view(end) != "Z") {
      throw ClientError("--expiration must be an RFC 3339 UTC time such as 2030-01-01T00:00:00Z");
    }
    return formatTime(timegm(&tm));
  }
  if (!days.empty()) {
    int count = 0;
    const auto [rest, ec] = std::from_chars(days.data(), days.data() + days.size(), count);
    if (ec != std::errc() || rest != days.data() + days.size() || count < 1 || count > 36500) {
      throw ClientError("--expiration-in-days must be a whole number of days from 1 to 36500");
    }
    return formatTime(std::time(nullptr) + static_cast<std::time_t>(count) * 86400);
  }
  return std::nullopt;
}

json::array parseRepositoryActions(const std::vector<std::vector<std::string>>& groups,
                                   const std::string& flag) {
  json::array actions;
  for (const auto& group : groups) {
    if (group.size() < 2) throw ClientError(flag + " needs a repository and at least one action");
    for (size_t i = 1; i < group.size(); ++i) {
      if (std::find(kActions.begin(), kActions.end(), group[i]) == kActions.end()) {
        throw ClientError("unknown action \"" + group[i] + "\" in " + flag + " (" +
                          joined(kActions) + ")");
      }
      actions.emplace_back("repositories/" + group[0] + "/" + group[i]);
    }
  }
  return actions;
}

void requireYes(bool yes, const std::string& what) {
  if (!yes) throw ClientError(what + " cannot be undone: add --yes to confirm");
}

std::optional<std::string> passwordOption(const std::string& password, bool fromStdin) {
  if (!password.empty() && fromStdin) {
    throw ClientError("give --password or --password-stdin, not both");
  }
  if (!fromStdin) return password.empty() ? std::nullopt : std::optional<std::string>(password);
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

}  // namespace berth::cli::client
