#pragma once
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::cli::client {

// Checks of command-line values, each failing with a ClientError that names the flag.

// "true" or "false" (any case); nothing when `text` is empty (the flag was not given).
std::optional<bool> parseBool(const std::string& text, const std::string& flag);
// One of `allowed`, compared without case; returns the allowed spelling.
std::string parseChoice(const std::string& text, const std::string& flag,
                        const std::vector<std::string>& allowed);
// A positive count such as --top; nothing when `text` is empty.
std::optional<std::size_t> parseCount(const std::string& text, const std::string& flag);
// Bytes: a number with an optional B, KiB, MiB, GiB or TiB suffix.
std::uint64_t parseSize(const std::string& text, const std::string& flag);
// An RFC 3339 UTC time from --expiration, or now + --expiration-in-days; nothing when neither
// is given.
std::optional<std::string> parseExpiry(const std::string& expiration, const std::string& days);
// "--repository REPO ACTION..." groups as API actions "repositories/REPO/ACTION".
boost::json::array parseRepositoryActions(const std::vector<std::vector<std::string>>& groups,
                                          const std::string& flag);
// --password PASSWORD or --password-stdin (the first line of standard input, without its line
// end, possibly empty): nothing when neither is given; a ClientError when both are.
std::optional<std::string> passwordOption(const std::string& password, bool fromStdin);
// A required confirmation for what cannot be undone.
void requireYes(bool yes, const std::string& what);

}  // namespace berth::cli::client
