#include "cli/client/artifacts.hpp"

#include <algorithm>
#include <cctype>

#include "cli/client/args.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string stringField(const json::value& value, std::string_view key) {
  const auto* field = value.is_object() ? value.as_object().if_contains(key) : nullptr;
  if (field == nullptr || !field->is_string()) {
    throw ClientError("the server's reply has no \"" + std::string(key) + "\"");
  }
  return std::string(field->as_string());
}

}  // namespace

Image parseImage(const std::string& text, const std::string& what) {
  const auto bad = [&] {
    return ClientError(what + " must be REPOSITORY:TAG or REPOSITORY@DIGEST, not \"" + text + "\"");
  };
  Image image;
  if (const auto at = text.find('@'); at != std::string::npos) {
    image.repository = text.substr(0, at);
    image.digest = text.substr(at + 1);
    if (image.digest.find(':') == std::string::npos) throw bad();
  } else {
    const auto colon = text.rfind(':');
    const auto slash = text.rfind('/');
    if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) throw bad();
    image.repository = text.substr(0, colon);
    image.tag = text.substr(colon + 1);
    if (image.tag.empty()) throw bad();
  }
  if (image.repository.empty()) throw bad();
  return image;
}

Image parseImageOf(ControlClient& control, const std::string& registry, const std::string& text,
                   const std::string& what) {
  const auto slash = text.find('/');
  const std::string_view first = std::string_view(text).substr(0, slash);
  // A login server (<name>.<domain>[:port]) has a dot; a repository's first part seldom has one,
  // and never a colon.
  if (slash == std::string::npos || first.find_first_of(".:") == std::string_view::npos) {
    return parseImage(text, what);
  }
  const std::string loginServer = stringField(control.get(registryPath(registry)), "loginServer");
  if (equalsIgnoreCase(first, loginServer)) return parseImage(text.substr(slash + 1), what);
  if (first.find(':') != std::string_view::npos) {
    throw ClientError(what + " names the login server " + std::string(first) + ", not " +
                      loginServer + " of registry \"" + registry + "\"");
  }
  return parseImage(text, what);
}

std::string manifestDigest(ControlClient& control, const std::string& registry,
                           const Image& image) {
  if (!image.digest.empty()) return image.digest;
  return stringField(control.get(tagPath(registry, image.repository, image.tag)), "digest");
}

const json::array& arrayField(const json::value& value, std::string_view key) {
  const auto* field = value.is_object() ? value.as_object().if_contains(key) : nullptr;
  if (field == nullptr || !field->is_array()) {
    throw ClientError("the server's reply has no \"" + std::string(key) + "\" list");
  }
  return field->as_array();
}

json::array firstItems(json::array items, const std::string& top) {
  if (auto count = parseCount(top, "--top"); count && items.size() > *count) items.resize(*count);
  return items;
}

json::array listManifests(ControlClient& control, const std::string& registry,
                          const std::string& repository, const std::string& orderby,
                          const std::string& top) {
  std::string query;
  if (!orderby.empty()) {
    query = "?orderby=" + parseChoice(orderby, "--orderby", {"time_desc", "time_asc"});
  }
  parseCount(top, "--top");
  const json::value reply =
      control.get(repositoryPath(registry, repository) + "/_manifests" + query);
  return firstItems(arrayField(reply, "manifests"), top);
}

json::object deleteImage(ControlClient& control, const std::string& registry, const Image& image) {
  const std::string digest = manifestDigest(control, registry, image);
  const std::string path = manifestPath(registry, image.repository, digest);
  const json::value manifest = control.get(path);
  control.remove(path);
  return json::object{{"manifestsDeleted", json::array{json::value(digest)}},
                      {"tagsDeleted", arrayField(manifest, "tags")}};
}

json::object lockChange(const std::string& deleteEnabled, const std::string& writeEnabled) {
  json::object body;
  if (auto v = parseBool(deleteEnabled, "--delete-enabled")) body["deleteEnabled"] = *v;
  if (auto v = parseBool(writeEnabled, "--write-enabled")) body["writeEnabled"] = *v;
  return body;
}

}  // namespace berth::cli::client
