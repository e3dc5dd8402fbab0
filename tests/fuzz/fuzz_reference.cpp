// The name, tag, digest and upload-id grammar, against the specification's regular
// expressions: berth's hand-written matchers must agree with them on every input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <string>

#include "core/digest.hpp"
#include "core/random.hpp"
#include "core/reference.hpp"

using namespace berth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::regex kName(
      "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*");
  static const std::regex kTag("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
  static const std::regex kDigest("(sha256:[a-f0-9]{64})|(sha512:[a-f0-9]{128})");
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (size > 512) return 0;  // std::regex recurses on long inputs; the limits are 255 and 128

  const bool name = isValidRepositoryName(text);
  if (name != (text.size() <= kMaxNameLength && std::regex_match(text, kName))) std::abort();
  if (isValidTag(text) != std::regex_match(text, kTag)) std::abort();
  const auto digest = Digest::parse(text);
  if (digest.has_value() != std::regex_match(text, kDigest)) std::abort();
  if (digest && digest->str() != text) std::abort();
  // An upload id becomes a file name: nothing but the UUID shape may pass.
  if (isUuid(text) && (text.size() != 36 || text.find_first_of("/.") != std::string::npos)) {
    std::abort();
  }
  return 0;
}
