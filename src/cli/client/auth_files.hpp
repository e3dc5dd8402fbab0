#pragma once
#include <filesystem>
#include <string>

namespace berth::cli::client {

// docker's: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
std::filesystem::path dockerConfigPath();
// podman's, skopeo's and buildah's: $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/<uid>/auth.json.
std::filesystem::path containersAuthPath();

// The JSON file at `path` (or a new one) with auths[loginServer] set to
// {"auth": base64(user:password)}, every other entry and key kept. Throws ClientError when the
// file exists but is not a JSON object, so that nothing in it is lost.
std::string withAuth(const std::filesystem::path& path, const std::string& loginServer,
                     const std::string& user, const std::string& password);

}  // namespace berth::cli::client
