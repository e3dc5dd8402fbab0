#include "control/router.hpp"

#include <algorithm>
#include <optional>

namespace berth::control {
namespace {

// "/a/b/c" -> "a", "b", "c"
std::vector<std::string_view> segmentsOf(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool isParameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

void assign(PathParams& params, std::string_view name, std::string value) {
  if (name == "{registry}") params.registry = std::move(value);
  if (name == "{repository}") params.repository = std::move(value);
  if (name == "{tag}") params.tag = std::move(value);
  if (name == "{digest}") params.digest = std::move(value);
  if (name == "{name}") params.name = std::move(value);
  if (name == "{password}") params.password = std::move(value);
  if (name == "{credential}") params.credential = std::move(value);
}

bool matchSegment(std::string_view pattern, std::string_view segment, PathParams& params) {
  if (!isParameter(pattern)) return pattern == segment;
  if (segment.empty()) return false;
  assign(params, pattern, std::string(segment));
  return true;
}

// Matches a path against a route template.
std::optional<PathParams> matchTemplate(std::string_view pattern,
                                        const std::vector<std::string_view>& path) {
  const auto tmpl = segmentsOf(pattern);
  const auto spanning = std::find(tmpl.begin(), tmpl.end(), "{repository}");
  PathParams params;
  if (spanning == tmpl.end()) {
    if (tmpl.size() != path.size()) return std::nullopt;
    for (size_t i = 0; i < tmpl.size(); ++i) {
      if (!matchSegment(tmpl[i], path[i], params)) return std::nullopt;
    }
    return params;
  }
  const size_t head = static_cast<size_t>(spanning - tmpl.begin());
  const size_t tail = tmpl.size() - head - 1;
  if (path.size() < head + tail + 1) return std::nullopt;
  for (size_t i = 0; i < head; ++i) {
    if (!matchSegment(tmpl[i], path[i], params)) return std::nullopt;
  }
  for (size_t i = 0; i < tail; ++i) {
    if (!matchSegment(tmpl[head + 1 + i], path[path.size() - tail + i], params)) {
      return std::nullopt;
    }
  }
  std::string repository;
  for (size_t i = head; i < path.size() - tail; ++i) {
    if (path[i].empty() || path[i] == "_tags" || path[i] == "_manifests" || path[i] == "_purge" ||
        path[i] == "_deleted") {
      return std::nullopt;
    }
    if (!repository.empty()) repository += '/';
    repository += path[i];
  }
  params.repository = std::move(repository);
  return params;
}

size_t parameterCount(std::string_view pattern) {
  return static_cast<size_t>(std::count(pattern.begin(), pattern.end(), '{'));
}

}  // namespace

RouteMatch matchRequest(std::string_view method, std::string_view path) {
  const auto segments = segmentsOf(path);
  RouteMatch match;
  for (const auto& r : routes()) {
    auto params = matchTemplate(r.path, segments);
    if (!params) continue;
    if (r.method == method) {
      // Should two templates match, the one with more literal segments wins.
      if (match.route == nullptr || parameterCount(r.path) < parameterCount(match.route->path)) {
        match.route = &r;
        match.params = std::move(*params);
      }
    } else if (std::find(match.allowed.begin(), match.allowed.end(), r.method) ==
               match.allowed.end()) {
      match.allowed.push_back(r.method);
    }
  }
  if (match.route != nullptr) match.allowed.clear();
  return match;
}

}  // namespace berth::control
