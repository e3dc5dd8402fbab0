// GET, HEAD, PUT and DELETE /v2/<name>/manifests/<tag|digest>
#include "core/digest.hpp"
#include "core/reference.hpp"
#include "registry/handlers.hpp"
#include "registry/ingest.hpp"
#include "registry/manifest_parse.hpp"

namespace berth::registry {
namespace {

using http::Dispatch;
using http::Response;
using ManifestPtr = std::shared_ptr<const meta::ManifestRecord>;

// The manifest of `digest` in the repository, from the cache when it is there.
Result<ManifestPtr> loadManifest(Services& s, meta::RepositoryId repository,
                                 const std::string& digest) {
  const auto key = Caches::key(repository, digest);
  if (auto hit = s.caches.manifests.get(key)) return *hit;
  const auto epoch = s.caches.epoch();
  auto found = s.meta.getManifest(repository, digest);
  if (!found) return found.takeError();
  if (!*found) return ManifestPtr();
  auto manifest = std::make_shared<const meta::ManifestRecord>(std::move(**found));
  if (s.caches.unchangedSince(epoch)) s.caches.manifests.put(key, manifest);
  return manifest;
}

Result<std::optional<std::string>> resolveTag(Services& s, meta::RepositoryId repository,
                                              const std::string& tag) {
  const auto key = Caches::key(repository, tag);
  if (auto hit = s.caches.tags.get(key)) return std::optional<std::string>(*hit);
  const auto epoch = s.caches.epoch();
  auto found = s.meta.resolveTag(repository, tag);
  if (!found) return found.takeError();
  if (*found && s.caches.unchangedSince(epoch)) s.caches.tags.put(key, **found);
  return found;
}

// The stored manifest `digest` of the repository; `cache` (when not empty) says how the
// pull-through cache decided (X-Berth-Cache).
Dispatch answerManifest(Services& s, meta::RepositoryId repository, const std::string& digest,
                        bool head, std::string_view cache = {}) {
  auto manifest = loadManifest(s, repository, digest);
  if (!manifest) return replyError(manifest.error());
  if (!*manifest) return replyError(makeError(ApiCode::ManifestUnknown, digest));
  const auto& m = **manifest;
  Response resp;
  resp.headers.add("Content-Type", m.mediaType);
  resp.headers.add("Docker-Content-Digest", m.digest);
  resp.headers.add("ETag", "\"" + m.digest + "\"");
  if (!cache.empty()) resp.headers.add("X-Berth-Cache", std::string(cache));
  if (head) {
    resp.contentLength = m.size;
  } else {
    resp.body = m.payload;
  }
  return Dispatch::reply(std::move(resp));
}

// A manifest of a repository under a cache rule: what the registry has for the reference is
// looked up here; whether to ask the upstream, and what, is the cache's (on the blocking pool).
Dispatch getCachedManifest(Services& s, Target& t, bool isDigest, bool head) {
  auto repository = findRepository(s, t.ctx.registry, t.name);
  if (!repository) return replyError(repository.error());
  std::string local;
  if (*repository) {
    if (isDigest) {
      auto found = loadManifest(s, **repository, t.ref);
      if (!found) return replyError(found.error());
      if (*found) return answerManifest(s, **repository, t.ref, head, "hit");  // immutable
    } else {
      auto resolved = resolveTag(s, **repository, t.ref);
      if (!resolved) return replyError(resolved.error());
      if (*resolved) local = **resolved;
    }
  }
  return Dispatch::offload([&s, t, head, local]() -> Dispatch {
    auto answer = s.pull->manifest(t.ctx, t.name, t.ref, local);
    if (!answer) return replyError(answer.error());
    if (answer->verdict != PullThrough::Verdict::Fetched) {
      auto repository = findRepository(s, t.ctx.registry, t.name);
      if (!repository) return replyError(repository.error());
      if (!*repository) return replyError(makeError(ApiCode::NameUnknown, t.name));
      const bool stale = answer->verdict == PullThrough::Verdict::Stale;
      auto reply = answerManifest(s, **repository, local, head, stale ? "stale" : "hit");
      if (stale && reply.response) {
        // A quoted-string of printable text: the reason comes from the upstream.
        std::string why = answer->why.substr(0, 200);
        for (auto& c : why) {
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '"' || c == '\\') c = ' ';
        }
        reply.response->headers.add("Warning", "110 berth \"Response is Stale: " + why + "\"");
      }
      return reply;
    }
    Response resp;
    resp.headers.add("Content-Type", answer->mediaType);
    resp.headers.add("Docker-Content-Digest", answer->digest);
    resp.headers.add("ETag", "\"" + answer->digest + "\"");
    resp.headers.add("X-Berth-Cache", "miss");
    if (head) {
      resp.contentLength = answer->body.size();
    } else {
      resp.body = std::move(answer->body);
    }
    return Dispatch::reply(std::move(resp));
  });
}

Dispatch getManifest(Services& s, http::Request& req, Target& t, bool isDigest) {
  const bool head = req.method == http::Method::Head;
  if (s.pull && s.pull->covers(t.ctx.registry, t.name)) {
    return getCachedManifest(s, t, isDigest, head);
  }
  auto repository = findRepository(s, t.ctx.registry, t.name);
  if (!repository) return replyError(repository.error());
  if (!*repository) return replyError(makeError(ApiCode::NameUnknown, t.name));
  std::string digest = t.ref;
  if (!isDigest) {
    auto resolved = resolveTag(s, **repository, t.ref);
    if (!resolved) return replyError(resolved.error());
    if (!*resolved) return replyError(makeError(ApiCode::ManifestUnknown, "tag " + t.ref));
    digest = **resolved;
  }
  return answerManifest(s, **repository, digest, head);
}

Dispatch deleteManifest(Services& s, Target& t, bool isDigest) {
  auto repository = findRepository(s, t.ctx.registry, t.name);
  if (!repository) return replyError(repository.error());
  if (!*repository) return replyError(makeError(ApiCode::NameUnknown, t.name));
  const auto id = **repository;
  bool existed = false;
  if (isDigest) {
    auto removed = s.meta.deleteManifest(id, t.ref, actorOf(t.ctx));
    if (!removed) return replyError(removed.error());
    // The manifest and its referrers.
    for (const auto& digest : *removed) s.caches.manifests.erase(Caches::key(id, digest));
    s.caches.forgetRepositoryTags(id);
    existed = !removed->empty();
  } else {
    auto removed = s.meta.deleteTag(id, t.ref, actorOf(t.ctx));
    if (!removed) return replyError(removed.error());
    s.caches.tags.erase(Caches::key(id, t.ref));
    existed = *removed;
  }
  if (!existed) return replyError(makeError(ApiCode::ManifestUnknown, t.ref));
  return Dispatch::reply(Response::empty(202));
}

Response putManifest(Services& s, const Target& t, const std::string& contentType,
                     std::optional<Digest> byDigest, std::string body) {
  std::optional<std::string_view> tag;
  if (!byDigest) tag = t.ref;
  auto stored = storeManifest(s.meta, t.ctx.registry, t.name, contentType, std::move(body),
                              byDigest, tag, actorOf(t.ctx));
  if (!stored) return errorResponse(stored.error());
  if (tag) s.caches.tags.erase(Caches::key(stored->repository, *tag));

  auto resp = Response::empty(201);
  resp.headers.add("Location", "/v2/" + t.name + "/manifests/" + stored->digest);
  resp.headers.add("Docker-Content-Digest", stored->digest);
  if (!stored->subject.empty()) resp.headers.add("OCI-Subject", stored->subject);
  resp.contentLength = 0;
  return resp;
}

}  // namespace

Dispatch handleManifest(Services& s, http::Request& req, Target& t) {
  std::optional<Digest> digest;
  if (t.ref.find(':') != std::string::npos) {
    digest = Digest::parse(t.ref);
    if (!digest) return replyError(makeError(ApiCode::DigestInvalid, "invalid digest"));
  } else if (!isValidTag(t.ref)) {
    // No manifest can be known by a name that is not a tag; only a push learns why.
    if (req.method == http::Method::Put) {
      return replyError(makeError(ApiCode::ManifestInvalid, "invalid tag \"" + t.ref + "\""));
    }
    return replyError(makeError(ApiCode::ManifestUnknown, "invalid tag"));
  }
  const bool isDigest = digest.has_value();

  switch (req.method) {
    case http::Method::Get:
    case http::Method::Head:
      return getManifest(s, req, t, isDigest);
    case http::Method::Delete:
      return deleteManifest(s, t, isDigest);
    case http::Method::Put: {
      std::string contentType(req.header("Content-Type").value_or(""));
      auto done = [&s, t, contentType, digest](std::string body) {
        return putManifest(s, t, contentType, digest, std::move(body));
      };
      auto tooLarge = makeError(ApiCode::ManifestInvalid, "manifest exceeds 4 MiB", 413);
      return Dispatch::body(std::make_unique<http::BufferedSink<decltype(done)>>(
          kMaxManifestBytes, std::move(tooLarge), std::move(done)));
    }
    default:
      return replyError(makeError(ApiCode::Unsupported));
  }
}

}  // namespace berth::registry
