// Request heads and bodies as berth's server frames them (http/framing.hpp): the same parser
// settings and RFC 9112 rules, over any bytes, whole and cut at any point.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/framing.hpp"

using berth::http::FramedRequest;
using berth::http::frameRequest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const FramedRequest whole = frameRequest(bytes);
  switch (whole.outcome) {
    case FramedRequest::Outcome::Refused:
      if (whole.status != 400 && whole.status != 431 && whole.status != 501) std::abort();
      break;
    case FramedRequest::Outcome::Complete:
      if (whole.method.empty() || whole.bodyBytes > size || whole.rest > size) std::abort();
      break;
    case FramedRequest::Outcome::Incomplete:
      break;
  }
  // A prefix of a request is never more than it: complete only if the whole is.
  if (size > 0) {
    const FramedRequest prefix = frameRequest(bytes.substr(0, size / 2));
    if (prefix.outcome == FramedRequest::Outcome::Complete &&
        whole.outcome != FramedRequest::Outcome::Complete) {
      std::abort();
    }
  }
  return 0;
}
