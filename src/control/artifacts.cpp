// Tags and manifests of a repository:
// /api/v1/registries/{registry}/repositories/{repository}/{_tags,_manifests}[/{tag|digest}].
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/log.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

json::object listJson(Call& c, std::string_view key, json::array items) {
  return {{"registry", c.deps.host.loginServer(c.settings().name)},
          {"imageName", c.repository},
          {key, std::move(items)}};
}

json::object tagJson(const meta::TagInfo& t) {
  return {{"name", t.name},
          {"digest", t.digest},
          {"size", t.size},
          {"createdTime", rfc3339(t.created)},
          {"lastUpdateTime", rfc3339(t.updated)},
          {"changeableAttributes", attributesJson(t.attributes, false)}};
}

bool isIndex(std::string_view mediaType) {
  return mediaType == kOciIndex || mediaType == kDockerList;
}

uint64_t sizeOf(const json::value& descriptor) {
  const auto* object = descriptor.if_object();
  const auto* size = object != nullptr ? object->if_contains("size") : nullptr;
  if (size == nullptr) return 0;
  if (size->is_uint64()) return size->get_uint64();
  return size->is_int64() && size->get_int64() > 0 ? static_cast<uint64_t>(size->get_int64()) : 0;
}

// The manifest's size plus, for an image, its config and layers, as a tag's size counts them.
uint64_t totalSize(const meta::ManifestRecord& m, const json::object* doc) {
  uint64_t total = m.size;
  if (doc == nullptr || isIndex(m.mediaType)) return total;
  if (const auto* config = doc->if_contains("config")) total += sizeOf(*config);
  if (const auto* layers = doc->if_contains("layers"); layers != nullptr && layers->is_array()) {
    for (const auto& layer : layers->get_array()) total += sizeOf(layer);
  }
  return total;
}

// The artifactType the manifest declares; null for an image that declares none (the store
// keeps its config media type, which the referrers API reports in its place).
json::value declaredArtifactType(const json::object* doc) {
  const auto* type = doc != nullptr ? doc->if_contains("artifactType") : nullptr;
  if (type == nullptr || !type->is_string() || type->get_string().empty()) return nullptr;
  return *type;
}

// The platforms of an index's entries; an image's platform lives in its config blob.
json::array platformsOf(const meta::ManifestRecord& m, const json::object* doc) {
  json::array out;
  if (doc == nullptr || !isIndex(m.mediaType)) return out;
  const auto* entries = doc->if_contains("manifests");
  if (entries == nullptr || !entries->is_array()) return out;
  for (const auto& entry : entries->get_array()) {
    const auto* platform = entry.is_object() ? entry.get_object().if_contains("platform") : nullptr;
    if (platform == nullptr || !platform->is_object()) continue;
    const auto& p = platform->get_object();
    const auto* os = p.if_contains("os");
    const auto* arch = p.if_contains("architecture");
    const auto* variant = p.if_contains("variant");
    const auto* osVersion = p.if_contains("os.version");
    const auto* digest = entry.get_object().if_contains("digest");
    if (os == nullptr || !os->is_string() || arch == nullptr || !arch->is_string()) continue;
    auto stringOr = [](const json::value* v) { return v && v->is_string() ? *v : json::value(); };
    out.push_back(json::object{{"os", os->get_string()},
                               {"architecture", arch->get_string()},
                               {"variant", stringOr(variant)},
                               {"osVersion", stringOr(osVersion)},
                               {"digest", stringOr(digest)}});
  }
  return out;
}

// An image's config blob as a JSON object (what the portal shows of entrypoint, env and
// labels); null for an index, an artifact of another config type, or a config over 1 MiB.
json::value imageConfig(Call& c, const json::object* doc) {
  constexpr uint64_t kLimit = 1 << 20;
  // The config is content (its environment may hold secrets): a token needs content/read.
  if (c.caller.limited() &&
      (c.caller.permissions.actionsOn(c.repository) & auth::kContentRead) == 0) {
    return nullptr;
  }
  const auto* config = doc != nullptr ? doc->if_contains("config") : nullptr;
  if (config == nullptr || !config->is_object()) return nullptr;
  const auto* type = config->get_object().if_contains("mediaType");
  const auto* digest = config->get_object().if_contains("digest");
  if (type == nullptr || !type->is_string() || digest == nullptr || !digest->is_string()) {
    return nullptr;
  }
  if (type->get_string() != "application/vnd.oci.image.config.v1+json" &&
      type->get_string() != "application/vnd.docker.container.image.v1+json") {
    return nullptr;
  }
  auto parsedDigest = Digest::parse(std::string(digest->get_string()));
  if (!parsedDigest) return nullptr;
  auto bytes = c.deps.host.readSmallBlob(c.settings(), *parsedDigest, kLimit);
  if (!bytes || !*bytes) return nullptr;
  boost::system::error_code ec;
  auto parsed = json::parse(**bytes, ec);
  if (ec || !parsed.is_object()) return nullptr;
  return parsed;
}

// `withDocument` adds the manifest itself, as a JSON object, under "manifest".
Result<json::object> manifestJson(Call& c, meta::RepositoryId repository,
                                  const meta::ManifestInfo& info, bool withDocument = false) {
  const auto& m = info.manifest;
  auto referrers = c.deps.meta.referrers(repository, m.digest);
  if (!referrers) return referrers.takeError();
  json::array referrerList;
  for (const auto& r : *referrers) {
    referrerList.push_back(
        json::object{{"digest", r.digest}, {"artifactType", stringOrNull(r.artifactType)}});
  }
  boost::system::error_code ec;
  const auto parsed = json::parse(m.payload, ec);
  const json::object* doc = ec ? nullptr : parsed.if_object();
  auto tagNames = info.tags;
  std::sort(tagNames.begin(), tagNames.end());
  json::array tags;
  for (const auto& t : tagNames) tags.emplace_back(t);
  json::object out{{"digest", m.digest},
                   {"mediaType", m.mediaType},
                   {"artifactType", declaredArtifactType(doc)},
                   {"size", totalSize(m, doc)},
                   {"createdTime", rfc3339(m.created)},
                   {"tags", std::move(tags)},
                   {"platforms", platformsOf(m, doc)},
                   {"referrers", std::move(referrerList)},
                   {"changeableAttributes", attributesJson(info.attributes, false)}};
  if (withDocument) {
    out["manifest"] = doc != nullptr ? json::value(*doc) : json::value(nullptr);
    out["config"] = imageConfig(c, doc);
  }
  return out;
}

Error tagNotFound(const Call& c) {
  return error(Code::NotFound, "tag " + c.tag + " not found in repository " + c.repository);
}

Error manifestNotFound(const Call& c) {
  return error(Code::NotFound, "manifest " + c.digest + " not found in repository " + c.repository);
}

Reply tag(Call& c, meta::RepositoryId repository) {
  auto info = c.deps.meta.tagInfo(repository, c.tag);
  if (!info) return info.takeError();
  if (!*info) return tagNotFound(c);
  return jsonReply(200, tagJson(**info));
}

Reply manifest(Call& c, meta::RepositoryId repository, bool withDocument) {
  auto info = c.deps.meta.manifestInfo(repository, c.digest);
  if (!info) return info.takeError();
  if (!*info) return manifestNotFound(c);
  auto out = manifestJson(c, repository, **info, withDocument);
  if (!out) return out.takeError();
  return jsonReply(200, *out);
}

}  // namespace

bool containsFolded(std::string_view text, std::string_view part) {
  auto fold = [](char ch) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  };
  return std::search(text.begin(), text.end(), part.begin(), part.end(),
                     [&](char a, char b) { return fold(a) == fold(b); }) != text.end();
}

Result<PageWindow> pageWindow(const Call& c) {
  PageWindow w;
  auto number = [&](std::string_view key, uint64_t min, uint64_t max) -> Result<uint64_t> {
    const auto text = c.param(key);
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc() || ptr != text->data() + text->size() || v < min || v > max) {
      return error(Code::InvalidArgument, std::string(key) + " must be a whole number from " +
                                              std::to_string(min) + " to " + std::to_string(max));
    }
    return v;
  };
  if (c.param("n")) {
    auto n = number("n", 1, kMaxPage);
    if (!n) return n.takeError();
    w.count = *n;
  }
  if (c.param("offset")) {
    auto offset = number("offset", 0, UINT32_MAX);
    if (!offset) return offset.takeError();
    w.offset = *offset;
  }
  return w;
}

Result<Order> orderOf(const Call& c, bool byName) {
  const auto orderby = c.param("orderby").value_or("time_desc");
  if (orderby == "time_desc") return Order::TimeDesc;
  if (orderby == "time_asc") return Order::TimeAsc;
  if (byName && orderby == "name") return Order::Name;
  return error(Code::InvalidArgument, byName ? "orderby must be time_desc, time_asc or name"
                                             : "orderby must be time_desc or time_asc");
}

// ---- tags ----

Reply listTags(Call& c) {
  auto order = orderOf(c, true);
  if (!order) return order.takeError();
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  auto infos = c.deps.meta.tagInfos(*repository);
  if (!infos) return infos.takeError();
  auto window = pageWindow(c);
  if (!window) return window.takeError();
  const auto q = c.param("q").value_or("");
  if (!q.empty()) {
    std::erase_if(*infos, [&](const meta::TagInfo& t) { return !containsFolded(t.name, q); });
  }
  std::sort(infos->begin(), infos->end(), [&](const meta::TagInfo& a, const meta::TagInfo& b) {
    if (*order == Order::Name || a.updated == b.updated) return a.name < b.name;
    return *order == Order::TimeAsc ? a.updated < b.updated : a.updated > b.updated;
  });
  const size_t first = std::min<size_t>(window->offset, infos->size());
  const size_t last = first + std::min<uint64_t>(window->count, infos->size() - first);
  json::array tags;
  for (size_t i = first; i < last; ++i) tags.push_back(tagJson((*infos)[i]));
  auto body = listJson(c, "tags", std::move(tags));
  body["totalCount"] = infos->size();
  return jsonReply(200, body);
}

Reply showTag(Call& c) {
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  return tag(c, *repository);
}

Reply updateTag(Call& c) {
  auto change = attributeChange(c.body, false);
  if (!change) return change.takeError();
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  auto updated = c.deps.meta.updateTag(*repository, c.tag, *change);
  if (!updated) return updated.takeError();
  if (!*updated) return tagNotFound(c);
  c.deps.host.forget(c.registryId());
  return tag(c, *repository);
}

Reply deleteTag(Call& c) {
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  auto deleted = c.deps.meta.deleteTag(*repository, c.tag, c.actor());
  if (!deleted) return deleted.takeError();
  if (!*deleted) return tagNotFound(c);
  c.deps.host.forget(c.registryId());
  log::info("tag deleted", {{"registry", c.settings().name},
                            {"repository", c.repository},
                            {"tag", c.tag},
                            {"request_id", c.requestId}});
  return http::Response::empty(204);
}

// ---- manifests ----

Reply listManifests(Call& c) {
  auto order = orderOf(c, false);
  if (!order) return order.takeError();
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  auto infos = c.deps.meta.manifestInfos(*repository);
  if (!infos) return infos.takeError();
  std::sort(infos->begin(), infos->end(),
            [&](const meta::ManifestInfo& a, const meta::ManifestInfo& b) {
              const auto& x = a.manifest;
              const auto& y = b.manifest;
              if (x.created == y.created) return x.digest < y.digest;
              return *order == Order::TimeAsc ? x.created < y.created : x.created > y.created;
            });
  json::array manifests;
  for (const auto& info : *infos) {
    auto out = manifestJson(c, *repository, info);
    if (!out) return out.takeError();
    manifests.push_back(std::move(*out));
  }
  return jsonReply(200, listJson(c, "manifests", std::move(manifests)));
}

Reply showManifest(Call& c) {
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  return manifest(c, *repository, true);
}

Reply updateManifest(Call& c) {
  auto change = attributeChange(c.body, false);
  if (!change) return change.takeError();
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  auto updated = c.deps.meta.updateManifest(*repository, c.digest, *change);
  if (!updated) return updated.takeError();
  if (!*updated) return manifestNotFound(c);
  c.deps.host.forget(c.registryId());
  return manifest(c, *repository, false);
}

Reply deleteManifest(Call& c) {
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  auto deleted = c.deps.meta.deleteManifest(*repository, c.digest, c.actor());
  if (!deleted) return deleted.takeError();
  if (deleted->empty()) return manifestNotFound(c);
  c.deps.host.forget(c.registryId());
  log::info("manifest deleted", {{"registry", c.settings().name},
                                 {"repository", c.repository},
                                 {"digest", c.digest},
                                 {"referrers", std::to_string(deleted->size() - 1)},
                                 {"request_id", c.requestId}});
  return http::Response::empty(204);
}

}  // namespace berth::control
