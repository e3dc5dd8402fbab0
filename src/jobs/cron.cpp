#include "jobs/cron.hpp"

#include <charconv>
#include <ctime>
#include <vector>

namespace berth::jobs {
namespace {

std::vector<std::string_view> split(std::string_view text, char by) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = text.find(by);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

std::optional<int> number(std::string_view text) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// One field into `bits` (values lo..hi); false when malformed or out of range. `any` is set
// when the field is "*" (or "*/1").
template <size_t N>
bool parseField(std::string_view field, int lo, int hi, std::bitset<N>& bits, bool& any) {
  any = field == "*" || field == "*/1";
  for (auto part : split(field, ',')) {
    int step = 1;
    if (const auto slash = part.find('/'); slash != std::string_view::npos) {
      auto s = number(part.substr(slash + 1));
      if (!s || *s < 1) return false;
      step = *s;
      part = part.substr(0, slash);
    }
    int first = lo, last = hi;
    if (part != "*") {
      const auto dash = part.find('-');
      auto a = number(part.substr(0, dash));
      if (!a) return false;
      first = last = *a;
      if (dash != std::string_view::npos) {
        auto b = number(part.substr(dash + 1));
        if (!b) return false;
        last = *b;
      } else if (step > 1) {
        last = hi;  // "5/15": from 5 on
      }
    }
    if (first < lo || last > hi || first > last) return false;
    for (int v = first; v <= last; v += step) bits.set(static_cast<size_t>(v));
  }
  return true;
}

}  // namespace

std::optional<CronSchedule> CronSchedule::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<CronSchedule> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::vector<std::string_view> fields;
  for (auto f : split(text, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    return fail("a schedule has five fields: minute hour day-of-month month day-of-week");
  }
  CronSchedule c;
  bool any = false;
  std::bitset<8> weekdays;
  if (!parseField(fields[0], 0, 59, c.minutes_, any)) return fail("bad minute field");
  if (!parseField(fields[1], 0, 23, c.hours_, any)) return fail("bad hour field");
  if (!parseField(fields[2], 1, 31, c.days_, c.anyDay_)) return fail("bad day-of-month field");
  if (!parseField(fields[3], 1, 12, c.months_, any)) return fail("bad month field");
  if (!parseField(fields[4], 0, 7, weekdays, c.anyWeekday_)) return fail("bad day-of-week field");
  for (size_t d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
  if (weekdays[7]) c.weekdays_[0] = true;
  return c;
}

int64_t CronSchedule::next(int64_t after) const {
  std::time_t t = static_cast<std::time_t>(after - after % 60 + 60);
  // Five years: enough for any expression that ever matches (Feb 29 included).
  const std::time_t limit = t + 5 * 366 * 86400;
  while (t < limit) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (!months_[static_cast<size_t>(tm.tm_mon + 1)]) {
      tm.tm_mon += 1;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    const bool dayOk = days_[static_cast<size_t>(tm.tm_mday)];
    const bool weekdayOk = weekdays_[static_cast<size_t>(tm.tm_wday)];
    const bool matches = anyDay_ && anyWeekday_ ? true
                         : anyDay_              ? weekdayOk
                         : anyWeekday_          ? dayOk
                                                : dayOk || weekdayOk;
    if (!matches) {
      tm.tm_mday += 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!hours_[static_cast<size_t>(tm.tm_hour)]) {
      tm.tm_hour += 1;
      tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!minutes_[static_cast<size_t>(tm.tm_min)]) {
      t += 60;
      continue;
    }
    return static_cast<int64_t>(t);
  }
  return INT64_MAX;  // never, e.g. "0 0 31 2 *"
}

}  // namespace berth::jobs
