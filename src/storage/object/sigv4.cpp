#include "storage/object/sigv4.hpp"

#include <algorithm>
#include <cctype>

#include "storage/object/signing.hpp"

namespace berth::storage::sigv4 {
namespace {

using signing::foldSpaces;
using signing::hmacSha256;
using signing::lowerAscii;

std::string canonicalQuery(const Pairs& query) {
  Pairs encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uriEncode(name, false), uriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string dateOf(std::string_view amzDateTime) { return std::string(amzDateTime.substr(0, 8)); }

std::string scopeOf(std::string_view amzDateTime, const Scope& scope) {
  return dateOf(amzDateTime) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

}  // namespace

std::string uriEncode(std::string_view text, bool keepSlash) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keepSlash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      static constexpr char kUpperHex[] = "0123456789ABCDEF";
      out += kUpperHex[c >> 4];
      out += kUpperHex[c & 0xf];
    }
  }
  return out;
}

std::string amzDate(std::time_t when) { return signing::utcTime(when, "%Y%m%dT%H%M%SZ"); }

Signature sign(const Request& request, const Credentials& credentials, const Scope& scope,
               std::string_view amzDateTime) {
  Pairs headers;
  headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) {
    headers.emplace_back(lowerAscii(name), foldSpaces(value));
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonicalHeaders, signedHeaders;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonicalHeaders.pop_back();  // the same header twice: one line, values joined by ','
      canonicalHeaders += ',' + headers[i].second + '\n';
      continue;
    }
    if (!signedHeaders.empty()) signedHeaders += ';';
    signedHeaders += headers[i].first;
    canonicalHeaders += headers[i].first + ':' + headers[i].second + '\n';
  }

  Signature s;
  s.signedHeaders = signedHeaders;
  s.canonicalRequest = std::string(request.method) + '\n' +
                       (request.path.empty() ? std::string("/") : std::string(request.path)) +
                       '\n' + canonicalQuery(request.query) + '\n' + canonicalHeaders + '\n' +
                       signedHeaders + '\n' + std::string(request.payloadHash);
  const std::string credentialScope = scopeOf(amzDateTime, scope);
  s.stringToSign = "AWS4-HMAC-SHA256\n" + std::string(amzDateTime) + '\n' + credentialScope + '\n' +
                   signing::sha256Hex(s.canonicalRequest);
  std::string key = hmacSha256("AWS4" + credentials.secretKey, dateOf(amzDateTime));
  key = hmacSha256(key, scope.region);
  key = hmacSha256(key, scope.service);
  key = hmacSha256(key, "aws4_request");
  const std::string mac = hmacSha256(key, s.stringToSign);
  s.signature = signing::hex(mac);
  s.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.accessKey + '/' + credentialScope +
                    ",SignedHeaders=" + signedHeaders + ",Signature=" + s.signature;
  return s;
}

Pairs signS3Headers(std::string_view method, std::string_view host, std::string_view path,
                    const Pairs& query, Pairs headers, std::string_view payloadHash,
                    const Credentials& credentials, const Scope& scope, std::time_t when) {
  const std::string date = amzDate(when);
  Pairs added{{"x-amz-date", date}, {"x-amz-content-sha256", std::string(payloadHash)}};
  if (!credentials.sessionToken.empty()) {
    added.emplace_back("x-amz-security-token", credentials.sessionToken);
  }
  Pairs signedList = headers;
  signedList.emplace_back("host", std::string(host));
  signedList.insert(signedList.end(), added.begin(), added.end());
  const auto s = sign(Request{method, path, query, std::move(signedList), payloadHash}, credentials,
                      scope, date);
  added.emplace_back("Authorization", s.authorization);
  return added;
}

std::string presignQuery(std::string_view method, std::string_view host, std::string_view path,
                         const Pairs& query, const Credentials& credentials, const Scope& scope,
                         std::time_t when, int64_t expiresSeconds) {
  const std::string date = amzDate(when);
  Pairs params = query;
  params.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  params.emplace_back("X-Amz-Credential", credentials.accessKey + '/' + scopeOf(date, scope));
  params.emplace_back("X-Amz-Date", date);
  params.emplace_back("X-Amz-Expires",
                      std::to_string(std::clamp<int64_t>(expiresSeconds, 1, 7 * 24 * 3600)));
  if (!credentials.sessionToken.empty()) {
    params.emplace_back("X-Amz-Security-Token", credentials.sessionToken);
  }
  params.emplace_back("X-Amz-SignedHeaders", "host");
  const auto s =
      sign(Request{method, path, params, {{"host", std::string(host)}}, kUnsignedPayload},
           credentials, scope, date);
  params.emplace_back("X-Amz-Signature", s.signature);
  return canonicalQuery(params);
}

}  // namespace berth::storage::sigv4
