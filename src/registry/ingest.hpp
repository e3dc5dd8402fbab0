#pragma once
// Writing into a registry from inside berth (an import, the pull-through cache): the checks
// and transactions of a client's push, without a client. Calls may block on the store.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "meta/metadata_store.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

struct StoredManifest {
  std::string digest;
  std::string mediaType;
  std::string subject;  // the digest it refers to, empty when none
  meta::RepositoryId repository = 0;
};

// Validates and records a manifest as a push does: `byDigest`, when given, must be its digest;
// every blob must be linked to the repository and every child manifest stored in it, each of
// the size its descriptor says; `tag`, when given, points at it.
Result<StoredManifest> storeManifest(meta::MetadataStore& meta, meta::RegistryId registry,
                                     std::string_view repository, std::string_view contentType,
                                     std::string body, std::optional<Digest> byDigest,
                                     std::optional<std::string_view> tag, const meta::Actor& actor);

// Links a blob the registry's store already holds to `repository`, checking inside the linking
// transaction that the bytes are there with `size` (so that garbage collection, which removes
// bytes in a transaction of its own, cannot take them between check and link). False when the
// store does not hold them.
Result<bool> linkStoredBlob(meta::MetadataStore& meta, meta::RegistryId registry,
                            meta::RepositoryId repository, storage::BlobStore& blobs,
                            const Digest& digest, uint64_t size);

// Streams a blob into the store through `fill` (which writes to the writer it is given), checks
// it against `digest`, and links it to `repository`, as a monolithic push. Nothing stays in the
// store when any step fails.
Result<uint64_t> ingestBlob(meta::MetadataStore& meta, meta::RegistryId registry,
                            meta::RepositoryId repository, storage::BlobStore& blobs,
                            const Digest& digest,
                            const std::function<Result<void>(storage::UploadWriter&)>& fill);

}  // namespace berth::registry
