#pragma once
// Lists kept in one TEXT column as a JSON array of strings.
#include <boost/json.hpp>
#include <string>
#include <vector>

namespace berth::meta::sql {

inline std::string listJson(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& item : items) a.emplace_back(item);
  return boost::json::serialize(a);
}

// What is not a JSON array of strings reads as an empty list (its strings only, when mixed).
inline std::vector<std::string> listFrom(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

}  // namespace berth::meta::sql
