#pragma once
// What a webhook sends and to whom, as pure functions: ACR's payload, scope patterns, the
// signature, the retry schedule, and which addresses a webhook may not reach.
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "meta/event_store.hpp"

namespace berth::events {

// ACR's webhook body: {id, timestamp, action, target{mediaType, size, digest, length,
// repository, tag}, request{id, host, method, useragent}}; fields without a value are left
// out, as ACR does (a delete has no tag; a job has no request).
std::string payloadOf(const meta::OutboxEvent& event);
// ACR's ping: {id, timestamp, action: "ping"}.
std::string pingPayload(std::string_view id, int64_t timeMs);

// "repo:tag", "repo:*" (every tag), "repo" (= "repo:latest", as ACR), where repo is a
// repository name, "team/*" or "*", and tag a tag, "*" or a prefix ending in "*". An event
// without a tag (a manifest deleted by digest) matches patterns whose tag is "*".
bool isValidScope(std::string_view scope);
// No scopes: every event.
bool scopeMatches(const std::vector<std::string>& scopes, std::string_view repository,
                  std::string_view tag);

inline constexpr std::string_view kSignatureHeader = "X-Berth-Signature-256";
// "sha256=" + hex HMAC-SHA256 of the body under the webhook's secret.
std::string signatureOf(std::string_view secret, std::string_view body);

// Milliseconds to wait after failed attempt number `attempts` (1, 2, ...): 1 s doubled per
// attempt up to `capMs`, times a random factor in [0.5, 1.5) so that receivers coming back
// are not hit by every sender at once.
int64_t backoffMs(uint32_t attempts, int64_t capMs);

// Whether an answer means "try again later": none at all, 408, 429 or 5xx. Other 4xx and 3xx
// are final failures (a redirect is not followed).
bool retryable(int status);

// Loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10, where cloud metadata
// services listen), unspecified (0.0.0.0, ::) and those as IPv4-mapped IPv6.
bool refusedAddress(const sockaddr* address);

// An http(s) URI with a host, no credentials, at most 2048 bytes; with `allowLoopback` false,
// a host that is a refused address literal or "localhost" is refused here already.
Result<void> checkUri(std::string_view uri, bool allowLoopback);

}  // namespace berth::events
