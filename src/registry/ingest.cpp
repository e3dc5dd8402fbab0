#include "registry/ingest.hpp"

#include "core/random.hpp"
#include "registry/manifest_parse.hpp"

namespace berth::registry {
namespace {

Error sizeMismatch(const Descriptor& d, uint64_t stored) {
  return makeError(ApiCode::ManifestInvalid, "descriptor of " + d.digest + " has size " +
                                                 std::to_string(d.size) + ", but it is " +
                                                 std::to_string(stored) + " bytes");
}

// Every config and layer must be a blob of this repository, every index child a manifest,
// each of the size its descriptor says: a client trusts that size when it reads.
Result<std::vector<meta::ManifestRef>> checkReferences(meta::MetadataStore& meta,
                                                       meta::RepositoryId repository,
                                                       const ParsedManifest& parsed) {
  std::vector<meta::ManifestRef> refs;
  for (const auto& d : parsed.blobs) {
    if (d.external) continue;
    auto linked = meta.linkedBlob(repository, d.digest);
    if (!linked) return linked.takeError();
    if (!*linked) return makeError(ApiCode::ManifestBlobUnknown, "blob " + d.digest);
    if (**linked != d.size) return sizeMismatch(d, **linked);
    refs.push_back({d.digest, false});
  }
  for (const auto& d : parsed.manifests) {
    auto child = meta.getManifest(repository, d.digest);
    if (!child) return child.takeError();
    if (!*child) return makeError(ApiCode::ManifestBlobUnknown, "manifest " + d.digest);
    if ((*child)->size != d.size) return sizeMismatch(d, (*child)->size);
    refs.push_back({d.digest, true});
  }
  return refs;
}

}  // namespace

Result<StoredManifest> storeManifest(meta::MetadataStore& meta, meta::RegistryId registry,
                                     std::string_view repository, std::string_view contentType,
                                     std::string body, std::optional<Digest> byDigest,
                                     std::optional<std::string_view> tag,
                                     const meta::Actor& actor) {
  std::string digest = sha256Digest(body);
  if (byDigest) {
    if (byDigest->algorithm() != "sha256") {
      Hasher h(Hasher::Algorithm::Sha512);
      h.update(body);
      digest = h.finish();
    }
    if (digest != byDigest->str()) {
      return makeError(ApiCode::DigestInvalid,
                       "manifest digest " + digest + " does not match reference");
    }
  }
  auto parsed = parseManifest(contentType, body);
  if (!parsed) return parsed.takeError();
  auto repositoryId = meta.ensureRepository(registry, repository);
  if (!repositoryId) return repositoryId.takeError();
  auto refs = checkReferences(meta, *repositoryId, *parsed);
  if (!refs) return refs.takeError();

  meta::ManifestRecord record;
  record.digest = digest;
  record.mediaType = parsed->mediaType;
  record.artifactType = parsed->artifactType;
  record.size = body.size();
  record.subject = parsed->subject;
  record.annotations = parsed->annotations;
  record.payload = std::move(body);
  if (auto r = meta.putManifest(registry, *repositoryId, record, *refs, tag, actor); !r) {
    return r.takeError();
  }
  return StoredManifest{digest, parsed->mediaType, parsed->subject, *repositoryId};
}

Result<bool> linkStoredBlob(meta::MetadataStore& meta, meta::RegistryId registry,
                            meta::RepositoryId repository, storage::BlobStore& blobs,
                            const Digest& digest, uint64_t size) {
  auto stored = blobs.stat(digest);
  if (!stored) return stored.takeError();
  if (!*stored || **stored != size) return false;
  bool gone = false;
  auto linked = meta.linkBlob(registry, repository, digest.str(), size,
                              [&]() -> Result<void> {
                                auto again = blobs.stat(digest);
                                if (!again) return again.takeError();
                                if (!*again || **again != size) {
                                  gone = true;
                                  return makeError(ApiCode::BlobUnknown,
                                                   "blob " + digest.str() + " left the store");
                                }
                                return {};
                              },
                              {});
  if (!linked) {
    if (gone) return false;
    return linked.takeError();
  }
  return true;
}

Result<uint64_t> ingestBlob(meta::MetadataStore& meta, meta::RegistryId registry,
                            meta::RepositoryId repository, storage::BlobStore& blobs,
                            const Digest& digest,
                            const std::function<Result<void>(storage::UploadWriter&)>& fill) {
  const auto id = newUuid();
  if (auto r = blobs.createUpload(id); !r) return r.takeError();
  auto fail = [&](Error e) -> Result<uint64_t> {
    (void)blobs.cancelUpload(id);
    return e;
  };
  {
    auto writer = blobs.appendLast(id, digest);
    if (!writer) return fail(writer.takeError());
    if (auto r = fill(**writer); !r) {
      (void)(*writer)->close();
      writer->reset();
      return fail(r.takeError());
    }
    if (auto r = (*writer)->close(); !r) {
      writer->reset();
      return fail(r.takeError());
    }
  }
  auto info = blobs.verifyUpload(id, digest);
  if (!info) return fail(info.takeError());
  auto linked = meta.linkBlob(registry, repository, digest.str(), info->size,
                              [&] { return blobs.placeUpload(id, digest); }, {});
  if (!linked) return fail(linked.takeError());
  return info->size;
}

}  // namespace berth::registry
