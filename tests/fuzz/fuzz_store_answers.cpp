// What an object store answers, and the store URLs an operator gives: the XML view must take
// any bytes (no crash, no entity fetched), and a store URL that parses must print as a URL
// that parses to the same store, with no credentials, no empty or dot prefix segment.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "storage/object/xml.hpp"
#include "storage/store_url.hpp"

using namespace berth::storage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto doc = object::XmlDoc::parse(text)) {
    (void)doc->rootName();
    (void)doc->find("Code");
    for (const auto& entry : doc->each("Contents")) (void)entry.size();
    for (const auto& entry : doc->each("Blob")) (void)entry.size();
  }
  (void)object::xmlEscape(text);

  auto url = parseStoreUrl(text);
  if (!url) return 0;
  if (url->kind == StoreUrl::Kind::File) return 0;
  const auto printed = url->str();
  auto again = parseStoreUrl(printed);
  if (!again || again->str() != printed || again->bucket != url->bucket ||
      again->prefix != url->prefix || again->endpoint != url->endpoint) {
    std::abort();
  }
  if (url->prefix.find("//") != std::string::npos || url->prefix.starts_with('/') ||
      url->prefix.ends_with('/') || url->prefix == "." || url->prefix == "..") {
    std::abort();
  }
  if (printed.find('@') != std::string::npos && url->endpoint.find('@') == std::string::npos) {
    std::abort();
  }
  return 0;
}
