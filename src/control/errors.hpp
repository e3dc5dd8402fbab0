#pragma once
// The control API's error codes: one table gives each its wire string and HTTP status, one
// writer emits {"error":{"code","message"}}. Errors travel as berth::Error inside Result<T>,
// together with the stores' errors, and are translated here, once, by their HTTP status.
#include <string>
#include <string_view>

#include "core/errors.hpp"
#include "http/message.hpp"

namespace berth::control {

enum class Code {
  InvalidArgument,
  Unauthorized,
  Denied,
  NotFound,
  MethodNotAllowed,
  Conflict,
  TooLarge,
  TooManyRequests,
  InsufficientStorage,
  Internal,
  kCount,
};

struct CodeInfo {
  Code code;
  std::string_view wire;     // INVALID_ARGUMENT
  int status;                // 400
  std::string_view message;  // when the error carries none
  ApiCode core;              // the data plane's nearest code, for logs
};

const CodeInfo& info(Code code);

// A control-plane error, carried as a berth::Error whose status is the code's.
Error error(Code code, std::string message);
// The control code of any error, stores' included: by HTTP status; another 4xx is
// INVALID_ARGUMENT, anything else INTERNAL_ERROR.
Code codeOf(const Error& error);
// The reply for an error; a 401 carries the Basic challenge.
http::Response errorResponse(const Error& error);

}  // namespace berth::control
