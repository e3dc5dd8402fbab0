#pragma once
// Parsing and schema validation of the manifest media types berth accepts.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace berth::registry {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kOciNondistributablePrefix =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
}  // namespace media

struct Descriptor {
  std::string mediaType;
  std::string digest;
  uint64_t size = 0;
  // Foreign (Windows base) and non-distributable layers live elsewhere: no blob is required.
  bool external = false;
};

struct ParsedManifest {
  std::string mediaType;
  // The manifest's artifactType, or for an image manifest without one its config media type,
  // as the referrers API reports it.
  std::string artifactType;
  std::string subject;                // digest, empty when none
  std::string annotations;            // serialized JSON object, empty when none
  std::vector<Descriptor> blobs;      // config and layers
  std::vector<Descriptor> manifests;  // index children
};

// `contentType` is the request's Content-Type (parameters are ignored). Errors are
// MANIFEST_INVALID with a detail naming what is wrong.
Result<ParsedManifest> parseManifest(std::string_view contentType, std::string_view body);

bool isIndexType(std::string_view mediaType);

}  // namespace berth::registry
