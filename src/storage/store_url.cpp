#include "storage/store_url.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>

namespace berth::storage {
namespace {

Error bad(std::string_view text, std::string_view why) {
  return explainedError(ApiCode::Unsupported,
                        "storage URL \"" + std::string(text) + "\": " + std::string(why));
}

// The URL's path without its leading '/' and one trailing '/': "//a" keeps its empty segment
// so that the prefix check refuses it.
std::string trimSlashes(std::string_view s) {
  if (s.starts_with('/')) s.remove_prefix(1);
  if (s.ends_with('/')) s.remove_suffix(1);
  return std::string(s);
}

// S3 bucket names: 3-63 of lowercase letters, digits, '.', '-', starting and ending with a
// letter or digit.
bool validBucket(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '-'; });
}

// Azure containers: 3-63 of lowercase letters, digits and single '-', starting with a letter
// or digit; accounts: 3-24 lowercase letters and digits.
bool validContainer(std::string_view name) {
  if (!validBucket(name) || name.find('.') != name.npos || name.find("--") != name.npos) {
    return false;
  }
  return name.back() != '-';
}

bool validAccount(std::string_view name) {
  return name.size() >= 3 && name.size() <= 24 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

// Key prefixes become object names: no empty, '.' or '..' segments, printable ASCII only.
bool validPrefix(std::string_view prefix) {
  if (prefix.empty()) return true;
  if (prefix.size() > 512) return false;
  size_t start = 0;
  while (start <= prefix.size()) {
    const size_t end = std::min(prefix.find('/', start), prefix.size());
    const auto segment = prefix.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' || c == '_' ||
           c == '.';
  });
}

Result<bool> flag(std::string_view text, std::string_view name, std::string_view value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return bad(text, std::string(name) + " must be true or false");
}

Result<std::string> endpointOf(std::string_view text, std::string_view value) {
  auto url = boost::urls::parse_absolute_uri(value);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty() ||
      url->has_query() || url->has_fragment() || url->has_userinfo()) {
    return bad(text, "endpoint must be an http:// or https:// URL without query or credentials");
  }
  // Host names, IPv4 or bracketed IPv6 addresses, a numeric port, a plain path: nothing that
  // would need escaping when the store URL is printed again.
  auto plain = [](std::string_view part, std::string_view extra) {
    return std::all_of(part.begin(), part.end(), [&](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
             extra.find(c) != std::string_view::npos;
    });
  };
  const auto host = url->encoded_host();
  const bool ipv6 = host.starts_with('[') && host.ends_with(']') && plain(host, "[]:");
  if ((!ipv6 && !plain(host, "")) || !plain(url->port(), "") ||
      (url->has_port() && url->port().empty()) || !plain(url->encoded_path(), "/_~")) {
    return bad(text,
               "endpoint must be scheme://host[:port][/path] of letters, digits, '.' and '-'");
  }
  std::string out(url->buffer());
  while (out.ends_with('/')) out.pop_back();
  return out;
}

}  // namespace

std::string StoreUrl::str() const {
  if (kind == Kind::File) return "file://" + path.string();
  std::string out = kind == Kind::S3 ? "s3://" + bucket : "azblob://" + account + "/" + bucket;
  if (!prefix.empty()) out += "/" + prefix;
  out += "?endpoint=" + endpoint;
  if (kind == Kind::S3) {
    out += "&region=" + region + "&path_style=" + (pathStyle ? "true" : "false");
  }
  if (redirect) out += "&redirect=true";
  return out;
}

StoreUrl StoreUrl::child(std::string_view name) const {
  StoreUrl out = *this;
  if (kind == Kind::File) {
    out.path = path / std::string(name);
  } else {
    out.prefix = prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
  }
  return out;
}

bool overlaps(const StoreUrl& a, const StoreUrl& b) {
  if (a.kind != b.kind) return false;
  auto within = [](const auto& x, const auto& y) {
    auto xi = x.begin(), yi = y.begin();
    for (; xi != x.end() && yi != y.end(); ++xi, ++yi) {
      if (*xi != *yi) return false;
    }
    return true;
  };
  if (a.kind == StoreUrl::Kind::File) {
    return within(a.path.lexically_normal(), b.path.lexically_normal());
  }
  if (a.endpoint != b.endpoint || a.account != b.account || a.bucket != b.bucket) return false;
  return within(std::filesystem::path(a.prefix), std::filesystem::path(b.prefix));
}

Result<StoreUrl> parseStoreUrl(std::string_view text) {
  StoreUrl out;
  if (text.empty()) return bad(text, "empty");
  if (text.starts_with('/')) {  // a plain absolute path
    out.path = std::filesystem::path(std::string(text)).lexically_normal();
    return out;
  }
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url) return bad(text, "not a URL (file://PATH, s3://BUCKET or azblob://ACCOUNT/CONTAINER)");
  const std::string scheme(url->scheme());
  if (url->has_userinfo()) {
    return bad(text,
               "credentials do not belong in the URL: use the environment or the "
               "configuration");
  }
  if (url->has_fragment()) return bad(text, "a fragment (#...) means nothing here");
  const std::string host(url->host());
  const std::string path = url->path();

  if (scheme == "file") {
    if (!host.empty() && host != "localhost") return bad(text, "file:// URLs name a local path");
    if (url->has_query()) return bad(text, "file:// URLs take no parameters");
    if (path.empty() || path.front() != '/') return bad(text, "file:// needs an absolute path");
    out.path = std::filesystem::path(path).lexically_normal();
    return out;
  }
  if (scheme == "s3") {
    out.kind = StoreUrl::Kind::S3;
    out.bucket = host;
    if (!validBucket(out.bucket)) {
      return bad(text, "\"" + out.bucket + "\" is not an S3 bucket name (3-63 of a-z 0-9 . -)");
    }
    out.prefix = trimSlashes(path);
    out.endpoint = "https://s3.amazonaws.com";
  } else if (scheme == "azblob") {
    out.kind = StoreUrl::Kind::Azure;
    out.account = host;
    if (!validAccount(out.account)) {
      return bad(text, "\"" + out.account + "\" is not a storage account name (3-24 of a-z 0-9)");
    }
    const std::string rest = trimSlashes(path);
    const auto slash = rest.find('/');
    out.bucket = rest.substr(0, slash);
    out.prefix = slash == rest.npos ? "" : rest.substr(slash + 1);
    if (!validContainer(out.bucket)) {
      return bad(text, "\"" + out.bucket + "\" is not a container name (3-63 of a-z 0-9 -)");
    }
    out.endpoint = "https://" + out.account + ".blob.core.windows.net";
  } else {
    return bad(text, "unknown scheme \"" + scheme + "\" (file, s3 or azblob)");
  }
  if (!validPrefix(out.prefix)) {
    return bad(text, "the prefix must be segments of letters, digits, '-', '_' and '.'");
  }
  bool regionGiven = false;
  for (auto param : url->params()) {
    const std::string name(param.key), value(param.value);
    if (name == "endpoint") {
      auto endpoint = endpointOf(text, value);
      if (!endpoint) return endpoint.takeError();
      out.endpoint = *endpoint;
    } else if (name == "redirect") {
      auto on = flag(text, name, value);
      if (!on) return on.takeError();
      out.redirect = *on;
    } else if (name == "region" && out.kind == StoreUrl::Kind::S3) {
      if (value.empty() || value.size() > 64 ||
          !std::all_of(value.begin(), value.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
          })) {
        return bad(text, "region must be letters, digits and '-'");
      }
      out.region = value;
      regionGiven = true;
    } else if (name == "path_style" && out.kind == StoreUrl::Kind::S3) {
      auto on = flag(text, name, value);
      if (!on) return on.takeError();
      out.pathStyle = *on;
    } else {
      return bad(text, "unknown parameter \"" + name + "\"");
    }
  }
  if (out.kind == StoreUrl::Kind::S3 && regionGiven && out.endpoint == "https://s3.amazonaws.com" &&
      out.region != "us-east-1") {
    out.endpoint = "https://s3." + out.region + ".amazonaws.com";
  }
  return out;
}

}  // namespace berth::storage
