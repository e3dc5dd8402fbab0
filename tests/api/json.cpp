#include "json.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace berth_test::json {

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& [k, v] : object_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<std::string> Value::getString(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || !v->isString()) return std::nullopt;
  return v->asString();
}

std::optional<std::vector<std::string>> Value::getStringArray(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || !v->isArray()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : v->asArray()) {
    if (!e.isString()) return std::nullopt;
    out.push_back(e.asString());
  }
  return out;
}

Value Value::makeBool(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}
Value Value::makeNumber(double d, std::string text) {
  Value v;
  v.type_ = Type::Number;
  v.number_ = d;
  v.str_ = std::move(text);
  return v;
}
Value Value::makeString(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.str_ = std::move(s);
  return v;
}
Value Value::makeArray(std::vector<Value> a) {
  Value v;
  v.type_ = Type::Array;
  v.array_ = std::move(a);
  return v;
}
Value Value::makeObject(std::vector<std::pair<std::string, Value>> o) {
  Value v;
  v.type_ = Type::Object;
  v.object_ = std::move(o);
  return v;
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  std::optional<Value> document(std::string* error) {
    auto v = value(0);
    if (v) {
      ws();
      if (p_ != t_.size()) {
        v.reset();
        err_ = "trailing characters";
      }
    }
    if (!v && error != nullptr) *error = err_ + " at offset " + std::to_string(p_);
    return v;
  }

 private:
  std::string_view t_;
  std::size_t p_ = 0;
  std::string err_;

  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r'))
      ++p_;
  }
  bool fail(const char* msg) {
    if (err_.empty()) err_ = msg;
    return false;
  }
  bool literal(std::string_view lit) {
    if (t_.substr(p_, lit.size()) != lit) return fail("bad literal");
    p_ += lit.size();
    return true;
  }

  std::optional<Value> value(int depth) {
    if (depth > 200) {
      fail("nesting too deep");
      return std::nullopt;
    }
    ws();
    if (p_ >= t_.size()) {
      fail("unexpected end");
      return std::nullopt;
    }
    char c = t_[p_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      std::string s;
      if (!string(s)) return std::nullopt;
      return Value::makeString(std::move(s));
    }
    if (c == 't')
      return literal("true") ? std::optional<Value>(Value::makeBool(true)) : std::nullopt;
    if (c == 'f')
      return literal("false") ? std::optional<Value>(Value::makeBool(false)) : std::nullopt;
    if (c == 'n') return literal("null") ? std::optional<Value>(Value::makeNull()) : std::nullopt;
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    fail("unexpected character");
    return std::nullopt;
  }

  std::optional<Value> number() {
    std::size_t start = p_;
    if (t_[p_] == '-') ++p_;
    auto digits = [&] {
      std::size_t s = p_;
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
      return p_ - s;
    };
    if (p_ < t_.size() && t_[p_] == '0') {
      ++p_;
    } else if (digits() == 0) {
      fail("bad number");
      return std::nullopt;
    }
    if (p_ < t_.size() && t_[p_] == '.') {
      ++p_;
      if (digits() == 0) {
        fail("bad fraction");
        return std::nullopt;
      }
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      ++p_;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (digits() == 0) {
        fail("bad exponent");
        return std::nullopt;
      }
    }
    std::string text(t_.substr(start, p_ - start));
    return Value::makeNumber(std::strtod(text.c_str(), nullptr), text);
  }

  static void appendUtf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(std::uint32_t& out) {
    if (p_ + 4 > t_.size()) return fail("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char h = t_[p_++];
      out <<= 4;
      if (h >= '0' && h <= '9')
        out |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        out |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        out |= static_cast<std::uint32_t>(h - 'A' + 10);
      else
        return fail("bad \\u escape");
    }
    return true;
  }

  bool string(std::string& out) {
    ++p_;  // opening quote
    while (true) {
      if (p_ >= t_.size()) return fail("unterminated string");
      char c = t_[p_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= t_.size()) return fail("unterminated escape");
      char e = t_[p_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && t_.substr(p_, 2) == "\\u") {
            p_ += 2;
            std::uint32_t lo = 0;
            if (!hex4(lo)) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          appendUtf8(out, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
  }

  std::optional<Value> array(int depth) {
    ++p_;
    std::vector<Value> items;
    ws();
    if (p_ < t_.size() && t_[p_] == ']') {
      ++p_;
      return Value::makeArray(std::move(items));
    }
    while (true) {
      auto v = value(depth + 1);
      if (!v) return std::nullopt;
      items.push_back(std::move(*v));
      ws();
      if (p_ >= t_.size()) {
        fail("unterminated array");
        return std::nullopt;
      }
      if (t_[p_] == ',') {
        ++p_;
        continue;
      }
      if (t_[p_] == ']') {
        ++p_;
        return Value::makeArray(std::move(items));
      }
      fail("expected , or ]");
      return std::nullopt;
    }
  }

  std::optional<Value> object(int depth) {
    ++p_;
    std::vector<std::pair<std::string, Value>> members;
    ws();
    if (p_ < t_.size() && t_[p_] == '}') {
      ++p_;
      return Value::makeObject(std::move(members));
    }
    while (true) {
      ws();
      if (p_ >= t_.size() || t_[p_] != '"') {
        fail("expected key");
        return std::nullopt;
      }
      std::string key;
      if (!string(key)) return std::nullopt;
      ws();
      if (p_ >= t_.size() || t_[p_] != ':') {
        fail("expected :");
        return std::nullopt;
      }
      ++p_;
      auto v = value(depth + 1);
      if (!v) return std::nullopt;
      members.emplace_back(std::move(key), std::move(*v));
      ws();
      if (p_ >= t_.size()) {
        fail("unterminated object");
        return std::nullopt;
      }
      if (t_[p_] == ',') {
        ++p_;
        continue;
      }
      if (t_[p_] == '}') {
        ++p_;
        return Value::makeObject(std::move(members));
      }
      fail("expected , or }");
      return std::nullopt;
    }
  }
};

}  // namespace

std::optional<Value> parse(std::string_view text, std::string* error) {
  return Parser(text).document(error);
}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace berth_test::json
