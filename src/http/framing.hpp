#pragma once
// What berth's server makes of the bytes of one request, framed in memory exactly as the
// server frames it from a socket (the same parser settings and RFC 9112 rules). For tests and
// fuzzing; no Beast here.
#include <cstdint>
#include <string>
#include <string_view>

namespace berth::http {

struct FramedRequest {
  enum class Outcome { Incomplete, Refused, Complete };
  Outcome outcome = Outcome::Incomplete;
  int status = 0;  // of a refusal: 400, 431 or 501
  std::string method;
  std::string target;
  uint64_t bodyBytes = 0;  // body bytes handed on
  size_t rest = 0;         // bytes after a complete request (the next one's)
};

FramedRequest frameRequest(std::string_view bytes, uint32_t headerLimit = 16 * 1024);

}  // namespace berth::http
