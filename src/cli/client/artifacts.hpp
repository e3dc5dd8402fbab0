#pragma once
// Images, tags and manifests as the client commands name them, shared by `berth repository`
// and `berth manifest`: image references, the manifest a tag points at, manifest lists, the
// deletion of an image, and the lock flags.
#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "cli/client/control.hpp"

namespace berth::cli::client {

// `REPOSITORY:TAG` or `REPOSITORY@sha256:…`.
struct Image {
  std::string repository;
  std::string tag;     // empty for a digest reference
  std::string digest;  // empty for a tag reference
};

// `what` names the argument in the error (--image, IMAGE).
Image parseImage(const std::string& text, const std::string& what);
// As parseImage, after dropping a leading `<the registry's login server>/`, which `az acr`
// accepts too (`myregistry.azurecr.io/team/app:v1`).
Image parseImageOf(ControlClient& control, const std::string& registry, const std::string& text,
                   const std::string& what);

// The digest of the manifest an image names: its own, or that of the tag.
std::string manifestDigest(ControlClient& control, const std::string& registry, const Image& image);

// The list under `key` of a reply; a ClientError when there is none.
const boost::json::array& arrayField(const boost::json::value& value, std::string_view key);
// The first --top items, all when `top` is empty.
boost::json::array firstItems(boost::json::array items, const std::string& top);

// The manifests of a repository in the order of --orderby (time_desc or time_asc; the API's
// default when empty), at most --top, with every detail the API gives.
boost::json::array listManifests(ControlClient& control, const std::string& registry,
                                 const std::string& repository, const std::string& orderby,
                                 const std::string& top);

// Deletes the image's manifest and with it every tag on it, as `az acr repository delete
// --image` does; returns {"manifestsDeleted": [digest], "tagsDeleted": [tag...]}.
boost::json::object deleteImage(ControlClient& control, const std::string& registry,
                                const Image& image);

// {"deleteEnabled"?, "writeEnabled"?} from --delete-enabled and --write-enabled (empty when
// neither is given).
boost::json::object lockChange(const std::string& deleteEnabled, const std::string& writeEnabled);

}  // namespace berth::cli::client
