// JWT decoding and verification: any bytes as a token, and tokens signed with the server's own
// key around fuzzed claims. Nothing unsigned, mis-signed or not ES256 may verify; what berth
// signs must verify back to the claims it signed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "auth/base64url.hpp"
#include "auth/jwt.hpp"

using namespace berth::auth;

namespace {

const SigningKey& key() {
  static const SigningKey k = SigningKey::generate();
  return k;
}

std::variant<Claims, JwtError> decode(std::string_view token) {
  return decodeJwt(
      token,
      [](std::string_view kid) -> std::shared_ptr<const SigningKey> {
        if (kid != key().kid()) return nullptr;
        return std::shared_ptr<const SigningKey>(&key(), [](const SigningKey*) {});
      },
      "berth", "registry.example", 1'700'000'000);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)base64urlDecode(text);
  (void)base64Decode(text);

  // Any bytes as a token: refused with a reason (never a crash), unless they are one of ours.
  auto any = decode(text);
  if (auto* claims = std::get_if<Claims>(&any); claims != nullptr && claims->iss != "berth") {
    std::abort();  // the issuer is checked
  }

  // Fuzzed claims, signed with the key, verify back to themselves. What berth signs are names
  // it has validated (ASCII), so the fuzzed text is folded into printable ASCII, quotes and
  // backslashes included.
  std::string printable(text);
  for (char& ch : printable) ch = static_cast<char>(0x20 + static_cast<unsigned char>(ch) % 0x5f);
  const std::string_view p(printable);
  Claims c;
  c.iss = "berth";
  c.aud = "registry.example";
  c.sub = std::string(p.substr(0, size / 2));
  c.jti = std::string(p.substr(size / 2));
  c.iat = c.nbf = 1'700'000'000 - 10;
  c.exp = 1'700'000'000 + 300;
  c.access.push_back({"repository", std::string(p.substr(0, size / 3)), {"pull", c.jti}});
  const std::string token = encodeJwt(c, key());
  auto back = decode(token);
  auto* claims = std::get_if<Claims>(&back);
  if (claims == nullptr || claims->sub != c.sub || claims->jti != c.jti ||
      !(claims->access == c.access)) {
    std::abort();
  }
  // One byte changed anywhere in the signed part must not verify.
  if (size > 0) {
    std::string tampered = token;
    const size_t at = data[0] % token.rfind('.');
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    if (std::holds_alternative<Claims>(decode(tampered))) {
      auto again = std::get<Claims>(decode(tampered));
      if (again.sub != c.sub || again.jti != c.jti || !(again.access == c.access)) std::abort();
    }
  }
  return 0;
}
