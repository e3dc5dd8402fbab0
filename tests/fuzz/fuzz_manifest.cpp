// The manifest and index parser: any bytes under any Content-Type berth accepts. A parsed
// manifest must be one kind only, with valid digests throughout.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/digest.hpp"
#include "registry/manifest_parse.hpp"

using namespace berth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr std::string_view kTypes[] = {
      registry::media::kOciManifest,
      registry::media::kOciIndex,
      registry::media::kDockerManifest,
      registry::media::kDockerList,
      "application/json",
      "",
      "application/vnd.oci.image.manifest.v1+json; charset=utf-8"};
  if (size == 0) return 0;
  const auto type = kTypes[data[0] % std::size(kTypes)];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parsed = registry::parseManifest(type, body);
  if (!parsed) {
    if (parsed.error().code != ApiCode::ManifestInvalid) std::abort();
    return 0;
  }
  const bool index = registry::isIndexType(parsed->mediaType);
  if (index ? !parsed->blobs.empty() : (!parsed->manifests.empty() || parsed->blobs.empty())) {
    std::abort();  // an image with children, an index with layers, or an image with no config
  }
  for (const auto* list : {&parsed->blobs, &parsed->manifests}) {
    for (const auto& d : *list) {
      if (!Digest::parse(d.digest) || d.mediaType.empty()) std::abort();
    }
  }
  if (!parsed->subject.empty() && !Digest::parse(parsed->subject)) std::abort();
  return 0;
}
