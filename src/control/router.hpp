#pragma once
// Matching a request against the route table of routes.cpp. Internal to the control component.
#include <string>
#include <string_view>
#include <vector>

#include "control/routes.hpp"

namespace berth::control {

// Path parameters as matched: {registry}, {repository}, {tag}, {digest}, {name}, {password}.
struct PathParams {
  std::string registry, repository, tag, digest, name, password, credential;
};

struct RouteMatch {
  const Route* route = nullptr;  // in the static table; null when no route has this method
  PathParams params;
  // Without a route: the methods the path has (none: no such path).
  std::vector<std::string_view> allowed;
};

// {repository} spans one or more segments, up to the template's fixed tail (`/_tags/{tag}`,
// `/_manifests`, ...), and never takes in a `_tags` or `_manifests` segment. Where templates
// overlap (`/registries/check-name`, `/registries/{registry}`) the one with more literal
// segments wins for a method both have.
RouteMatch matchRequest(std::string_view method, std::string_view path);

}  // namespace berth::control
