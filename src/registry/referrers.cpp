// GET /v2/<name>/referrers/<digest>[?artifactType=]
#include <boost/json.hpp>

#include "core/digest.hpp"
#include "registry/handlers.hpp"
#include "registry/manifest_parse.hpp"

namespace berth::registry {

http::Dispatch handleReferrers(Services& s, http::Request& req, Target& t) {
  auto digest = Digest::parse(t.ref);
  if (!digest) return fail(ApiCode::DigestInvalid, "invalid digest");
  const auto filter = req.param("artifactType");

  boost::json::array manifests;
  auto repository = findRepository(s, t.ctx.registry, t.name);
  if (!repository) return replyError(repository.error());
  if (*repository) {
    auto referrers = s.meta.referrers(**repository, digest->str());
    if (!referrers) return replyError(referrers.error());
    for (const auto& m : *referrers) {
      if (filter && m.artifactType != *filter) continue;
      boost::json::object d{{"mediaType", m.mediaType}, {"digest", m.digest}, {"size", m.size}};
      if (!m.artifactType.empty()) d["artifactType"] = m.artifactType;
      if (!m.annotations.empty()) {
        boost::system::error_code ec;
        auto annotations = boost::json::parse(m.annotations, ec);
        if (!ec) d["annotations"] = std::move(annotations);
      }
      manifests.emplace_back(std::move(d));
    }
  }
  boost::json::object index{
      {"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", std::move(manifests)}};
  http::Response resp;
  resp.headers.add("Content-Type", std::string(media::kOciIndex));
  if (filter) resp.headers.add("OCI-Filters-Applied", "artifactType");
  resp.body = boost::json::serialize(index);
  return http::Dispatch::reply(std::move(resp));
}

}  // namespace berth::registry
