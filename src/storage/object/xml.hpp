#pragma once
// The object stores answer in XML: a small read-only view over libxml2 (no network, no DTDs,
// no entity expansion) for their flat documents, and escaping for the few bodies berth sends.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::storage::object {

class XmlDoc {
 public:
  static std::optional<XmlDoc> parse(std::string_view text);
  ~XmlDoc();
  XmlDoc(XmlDoc&&) noexcept;
  XmlDoc& operator=(XmlDoc&&) noexcept;

  std::string rootName() const;
  // The text of the first element named `name` (local name), depth first.
  std::optional<std::string> find(std::string_view name) const;
  // Every element named `name`, each as the texts of its leaf descendants by local name.
  std::vector<std::map<std::string, std::string>> each(std::string_view name) const;

 private:
  struct Impl;
  explicit XmlDoc(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Text for an XML element's content or attribute value.
std::string xmlEscape(std::string_view text);

}  // namespace berth::storage::object
