#pragma once
// Five-field cron expressions ("minute hour day-of-month month day-of-week", UTC) for purge
// schedules, as `az acr task create --schedule` takes them: *, lists, ranges and steps;
// day of week 0-7 (0 and 7: Sunday). When both day fields are restricted, either matches.
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth::jobs {

class CronSchedule {
 public:
  // nullopt, with the reason in `error`, when the text is not such an expression.
  static std::optional<CronSchedule> parse(std::string_view text, std::string* error = nullptr);
  // The first minute the schedule names after `after` (seconds since the epoch).
  int64_t next(int64_t after) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0-6, Sunday 0
  bool anyDay_ = true;
  bool anyWeekday_ = true;
};

}  // namespace berth::jobs
