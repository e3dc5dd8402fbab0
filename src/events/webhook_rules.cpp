#include "events/webhook_rules.hpp"

#include <netinet/in.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <random>

#include "auth/scope.hpp"
#include "core/reference.hpp"
#include "storage/object/signing.hpp"

namespace berth::events {
namespace {

std::string timestampOf(int64_t timeMs) {
  const auto seconds = timeMs / 1000;
  const auto millis = timeMs % 1000;
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis));
  return storage::signing::utcTime(static_cast<std::time_t>(seconds), "%Y-%m-%dT%H:%M:%S") +
         fraction;
}

void putIf(boost::json::object& o, std::string_view key, std::string_view value) {
  if (!value.empty()) o[key] = value;
}

bool tagPatternMatches(std::string_view pattern, std::string_view tag) {
  if (pattern == "*") return true;
  if (tag.empty()) return false;
  if (pattern.ends_with('*')) return tag.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == tag;
}

std::pair<std::string_view, std::string_view> splitScope(std::string_view scope) {
  const auto colon = scope.rfind(':');
  if (colon == std::string_view::npos) return {scope, "latest"};
  return {scope.substr(0, colon), scope.substr(colon + 1)};
}

}  // namespace

std::string payloadOf(const meta::OutboxEvent& e) {
  boost::json::object target;
  putIf(target, "mediaType", e.mediaType);
  if (!e.mediaType.empty()) {
    target["size"] = e.size;
    target["length"] = e.size;
  }
  putIf(target, "digest", e.digest);
  target["repository"] = e.repository;
  putIf(target, "tag", e.tag);
  boost::json::object body{{"id", e.uid},
                           {"timestamp", timestampOf(e.timeMs)},
                           {"action", e.action},
                           {"target", std::move(target)}};
  if (!e.requestId.empty() || !e.host.empty()) {
    boost::json::object request;
    putIf(request, "id", e.requestId);
    putIf(request, "host", e.host);
    putIf(request, "method", e.method);
    putIf(request, "useragent", e.userAgent);
    body["request"] = std::move(request);
  }
  return boost::json::serialize(body);
}

std::string pingPayload(std::string_view id, int64_t timeMs) {
  return boost::json::serialize(
      boost::json::object{{"id", id}, {"timestamp", timestampOf(timeMs)}, {"action", "ping"}});
}

bool isValidScope(std::string_view scope) {
  if (scope.empty() || scope.size() > 512) return false;
  const auto [repository, tag] = splitScope(scope);
  if (!auth::isValidPattern(repository)) return false;
  if (tag == "*") return true;
  const auto stem = tag.ends_with('*') ? tag.substr(0, tag.size() - 1) : tag;
  return !stem.empty() && isValidTag(stem);
}

bool scopeMatches(const std::vector<std::string>& scopes, std::string_view repository,
                  std::string_view tag) {
  if (scopes.empty()) return true;
  for (const auto& scope : scopes) {
    const auto [repoPattern, tagPattern] = splitScope(scope);
    if (auth::patternMatches(repoPattern, repository) && tagPatternMatches(tagPattern, tag)) {
      return true;
    }
  }
  return false;
}

std::string signatureOf(std::string_view secret, std::string_view body) {
  return "sha256=" + storage::signing::hex(storage::signing::hmacSha256(secret, body));
}

int64_t backoffMs(uint32_t attempts, int64_t capMs) {
  int64_t wait = 1000;
  for (uint32_t i = 1; i < attempts && wait < capMs; ++i) wait *= 2;
  wait = std::min(wait, capMs);
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.5, 1.5);
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(wait) * factor(random)));
}

bool retryable(int status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

bool refusedAddress(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    const uint32_t ip = ntohl(in->sin_addr.s_addr);
    return (ip >> 24) == 127 || (ip >> 16) == 0xa9fe || ip == 0;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    const auto& a = in6->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LINKLOCAL(&a)) {
      return true;
    }
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      sockaddr_in mapped{};
      mapped.sin_family = AF_INET;
      std::memcpy(&mapped.sin_addr, a.s6_addr + 12, 4);
      return refusedAddress(reinterpret_cast<const sockaddr*>(&mapped));
    }
    return false;
  }
  return true;  // not an internet address at all
}

Result<void> checkUri(std::string_view uri, bool allowLoopback) {
  auto invalid = [&](std::string why) {
    return makeError(ApiCode::Unsupported, "invalid webhook uri: " + why, 400);
  };
  if (uri.size() > 2048) return invalid("longer than 2048 bytes");
  auto parsed = boost::urls::parse_absolute_uri(uri);
  if (!parsed) return invalid("not an absolute URI");
  const auto scheme = parsed->scheme();
  if (scheme != "http" && scheme != "https") return invalid("the scheme must be http or https");
  if (parsed->encoded_host().empty()) return invalid("no host");
  if (parsed->has_userinfo()) return invalid("credentials belong in --headers, not the URI");
  if (allowLoopback) return {};
  const std::string host = parsed->host();
  auto refusedHost = [&] {
    return makeError(ApiCode::Unsupported,
                     "webhook uri " + std::string(uri) +
                         " points at a loopback or link-local address; set "
                         "webhook_allow_loopback to allow it",
                     400);
  };
  if (host == "localhost" || host.ends_with(".localhost")) return refusedHost();
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  if (parsed->host_type() == boost::urls::host_type::ipv4) {
    const auto bytes = parsed->host_ipv4_address().to_bytes();
    std::memcpy(&v4.sin_addr, bytes.data(), 4);
    if (refusedAddress(reinterpret_cast<const sockaddr*>(&v4))) return refusedHost();
  }
  if (parsed->host_type() == boost::urls::host_type::ipv6) {
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    const auto bytes = parsed->host_ipv6_address().to_bytes();
    std::memcpy(&v6.sin6_addr, bytes.data(), 16);
    if (refusedAddress(reinterpret_cast<const sockaddr*>(&v6))) return refusedHost();
  }
  return {};
}

}  // namespace berth::events
