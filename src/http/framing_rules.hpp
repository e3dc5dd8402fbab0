#pragma once
// How berth's server frames a request: the parser's settings and the RFC 9112 rules it adds.
// Internal to src/http (it includes Beast): server.cpp reads sockets with it, framing.cpp
// frames bytes in memory with it for tests and fuzzing.
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <optional>

#include "core/errors.hpp"

namespace berth::http {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

// The limit on the head; bodies are bounded by the sink that takes them.
inline void prepareParser(RequestParser& parser, uint32_t headerLimit) {
  parser.header_limit(headerLimit);
  parser.body_limit(boost::none);
}

// A head the server must refuse before reading on (and close the connection after), or none.
std::optional<Error> framingError(const RequestParser& parser);

}  // namespace berth::http
