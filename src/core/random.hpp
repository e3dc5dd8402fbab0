#pragma once
#include <string>
#include <string_view>

namespace berth {

// A random RFC 4122 version-4 UUID, lowercase, from OpenSSL's CSPRNG.
std::string newUuid();

// True for exactly the shape newUuid() produces; checked before an id becomes a file name.
bool isUuid(std::string_view text);

}  // namespace berth
