#include "http/message.hpp"

#include <strings.h>

#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

namespace berth::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string_view methodName(Method method) {
  switch (method) {
    case Method::Get:
      return "GET";
    case Method::Head:
      return "HEAD";
    case Method::Post:
      return "POST";
    case Method::Put:
      return "PUT";
    case Method::Patch:
      return "PATCH";
    case Method::Delete:
      return "DELETE";
    case Method::Options:
      return "OPTIONS";
    case Method::Other:
      break;
  }
  return "OTHER";
}

void Headers::set(std::string_view name, std::string value) {
  for (auto& [k, v] : fields_) {
    if (iequals(k, name)) {
      v = std::move(value);
      return;
    }
  }
  fields_.emplace_back(std::string(name), std::move(value));
}

void Headers::erase(std::string_view name) {
  std::erase_if(fields_, [&](const auto& field) { return iequals(field.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string Request::baseUrl() const {
  std::string out = secure ? "https://" : "http://";
  out += host();
  return out;
}

std::vector<std::pair<std::string, std::string>> parseForm(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  auto params = boost::urls::parse_query(body);
  if (!params) return out;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;  // a form encodes spaces as '+'
  for (auto p : *params) {
    std::string key = p.key.decode(opts);
    std::string value = p.has_value ? p.value.decode(opts) : std::string();
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Response Response::error(const Error& error) { return json(error.httpStatus(), errorBody(error)); }

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.add("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  return r;
}

std::string clientAddress(std::string_view remote) {
  const auto colon = remote.rfind(':');
  std::string_view address = colon == std::string_view::npos ? remote : remote.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  return std::string(address);
}

}  // namespace berth::http
