#pragma once
// The pull-through cache as the data plane sees it: repositories under a cache rule are filled
// from another registry when a pull misses, and their tags are checked against it now and
// then. The implementation (src/upstream/cache.hpp) talks to the upstream; the handlers ask it
// only for repositories it covers, from the blocking pool.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "http/message.hpp"
#include "registry/context.hpp"

namespace berth::registry {

class PullThrough {
 public:
  virtual ~PullThrough() = default;

  // Whether a cache rule of the registry covers `repository`. From memory: no network.
  virtual bool covers(meta::RegistryId registry, std::string_view repository) = 0;

  enum class Verdict {
    Local,    // answer from what the registry stores (fresh, or just checked)
    Stale,    // the same, though the upstream could not be asked (`why`)
    Fetched,  // the manifest below, just fetched from the upstream
  };
  struct ManifestAnswer {
    Verdict verdict = Verdict::Local;
    std::string mediaType, digest, body;  // Fetched
    std::string why;                      // Stale
  };
  // What to answer for a manifest (by tag or digest) of a covered repository, given the digest
  // the registry stores for it ("" when none). Blocks.
  virtual Result<ManifestAnswer> manifest(const RequestContext& ctx, std::string_view repository,
                                          std::string_view reference, std::string_view local) = 0;

  // A blob a covered repository lacks: nullptr once the registry has it (its store held the
  // bytes: now linked), else its bytes as they arrive from the upstream, stored as they pass,
  // one fetch however many ask at once; `size` is set to its length. Blocks.
  virtual Result<std::shared_ptr<http::BodySource>> blob(const RequestContext& ctx,
                                                         std::string_view repository,
                                                         const Digest& digest, uint64_t& size) = 0;
};

}  // namespace berth::registry
