// Minimal JSON reader/writer helpers for the berth API tests.
// Deliberately tiny: enough to inspect registry responses (error bodies,
// tag lists, catalog, referrers indexes) without an external dependency.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth_test::json {

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Value() = default;

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::Null; }
  bool isBool() const { return type_ == Type::Bool; }
  bool isNumber() const { return type_ == Type::Number; }
  bool isString() const { return type_ == Type::String; }
  bool isArray() const { return type_ == Type::Array; }
  bool isObject() const { return type_ == Type::Object; }

  bool asBool() const { return bool_; }
  double asNumber() const { return number_; }
  // Raw text of the number as it appeared in the document.
  const std::string& numberText() const { return str_; }
  const std::string& asString() const { return str_; }
  const std::vector<Value>& asArray() const { return array_; }
  const std::vector<std::pair<std::string, Value>>& asObject() const { return object_; }

  // Object member lookup (first match); nullptr when absent or not an object.
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Convenience: string member or std::nullopt.
  std::optional<std::string> getString(std::string_view key) const;
  // Convenience: array of strings member (nullopt if absent / wrong type).
  std::optional<std::vector<std::string>> getStringArray(std::string_view key) const;

  static Value makeNull() { return Value(); }
  static Value makeBool(bool b);
  static Value makeNumber(double d, std::string text);
  static Value makeString(std::string s);
  static Value makeArray(std::vector<Value> a);
  static Value makeObject(std::vector<std::pair<std::string, Value>> o);

 private:
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string str_;
  std::vector<Value> array_;
  std::vector<std::pair<std::string, Value>> object_;
};

// Parses a complete JSON document. Returns nullopt on any syntax error or
// trailing garbage; `error` (if given) receives a short description.
std::optional<Value> parse(std::string_view text, std::string* error = nullptr);

// Escapes a string for inclusion in a JSON document, including the quotes.
std::string quote(std::string_view s);

}  // namespace berth_test::json
