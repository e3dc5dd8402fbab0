#pragma once
// Content digests (`algorithm:hex`) and the streaming SHA-256 that computes them.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace berth {

class Digest {
 public:
  // Parses and validates against the OCI grammar; only sha256 and sha512 are accepted,
  // with lowercase hex of the algorithm's length.
  static std::optional<Digest> parse(std::string_view text);

  const std::string& str() const { return text_; }
  std::string_view algorithm() const { return std::string_view(text_).substr(0, colon_); }
  std::string_view hex() const { return std::string_view(text_).substr(colon_ + 1); }
  bool operator==(const Digest&) const = default;

 private:
  Digest(std::string text, size_t colon) : text_(std::move(text)), colon_(colon) {}
  std::string text_;
  size_t colon_ = 0;
};

// Streaming hash over OpenSSL EVP (SHA-NI where the CPU has it).
class Hasher {
 public:
  enum class Algorithm { Sha256, Sha512 };
  explicit Hasher(Algorithm algorithm = Algorithm::Sha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Returns "sha256:<hex>" and resets nothing: call once.
  std::string finish();

  static std::optional<Algorithm> forName(std::string_view name);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  Algorithm algorithm_;
};

std::string sha256Digest(std::string_view data);

}  // namespace berth
