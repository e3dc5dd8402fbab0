#include "control/errors.hpp"

#include <array>
#include <boost/json.hpp>

namespace berth::control {
namespace {

constexpr std::array<CodeInfo, static_cast<size_t>(Code::kCount)> kTable{{
    {Code::InvalidArgument, "INVALID_ARGUMENT", 400, "invalid argument", ApiCode::Unknown},
    {Code::Unauthorized, "UNAUTHORIZED", 401, "authentication required", ApiCode::Unauthorized},
    {Code::Denied, "DENIED", 403, "requested access to the resource is denied", ApiCode::Denied},
    {Code::NotFound, "NOT_FOUND", 404, "not found", ApiCode::NotFound},
    {Code::MethodNotAllowed, "METHOD_NOT_ALLOWED", 405, "method not allowed", ApiCode::Unsupported},
    {Code::Conflict, "CONFLICT", 409, "the resource already exists", ApiCode::Conflict},
    {Code::TooLarge, "TOO_LARGE", 413, "request body too large", ApiCode::Unknown},
    {Code::TooManyRequests, "TOO_MANY_REQUESTS", 429, "too many requests",
     ApiCode::TooManyRequests},
    {Code::InsufficientStorage, "INSUFFICIENT_STORAGE", 507,
     "insufficient storage: the disk holding the registry's data is full",
     ApiCode::InsufficientStorage},
    {Code::Internal, "INTERNAL_ERROR", 500, "internal error", ApiCode::Unknown},
}};

constexpr bool tableInOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].code) != i) return false;
  }
  return true;
}
static_assert(tableInOrder(), "every control Code needs its row, in declaration order");

}  // namespace

const CodeInfo& info(Code code) { return kTable[static_cast<size_t>(code)]; }

Error error(Code code, std::string message) {
  const auto& row = info(code);
  return makeError(row.core, std::move(message), row.status);
}

Code codeOf(const Error& error) {
  const int status = error.httpStatus();
  for (const auto& row : kTable) {
    if (row.status == status) return row.code;
  }
  return status >= 400 && status < 500 ? Code::InvalidArgument : Code::Internal;
}

http::Response errorResponse(const Error& error) {
  const auto& row = info(codeOf(error));
  const std::string_view message = error.detail.empty() ? row.message : error.detail;
  boost::json::object body{
      {"error", boost::json::object{{"code", row.wire}, {"message", message}}}};
  auto resp = http::Response::json(row.status, boost::json::serialize(body));
  if (row.code == Code::Unauthorized) resp.headers.add("WWW-Authenticate", "Basic realm=\"berth\"");
  return resp;
}

}  // namespace berth::control
