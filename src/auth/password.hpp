#pragma once
// Secrets: generated from the system CSPRNG, stored only as argon2id hashes (libsodium).
#include <string>
#include <string_view>

namespace berth::auth {

// 32 random bytes, base64url: 43 characters.
std::string generateSecret();
// An argon2id hash in libsodium's self-describing string form.
std::string hashSecret(std::string_view secret);
bool verifySecret(std::string_view hash, std::string_view secret);

}  // namespace berth::auth
