#include "core/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace berth {
namespace {

bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::optional<Digest> Digest::parse(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto algorithm = text.substr(0, colon);
  const auto hex = text.substr(colon + 1);
  size_t want = 0;
  if (algorithm == "sha256") {
    want = 64;
  } else if (algorithm == "sha512") {
    want = 128;
  } else {
    return std::nullopt;
  }
  if (hex.size() != want) return std::nullopt;
  for (char c : hex) {
    if (!isLowerHex(c)) return std::nullopt;
  }
  return Digest(std::string(text), colon);
}

struct Hasher::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Hasher::Hasher(Algorithm algorithm) : ctx_(std::make_unique<Ctx>()), algorithm_(algorithm) {
  ctx_->md = EVP_MD_CTX_new();
  const EVP_MD* md = algorithm == Algorithm::Sha256 ? EVP_sha256() : EVP_sha512();
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, md, nullptr) != 1) {
    throw std::runtime_error("EVP_DigestInit_ex failed");
  }
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t size) { EVP_DigestUpdate(ctx_->md, data, size); }

std::string Hasher::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = algorithm_ == Algorithm::Sha256 ? "sha256:" : "sha512:";
  text.reserve(text.size() + 2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    text.push_back(kHex[out[i] >> 4]);
    text.push_back(kHex[out[i] & 0xf]);
  }
  return text;
}

std::optional<Hasher::Algorithm> Hasher::forName(std::string_view name) {
  if (name == "sha256") return Algorithm::Sha256;
  if (name == "sha512") return Algorithm::Sha512;
  return std::nullopt;
}

std::string sha256Digest(std::string_view data) {
  Hasher h;
  h.update(data);
  return h.finish();
}

}  // namespace berth
