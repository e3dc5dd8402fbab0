#pragma once
// What the request signers share: HMAC-SHA256, hex, header canonicalisation, UTC times.
#include <ctime>
#include <string>
#include <string_view>

namespace berth::storage::signing {

std::string hmacSha256(std::string_view key, std::string_view data);  // raw bytes
std::string sha256Hex(std::string_view data);
std::string hex(std::string_view bytes);
std::string lowerAscii(std::string_view text);
// A header value trimmed, with runs of spaces and tabs folded into one space.
std::string foldSpaces(std::string_view value);
std::string base64(std::string_view bytes);
// `when` formatted by strftime(3) in UTC.
std::string utcTime(std::time_t when, const char* format);

}  // namespace berth::storage::signing
