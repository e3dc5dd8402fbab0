#pragma once
// The registry's error codes: one table maps each to its wire string, message and HTTP status.
// The wire strings are the OCI distribution specification's codes only (and UNKNOWN, as the
// reference registry sends, for internal errors); what a code cannot say goes in the message
// or the detail.
#include <array>
#include <string>
#include <string_view>

namespace berth {

enum class ApiCode {
  BlobUnknown,
  BlobUploadInvalid,
  BlobUploadUnknown,
  DigestInvalid,
  ManifestBlobUnknown,
  ManifestInvalid,
  ManifestUnknown,
  NameInvalid,
  NameUnknown,
  SizeInvalid,
  Unauthorized,
  Denied,
  Unsupported,
  TooManyRequests,
  RangeInvalid,
  NotFound,
  Conflict,
  InsufficientStorage,
  Unknown,
  kCount,
};

struct ApiCodeInfo {
  ApiCode code;
  std::string_view wire;
  std::string_view message;
  int status;
};

const ApiCodeInfo& info(ApiCode code);

// A domain error on its way to the wire. `status` overrides the table's status when non-zero.
struct Error {
  ApiCode code = ApiCode::Unknown;
  std::string detail;
  int status = 0;
  // Replaces the table's message when set: clients print the message alone, so an error
  // whose cause the user must read (a quota, a lock, an unknown host) says it there.
  std::string message;

  int httpStatus() const { return status != 0 ? status : info(code).status; }
};

inline Error makeError(ApiCode code, std::string detail = {}, int status = 0) {
  return Error{code, std::move(detail), status, {}};
}
// An error whose message (and detail) is `text`.
inline Error explainedError(ApiCode code, std::string text) { return Error{code, text, 0, text}; }

// {"errors":[{"code":..,"message":..,"detail":..}]}
std::string errorBody(const Error& error);

}  // namespace berth
