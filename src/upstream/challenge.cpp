#include "upstream/challenge.hpp"

#include <cctype>

namespace berth::upstream {
namespace {

constexpr size_t kMaxChallenges = 16;
constexpr size_t kMaxParams = 32;

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  void spaces() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool at(char c) {
    spaces();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool done() {
    spaces();
    return i_ >= s_.size();
  }
  void skip() { ++i_; }
  std::string_view token() {
    spaces();
    const size_t start = i_;
    while (i_ < s_.size() && isTokenChar(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }
  // A quoted string (with \-escapes) or a token; nullopt when neither.
  std::optional<std::string> value() {
    spaces();
    if (i_ < s_.size() && s_[i_] == '"') {
      std::string out;
      for (++i_; i_ < s_.size(); ++i_) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
          out += s_[++i_];
        } else if (s_[i_] == '"') {
          ++i_;
          return out;
        } else {
          out += s_[i_];
        }
      }
      return std::nullopt;  // unterminated
    }
    auto t = token();
    if (t.empty()) return std::nullopt;
    return std::string(t);
  }
  size_t position() const { return i_; }
  void rewind(size_t to) { i_ = to; }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::string Challenge::param(std::string_view name) const {
  auto it = params.find(std::string(name));
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> parseChallenges(std::string_view header) {
  std::vector<Challenge> out;
  Reader r(header);
  while (!r.done() && out.size() < kMaxChallenges) {
    while (r.at(',')) r.skip();
    if (r.done()) break;
    const auto scheme = r.token();
    if (scheme.empty()) break;
    Challenge c{lower(scheme), {}};
    // auth-params: name=value, separated by commas; a name not followed by '=' begins the
    // next challenge.
    for (;;) {
      const size_t mark = r.position();
      while (r.at(',')) r.skip();
      const auto name = r.token();
      if (name.empty() || !r.at('=')) {
        r.rewind(mark);
        break;
      }
      r.skip();
      auto value = r.value();
      if (!value) return out;  // malformed: keep what came before
      if (c.params.size() < kMaxParams) c.params.emplace(lower(name), std::move(*value));
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<Challenge> preferredChallenge(std::string_view header) {
  auto all = parseChallenges(header);
  for (auto& c : all) {
    if (c.scheme == "bearer" && !c.param("realm").empty()) return std::move(c);
  }
  for (auto& c : all) {
    if (c.scheme == "basic") return std::move(c);
  }
  return std::nullopt;
}

}  // namespace berth::upstream
