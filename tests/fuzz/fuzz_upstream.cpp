// What other registries send and what users name them with (src/upstream): any bytes as a
// WWW-Authenticate header, as an image reference, as a cache rule's source and target, and as
// a replication's target.
// Nothing may crash; what is accepted must hold together.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/reference.hpp"
#include "upstream/cache_rules.hpp"
#include "upstream/challenge.hpp"
#include "upstream/client.hpp"
#include "upstream/replicator.hpp"

using namespace berth;
using namespace berth::upstream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  for (const auto& c : parseChallenges(text)) {
    if (c.scheme.empty() || c.params.size() > 32) std::abort();
  }
  if (auto preferred = preferredChallenge(text)) {
    if (preferred->scheme != "bearer" && preferred->scheme != "basic") std::abort();
    if (preferred->scheme == "bearer" && preferred->param("realm").empty()) std::abort();
  }

  if (auto ref = parseImageRef(text)) {
    // What is accepted is a valid name with a tag or a digest, and reads the same again.
    if (!isValidRepositoryName(ref->repository) || ref->host.empty()) std::abort();
    if (ref->tag.empty() && ref->digest.empty()) std::abort();
    if (!ref->tag.empty() && !isValidTag(ref->tag)) std::abort();
    auto again = parseImageRef(ref->str());
    if (!again || again->str() != ref->str()) std::abort();
  }

  // The first line as a rule's source, the rest as its target.
  const auto newline = text.find('\n');
  const auto source = text.substr(0, newline);
  const auto target =
      newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  if (checkCacheRule(source, target)) {
    const std::vector<meta::CacheRule> rules{
        {1, "r", std::string(source), std::string(target), "", 0, 0}};
    const std::string pulled = target.ends_with("/*")
                                   ? std::string(target.substr(0, target.size() - 1)) + "x"
                                   : std::string(target);
    auto matched = matchCacheRule(rules, pulled);
    if (!matched || !isValidRepositoryName(matched->repository)) std::abort();
  }

  if (auto t = parseReplicationTarget(text)) {
    // A host, a prefix that is a repository name or none, and the same target read again.
    if (t->host.empty() || (!t->prefix.empty() && !isValidRepositoryName(t->prefix))) std::abort();
    if (!isValidRepositoryName(t->repository("team/app"))) std::abort();
    auto again = parseReplicationTarget(t->url());
    if (!again || again->url() != t->url()) std::abort();
  }
  return 0;
}
