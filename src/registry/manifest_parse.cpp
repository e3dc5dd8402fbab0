#include "registry/manifest_parse.hpp"

#include <boost/json.hpp>

#include "core/digest.hpp"

namespace berth::registry {
namespace json = boost::json;
namespace {

Error invalid(std::string detail) { return makeError(ApiCode::ManifestInvalid, std::move(detail)); }

bool isKnownType(std::string_view t) {
  return t == media::kOciManifest || t == media::kOciIndex || t == media::kDockerManifest ||
         t == media::kDockerList;
}

std::string_view stripParameters(std::string_view contentType) {
  const auto semi = contentType.find(';');
  auto t = contentType.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return t;
}

std::optional<std::string_view> stringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  const auto& s = it->value().get_string();
  return std::string_view(s.data(), s.size());
}

Result<Descriptor> parseDescriptor(const json::value& v, std::string_view where) {
  const std::string at(where);
  if (!v.is_object()) return invalid(at + ": descriptor must be an object");
  const auto& o = v.get_object();
  auto mediaType = stringField(o, "mediaType");
  if (!mediaType || mediaType->empty()) return invalid(at + ": mediaType missing");
  auto digest = stringField(o, "digest");
  if (!digest || !Digest::parse(*digest)) return invalid(at + ": digest missing or invalid");
  auto size = o.find("size");
  if (size == o.end() || !(size->value().is_int64() || size->value().is_uint64())) {
    return invalid(at + ": size missing");
  }
  if (size->value().is_int64() && size->value().get_int64() < 0) {
    return invalid(at + ": size negative");
  }
  Descriptor d;
  d.mediaType = std::string(*mediaType);
  d.digest = std::string(*digest);
  d.size = size->value().is_int64() ? static_cast<uint64_t>(size->value().get_int64())
                                    : size->value().get_uint64();
  d.external = d.mediaType == media::kDockerForeignLayer ||
               d.mediaType.starts_with(media::kOciNondistributablePrefix);
  return d;
}

Result<void> parseOptionalFields(const json::object& o, ParsedManifest& out) {
  if (auto it = o.find("artifactType"); it != o.end()) {
    if (!it->value().is_string()) return invalid("artifactType must be a string");
    out.artifactType = std::string(it->value().get_string());
  }
  if (auto it = o.find("subject"); it != o.end()) {
    auto subject = parseDescriptor(it->value(), "subject");
    if (!subject) return subject.takeError();
    out.subject = subject->digest;
  }
  if (auto it = o.find("annotations"); it != o.end()) {
    if (!it->value().is_object()) return invalid("annotations must be an object");
    for (const auto& [k, v] : it->value().get_object()) {
      if (!v.is_string()) return invalid("annotation values must be strings");
    }
    if (!it->value().get_object().empty()) out.annotations = json::serialize(it->value());
  }
  return {};
}

}  // namespace

bool isIndexType(std::string_view mediaType) {
  return mediaType == media::kOciIndex || mediaType == media::kDockerList;
}

Result<ParsedManifest> parseManifest(std::string_view contentType, std::string_view body) {
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return invalid("manifest is not valid JSON: " + ec.message());
  if (!doc.is_object()) return invalid("manifest must be a JSON object");
  const auto& o = doc.get_object();

  auto schema = o.find("schemaVersion");
  if (schema == o.end() || !schema->value().is_int64() || schema->value().get_int64() != 2) {
    return invalid("schemaVersion must be 2");
  }

  ParsedManifest out;
  const auto declared = stringField(o, "mediaType");
  const auto requested = stripParameters(contentType);
  if (isKnownType(requested)) {
    if (declared && *declared != requested) {
      return invalid("mediaType " + std::string(*declared) + " does not match Content-Type " +
                     std::string(requested));
    }
    out.mediaType = std::string(requested);
  } else if (requested.empty() || requested == "application/json" ||
             requested == "application/octet-stream") {
    if (declared && isKnownType(*declared)) {
      out.mediaType = std::string(*declared);
    } else if (!declared && o.contains("manifests")) {
      out.mediaType = std::string(media::kOciIndex);
    } else if (!declared && o.contains("config")) {
      out.mediaType = std::string(media::kOciManifest);
    } else {
      return invalid("cannot tell the manifest's media type");
    }
  } else {
    return invalid("unsupported manifest media type " + std::string(requested));
  }
  if (out.mediaType.find("docker") != std::string::npos && !declared) {
    return invalid("Docker manifests must declare their mediaType");
  }

  // A document that is both an image and an index would be read as either, depending on who
  // reads it (CVE-2021-41190): each kind must carry only its own fields.
  if (isIndexType(out.mediaType)) {
    if (o.contains("layers") || o.contains("config")) {
      return invalid("an index may not have layers or a config");
    }
  } else if (o.contains("manifests")) {
    return invalid("an image manifest may not have manifests");
  }

  if (isIndexType(out.mediaType)) {
    auto manifests = o.find("manifests");
    if (manifests == o.end() || !manifests->value().is_array()) {
      return invalid("manifests must be an array");
    }
    size_t i = 0;
    for (const auto& entry : manifests->value().get_array()) {
      auto d = parseDescriptor(entry, "manifests[" + std::to_string(i++) + "]");
      if (!d) return d.takeError();
      out.manifests.push_back(std::move(*d));
    }
  } else {
    auto config = o.find("config");
    if (config == o.end()) return invalid("config missing");
    auto c = parseDescriptor(config->value(), "config");
    if (!c) return c.takeError();
    auto layers = o.find("layers");
    if (layers == o.end() || !layers->value().is_array()) return invalid("layers must be an array");
    out.blobs.push_back(*c);
    size_t i = 0;
    for (const auto& entry : layers->value().get_array()) {
      auto d = parseDescriptor(entry, "layers[" + std::to_string(i++) + "]");
      if (!d) return d.takeError();
      out.blobs.push_back(std::move(*d));
    }
    if (auto r = parseOptionalFields(o, out); !r) return r.takeError();
    if (out.artifactType.empty()) out.artifactType = c->mediaType;
    return out;
  }
  if (auto r = parseOptionalFields(o, out); !r) return r.takeError();
  return out;
}

}  // namespace berth::registry
