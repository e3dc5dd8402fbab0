#pragma once
// Azure Storage's Shared Key authorization (the Blob service's string to sign, version
// 2009-09-19 and later) and service SAS tokens for reading one blob, both HMAC-SHA256 with
// the account key.
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::storage::sharedkey {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// The Blob service version berth speaks (x-ms-version, and sv= of the SAS it makes).
inline constexpr std::string_view kVersion = "2021-08-06";

// A request to sign. `path` is the URL's path as sent (encoded, starting with '/': for an
// emulator such as Azurite it begins with the account's name); `query` holds decoded names and
// values; `headers` every header the request carries (standard and x-ms-*).
struct Request {
  std::string_view method;
  std::string_view path;
  Pairs query;
  Pairs headers;
};

std::string stringToSign(const Request& request, std::string_view account);

// The Authorization header's value: "SharedKey <account>:<signature>". Nothing when `key` is
// not base64.
std::optional<std::string> authorization(const Request& request, std::string_view account,
                                         std::string_view key);

// "Sun, 06 Nov 1994 08:49:37 GMT", for x-ms-date.
std::string httpDate(std::time_t when);
// "2026-12-05T07:30:00Z", for SAS start and expiry.
std::string isoTime(std::time_t when);

// A service SAS (the query string, without '?') granting `permissions` ("r", "racwdl") on one
// blob, or on the whole container when `blob` is empty, from `start` to `expiry`. Nothing when
// `key` is not base64.
std::optional<std::string> serviceSas(std::string_view account, std::string_view key,
                                      std::string_view container, std::string_view blob,
                                      std::string_view permissions, std::time_t start,
                                      std::time_t expiry);

}  // namespace berth::storage::sharedkey
