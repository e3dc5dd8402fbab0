#include "auth/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "auth/base64url.hpp"

namespace berth::auth {
namespace {

void initSodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

std::string generateSecret() {
  initSodium();
  std::string bytes(32, '\0');
  randombytes_buf(bytes.data(), bytes.size());
  return base64urlEncode(bytes);
}

std::string hashSecret(std::string_view secret) {
  initSodium();
  char out[crypto_pwhash_STRBYTES];
  // Interactive limits: generated secrets have 256 bits of entropy, so the work factor only
  // guards against offline attacks on a stolen database, and logins stay fast.
  if (crypto_pwhash_str_alg(out, secret.data(), secret.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("argon2id hashing failed (out of memory)");
  }
  return out;
}

bool verifySecret(std::string_view hash, std::string_view secret) {
  initSodium();
  const std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), secret.data(), secret.size()) == 0;
}

}  // namespace berth::auth
