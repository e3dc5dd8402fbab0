#include "http/framing.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <string_view>
#include <vector>

#include "http/framing_rules.hpp"

namespace berth::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Trims optional whitespace around a list element of a header field.
std::string_view trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

// RFC 9112's rules for where a request's body ends and whom it is for, which a proxy in front
// of berth may read differently when they are broken (request smuggling): exactly one Host in
// HTTP/1.1; a Transfer-Encoding whose final coding is chunked, and no coding berth does not
// implement. A refusal closes the connection, since the rest of the stream cannot be framed.
std::optional<Error> framingError(const RequestParser& parser) {
  const auto& head = parser.get();
  const auto hosts = std::distance(head.equal_range(bhttp::field::host).first,
                                   head.equal_range(bhttp::field::host).second);
  if (hosts > 1 || (hosts == 0 && head.version() >= 11)) {
    return makeError(ApiCode::Unsupported,
                     hosts == 0 ? "an HTTP/1.1 request needs a Host header"
                                : "a request may carry only one Host header",
                     400);
  }
  std::vector<std::string_view> codings;
  for (auto [it, end] = head.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
    std::string_view list(it->value().data(), it->value().size());
    for (;;) {
      const auto comma = list.find(',');
      if (auto coding = trimmed(list.substr(0, comma)); !coding.empty()) {
        codings.push_back(coding);
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (codings.empty()) {
    if (head.count(bhttp::field::transfer_encoding) > 0) {
      return makeError(ApiCode::Unsupported, "empty Transfer-Encoding", 400);
    }
    return std::nullopt;
  }
  if (!beast::iequals(codings.back(), "chunked")) {
    return makeError(ApiCode::Unsupported, "chunked must be the final transfer coding", 400);
  }
  if (codings.size() > 1) {
    if (beast::iequals(codings.front(), "chunked")) {
      return makeError(ApiCode::Unsupported, "chunked may be applied only once", 400);
    }
    return makeError(ApiCode::Unsupported,
                     "transfer coding \"" + std::string(codings.front()) + "\" is not supported",
                     501);
  }
  if (head.count(bhttp::field::content_length) > 0) {
    return makeError(ApiCode::Unsupported, "Content-Length and Transfer-Encoding together", 400);
  }
  return std::nullopt;
}

FramedRequest frameRequest(std::string_view bytes, uint32_t headerLimit) {
  FramedRequest out;
  RequestParser parser;
  prepareParser(parser, headerLimit);
  beast::error_code ec;
  while (!parser.is_header_done()) {
    const size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(used);
    if (ec == bhttp::error::need_more) return out;  // the head is not all there
    if (ec) {
      out.outcome = FramedRequest::Outcome::Refused;
      out.status = ec == bhttp::error::header_limit ? 431 : 400;
      return out;
    }
  }
  if (auto refused = framingError(parser)) {
    out.outcome = FramedRequest::Outcome::Refused;
    out.status = refused->httpStatus();
    return out;
  }
  out.method = std::string(parser.get().method_string());
  out.target = std::string(parser.get().target());
  // The body as the server streams it into a sink: into a fixed buffer, piece by piece.
  char chunk[4096];
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk;
    body.size = sizeof chunk;
    const size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(used);
    out.bodyBytes += sizeof chunk - body.size;
    if (ec == bhttp::error::need_buffer) continue;  // the piece is full: handed on
    if (ec == bhttp::error::need_more) return out;  // the rest has not arrived
    if (ec) {
      out.outcome = FramedRequest::Outcome::Refused;
      out.status = 400;
      return out;
    }
    if (used == 0 && !parser.is_done()) return out;
  }
  out.outcome = FramedRequest::Outcome::Complete;
  out.rest = bytes.size();
  return out;
}

}  // namespace berth::http
