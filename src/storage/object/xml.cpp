#include "storage/object/xml.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <functional>

namespace berth::storage::object {
namespace {

std::string_view nameOf(const xmlNode* node) {
  return node->name ? std::string_view(reinterpret_cast<const char*>(node->name))
                    : std::string_view();
}

std::string textOf(const xmlNode* node) {
  xmlChar* content = xmlNodeGetContent(node);
  std::string out = content ? reinterpret_cast<const char*>(content) : "";
  xmlFree(content);
  return out;
}

bool isLeaf(const xmlNode* node) {
  for (const xmlNode* c = node->children; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return false;
  }
  return true;
}

// Visits elements depth first until `visit` returns false.
bool walk(const xmlNode* node, const std::function<bool(const xmlNode*)>& visit) {
  for (const xmlNode* n = node; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (!visit(n)) return false;
    if (!walk(n->children, visit)) return false;
  }
  return true;
}

}  // namespace

struct XmlDoc::Impl {
  xmlDocPtr doc = nullptr;
  ~Impl() {
    if (doc) xmlFreeDoc(doc);
  }
};

XmlDoc::XmlDoc(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
XmlDoc::~XmlDoc() = default;
XmlDoc::XmlDoc(XmlDoc&&) noexcept = default;
XmlDoc& XmlDoc::operator=(XmlDoc&&) noexcept = default;

std::optional<XmlDoc> XmlDoc::parse(std::string_view text) {
  if (text.empty() || text.size() > (64u << 20)) return std::nullopt;
  auto impl = std::make_unique<Impl>();
  impl->doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), nullptr, nullptr,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!impl->doc || !xmlDocGetRootElement(impl->doc)) return std::nullopt;
  return XmlDoc(std::move(impl));
}

std::string XmlDoc::rootName() const {
  return std::string(nameOf(xmlDocGetRootElement(impl_->doc)));
}

std::optional<std::string> XmlDoc::find(std::string_view name) const {
  std::optional<std::string> found;
  walk(xmlDocGetRootElement(impl_->doc), [&](const xmlNode* n) {
    if (nameOf(n) != name) return true;
    found = textOf(n);
    return false;
  });
  return found;
}

std::vector<std::map<std::string, std::string>> XmlDoc::each(std::string_view name) const {
  std::vector<std::map<std::string, std::string>> out;
  walk(xmlDocGetRootElement(impl_->doc), [&](const xmlNode* n) {
    if (nameOf(n) != name) return true;
    auto& fields = out.emplace_back();
    walk(n->children, [&](const xmlNode* c) {
      if (isLeaf(c)) fields.emplace(std::string(nameOf(c)), textOf(c));
      return true;
    });
    return true;
  });
  return out;
}

std::string xmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace berth::storage::object
