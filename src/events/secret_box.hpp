#pragma once
// Secrets berth must use again later, not only check (a webhook's signing secret; an
// upstream's password): sealed with libsodium's secretbox (XSalsa20-Poly1305) under one key
// kept in the data directory (mode 0600), so that the database alone, or a backup of it,
// reveals none of them.
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace berth::events {

class SecretBox {
 public:
  // Reads the key at `file`, creating it (32 random bytes, 0600) when missing. An error when
  // the file exists with another size or mode open to others.
  static Result<SecretBox> open(const std::filesystem::path& file);
  // The key given as text (base64 or base64url of 32 bytes): for containers, where it comes
  // from the environment (BERTH_SECRET_KEY) rather than a file of the node's.
  static Result<SecretBox> fromText(std::string_view text);

  // A new random secret to hand out once: 32 bytes, base64url.
  static std::string newSecret();

  // A fresh random nonce each time; the result is text (base64url of nonce + ciphertext).
  std::string seal(std::string_view plaintext) const;
  // An error for text that was not sealed under this key (or was altered).
  Result<std::string> unseal(std::string_view sealed) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace berth::events
