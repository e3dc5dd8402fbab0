#include "core/errors.hpp"

#include <boost/json.hpp>

namespace berth {
namespace {

constexpr std::array<ApiCodeInfo, static_cast<size_t>(ApiCode::kCount)> kTable{{
    {ApiCode::BlobUnknown, "BLOB_UNKNOWN", "blob unknown to registry", 404},
    {ApiCode::BlobUploadInvalid, "BLOB_UPLOAD_INVALID", "blob upload invalid", 400},
    {ApiCode::BlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404},
    {ApiCode::DigestInvalid, "DIGEST_INVALID", "provided digest did not match uploaded content",
     400},
    {ApiCode::ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN",
     "manifest references a manifest or blob unknown to registry", 400},
    {ApiCode::ManifestInvalid, "MANIFEST_INVALID", "manifest invalid", 400},
    {ApiCode::ManifestUnknown, "MANIFEST_UNKNOWN", "manifest unknown to registry", 404},
    {ApiCode::NameInvalid, "NAME_INVALID", "invalid repository name", 400},
    {ApiCode::NameUnknown, "NAME_UNKNOWN", "repository name not known to registry", 404},
    {ApiCode::SizeInvalid, "SIZE_INVALID", "provided length did not match content length", 400},
    {ApiCode::Unauthorized, "UNAUTHORIZED", "authentication required", 401},
    {ApiCode::Denied, "DENIED", "requested access to the resource is denied", 403},
    {ApiCode::Unsupported, "UNSUPPORTED", "the operation is unsupported", 405},
    {ApiCode::TooManyRequests, "TOOMANYREQUESTS", "too many requests", 429},
    {ApiCode::RangeInvalid, "BLOB_UPLOAD_INVALID", "requested range not satisfiable", 416},
    // A registry or other named resource that does not exist.
    {ApiCode::NotFound, "NAME_UNKNOWN", "no such resource", 404},
    {ApiCode::Conflict, "DENIED", "the resource already exists", 409},
    {ApiCode::InsufficientStorage, "DENIED",
     "insufficient storage: the disk holding the registry's data is full", 507},
    {ApiCode::Unknown, "UNKNOWN", "unknown error", 500},
}};

constexpr bool tableInOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].code) != i) return false;
  }
  return true;
}
static_assert(tableInOrder(), "every ApiCode needs its row, in declaration order");

}  // namespace

const ApiCodeInfo& info(ApiCode code) { return kTable[static_cast<size_t>(code)]; }

std::string errorBody(const Error& error) {
  const auto& row = info(error.code);
  boost::json::object entry{{"code", row.wire},
                            {"message", error.message.empty() ? row.message : error.message}};
  if (!error.detail.empty()) entry["detail"] = error.detail;
  boost::json::object body{{"errors", boost::json::array{entry}}};
  return boost::json::serialize(body);
}

}  // namespace berth
