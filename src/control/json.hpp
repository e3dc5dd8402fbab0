#pragma once
// JSON in and out of the control plane: RFC 3339 times, replies, and a reader of request
// bodies that refuses wrong types and unknown members, naming the field.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"
#include "meta/metadata_store.hpp"

namespace berth::control {

// "2026-11-27T04:00:00Z"
std::string rfc3339(int64_t unixSeconds);
// RFC 3339 with `Z` or a numeric offset; fractions of a second are dropped. nullopt when
// malformed or out of range.
std::optional<int64_t> parseRfc3339(std::string_view text);

boost::json::value timeOrNull(std::optional<int64_t> unixSeconds);
// null for an empty string.
boost::json::value stringOrNull(std::string_view text);

http::Response jsonReply(int status, const boost::json::value& body);

// The request body as an object; an empty body is the empty object.
Result<boost::json::object> parseBody(std::string_view text);

// Reads the members of a request body: an absent member is nullopt; null is a wrong type
// like any other. The first member of a wrong type is remembered; finish() reports it, or
// else the first member that nobody read.
class BodyFields {
 public:
  explicit BodyFields(const boost::json::object& body) : body_(body) {}

  std::optional<std::string> string(std::string_view key);
  std::optional<bool> boolean(std::string_view key);
  std::optional<uint64_t> unsignedInteger(std::string_view key);
  std::optional<std::vector<std::string>> strings(std::string_view key);
  // An object whose members are all strings, in order.
  std::optional<std::vector<std::pair<std::string, std::string>>> stringMap(std::string_view key);

  Result<void> finish() const;

 private:
  const boost::json::value* take(std::string_view key);
  void wrongType(std::string_view key, std::string_view expected);

  const boost::json::object& body_;
  std::vector<std::string> read_;
  std::optional<Error> error_;
};

// A garbage-collection pass, as the control API and `berth admin gc` show it.
boost::json::object gcRunJson(const meta::GcRun& run);

// INVALID_ARGUMENT: `field "<key>" is required`.
Error missingField(std::string_view key);

}  // namespace berth::control
