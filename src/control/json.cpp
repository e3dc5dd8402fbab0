#include "control/json.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <ctime>

#include "control/errors.hpp"

namespace berth::control {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned daysInMonth(int year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// `width` decimal digits at `pos`.
std::optional<int> digitsAt(std::string_view s, size_t pos, size_t width) {
  if (pos + width > s.size()) return std::nullopt;
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

}  // namespace

std::string rfc3339(int64_t unixSeconds) {
  const auto t = static_cast<std::time_t>(unixSeconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(text, n);
}

std::optional<int64_t> parseRfc3339(std::string_view s) {
  // 2026-11-27T04:00:00[.fraction](Z|+hh:mm|-hh:mm)
  const auto year = digitsAt(s, 0, 4);
  const auto month = digitsAt(s, 5, 2);
  const auto day = digitsAt(s, 8, 2);
  const auto hour = digitsAt(s, 11, 2);
  const auto minute = digitsAt(s, 14, 2);
  const auto second = digitsAt(s, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  if (*month < 1 || *month > 12 || *day < 1 ||
      static_cast<unsigned>(*day) > daysInMonth(*year, static_cast<unsigned>(*month)) ||
      *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    const size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const auto oh = digitsAt(s, pos + 1, 2);
    const auto om = digitsAt(s, pos + 4, 2);
    if (!oh || !om || s[pos + 3] != ':' || *oh > 23 || *om > 59) return std::nullopt;
    offset = (s[pos] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  // A leap second counts as the last second of its minute.
  const int64_t seconds = std::min(*second, 59);
  return daysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86400 +
         *hour * 3600 + *minute * 60 + seconds - offset;
}

boost::json::value timeOrNull(std::optional<int64_t> unixSeconds) {
  if (!unixSeconds) return nullptr;
  return boost::json::string(rfc3339(*unixSeconds));
}

boost::json::value stringOrNull(std::string_view text) {
  if (text.empty()) return nullptr;
  return boost::json::string(text);
}

http::Response jsonReply(int status, const boost::json::value& body) {
  return http::Response::json(status, boost::json::serialize(body));
}

Result<boost::json::object> parseBody(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return boost::json::object{};
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec) return error(Code::InvalidArgument, "malformed JSON body: " + ec.message());
  if (!value.is_object()) return error(Code::InvalidArgument, "the body must be a JSON object");
  return std::move(value.as_object());
}

const boost::json::value* BodyFields::take(std::string_view key) {
  read_.emplace_back(key);
  return body_.if_contains(key);
}

void BodyFields::wrongType(std::string_view key, std::string_view expected) {
  if (error_) return;
  error_ = error(Code::InvalidArgument,
                 "field \"" + std::string(key) + "\" must be " + std::string(expected));
}

std::optional<std::string> BodyFields::string(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    wrongType(key, "a string");
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::optional<bool> BodyFields::boolean(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    wrongType(key, "true or false");
    return std::nullopt;
  }
  return v->get_bool();
}

std::optional<uint64_t> BodyFields::unsignedInteger(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  wrongType(key, "a non-negative integer");
  return std::nullopt;
}

std::optional<std::vector<std::string>> BodyFields::strings(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    wrongType(key, "an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) {
      wrongType(key, "an array of strings");
      return std::nullopt;
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> BodyFields::stringMap(
    std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    wrongType(key, "an object of strings");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : v->get_object()) {
    if (!value.is_string()) {
      wrongType(key, "an object of strings");
      return std::nullopt;
    }
    out.emplace_back(std::string(name), std::string(value.get_string()));
  }
  return out;
}

Result<void> BodyFields::finish() const {
  if (error_) return *error_;
  for (const auto& member : body_) {
    if (std::find(read_.begin(), read_.end(), member.key()) == read_.end()) {
      return error(Code::InvalidArgument, "unknown field \"" + std::string(member.key()) + "\"");
    }
  }
  return {};
}

Error missingField(std::string_view key) {
  return error(Code::InvalidArgument, "field \"" + std::string(key) + "\" is required");
}

boost::json::object gcRunJson(const meta::GcRun& run) {
  return {{"started", rfc3339(run.started)},
          {"finished", rfc3339(run.finished)},
          {"dryRun", run.dryRun},
          {"uploadsRemoved", run.uploadsRemoved},
          {"linksRemoved", run.linksRemoved},
          {"blobsRemoved", run.blobsRemoved},
          {"bytesRemoved", run.bytesRemoved},
          {"orphansRemoved", run.orphansRemoved},
          {"error", stringOrNull(run.error)}};
}

}  // namespace berth::control
