#pragma once
// Base64url without padding (RFC 4648 §5), as JWS and JWK use it.
#include <optional>
#include <string>
#include <string_view>

namespace berth::auth {

std::string base64urlEncode(std::string_view bytes);
std::optional<std::string> base64urlDecode(std::string_view text);
// Standard base64 with padding (HTTP Basic credentials).
std::optional<std::string> base64Decode(std::string_view text);
std::string base64Encode(std::string_view bytes);

}  // namespace berth::auth
