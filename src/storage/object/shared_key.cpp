#include "storage/object/shared_key.hpp"

#include <openssl/evp.h>

#include <algorithm>

#include "storage/object/signing.hpp"
#include "storage/object/sigv4.hpp"

namespace berth::storage::sharedkey {
namespace {

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t size = static_cast<size_t>(n);
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;  // padding
  out.resize(size);
  return out;
}

std::optional<std::string> signWithKey(std::string_view keyBase64, std::string_view text) {
  const auto key = base64Decode(keyBase64);
  if (!key) return std::nullopt;
  return signing::base64(signing::hmacSha256(*key, text));
}

}  // namespace

std::string stringToSign(const Request& request, std::string_view account) {
  auto standard = [&](std::string_view name) -> std::string {
    for (const auto& [n, v] : request.headers) {
      if (signing::lowerAscii(n) == name) return v;
    }
    return "";
  };
  std::string length = standard("content-length");
  if (length == "0") length.clear();
  std::string out = std::string(request.method) + '\n';
  out += standard("content-encoding") + '\n';
  out += standard("content-language") + '\n';
  out += length + '\n';
  out += standard("content-md5") + '\n';
  out += standard("content-type") + '\n';
  out += standard("date") + '\n';
  out += standard("if-modified-since") + '\n';
  out += standard("if-match") + '\n';
  out += standard("if-none-match") + '\n';
  out += standard("if-unmodified-since") + '\n';
  out += standard("range") + '\n';

  Pairs msHeaders;
  for (const auto& [name, value] : request.headers) {
    auto n = signing::lowerAscii(name);
    if (n.starts_with("x-ms-")) msHeaders.emplace_back(std::move(n), signing::foldSpaces(value));
  }
  std::sort(msHeaders.begin(), msHeaders.end());
  for (const auto& [name, value] : msHeaders) out += name + ':' + value + '\n';

  out += '/' + std::string(account) + std::string(request.path);
  Pairs params;
  for (const auto& [name, value] : request.query)
    params.emplace_back(signing::lowerAscii(name), value);
  std::sort(params.begin(), params.end());
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0 && params[i].first == params[i - 1].first) {
      out += ',' + params[i].second;
      continue;
    }
    out += '\n' + params[i].first + ':' + params[i].second;
  }
  return out;
}

std::optional<std::string> authorization(const Request& request, std::string_view account,
                                         std::string_view key) {
  auto signature = signWithKey(key, stringToSign(request, account));
  if (!signature) return std::nullopt;
  return "SharedKey " + std::string(account) + ':' + *signature;
}

std::string httpDate(std::time_t when) {
  return signing::utcTime(when, "%a, %d %b %Y %H:%M:%S GMT");
}

std::string isoTime(std::time_t when) { return signing::utcTime(when, "%Y-%m-%dT%H:%M:%SZ"); }

std::optional<std::string> serviceSas(std::string_view account, std::string_view key,
                                      std::string_view container, std::string_view blob,
                                      std::string_view permissions, std::time_t start,
                                      std::time_t expiry) {
  const std::string st = isoTime(start), se = isoTime(expiry);
  const std::string resourceType = blob.empty() ? "c" : "b";
  std::string resource = "/blob/" + std::string(account) + '/' + std::string(container);
  if (!blob.empty()) resource += '/' + std::string(blob);
  // Permissions, start, expiry, resource, identifier, IP, protocol, version, resource type,
  // snapshot time, encryption scope, then the five response header overrides.
  const std::string text = std::string(permissions) + '\n' + st + '\n' + se + '\n' + resource +
                           "\n\n\n\n" + std::string(kVersion) + '\n' + resourceType +
                           "\n\n\n\n\n\n\n";
  const auto signature = signWithKey(key, text);
  if (!signature) return std::nullopt;
  auto enc = [](std::string_view v) { return sigv4::uriEncode(v, false); };
  return "sv=" + std::string(kVersion) + "&st=" + enc(st) + "&se=" + enc(se) +
         "&sr=" + resourceType + "&sp=" + std::string(permissions) + "&sig=" + enc(*signature);
}

}  // namespace berth::storage::sharedkey
