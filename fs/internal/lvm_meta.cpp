#include "fs/internal/lvm_meta.hpp"

#include <stdexcept>

namespace safehold::fs::lvm::meta {
namespace {

constexpr size_t kMaxText = 64u << 20;
constexpr int kMaxDepth = 16;
constexpr size_t kMaxValues = 1000000;

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  void parse_items(Section& s, int depth) {
    if (depth > kMaxDepth) fail("sections nested more than 16 deep");
    for (;;) {
      skip_space();
      if (at_end()) {
        if (depth > 0) fail("a section is not closed");
        return;
      }
      if (t_[i_] == '}') {
        if (depth == 0) fail("'}' closes no section");
        ++i_;
        return;
      }
      std::string key = identifier();
      skip_space();
      if (at_end()) fail("'" + key + "' is followed by nothing");
      if (t_[i_] == '{') {
        ++i_;
        auto sub = std::make_unique<Section>();
        sub->name = key;
        count();
        parse_items(*sub, depth + 1);
        s.sections.push_back(std::move(sub));
      } else if (t_[i_] == '=') {
        ++i_;
        s.values.emplace_back(std::move(key), value(false));
      } else {
        fail("'" + key + "' is followed by neither '=' nor '{'");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    size_t line = 1;
    for (size_t k = 0; k < i_ && k < t_.size(); ++k) line += t_[k] == '\n';
    throw std::runtime_error(why + " (line " + std::to_string(line) + ")");
  }
  bool at_end() const { return i_ >= t_.size(); }
  void count() {
    if (++values_ > kMaxValues) fail("more than 1,000,000 values");
  }
  void skip_space() {
    while (!at_end()) {
      const char c = t_[i_];
      if (c == '#') {
        while (!at_end() && t_[i_] != '\n') ++i_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i_;
      } else {
        return;
      }
    }
  }
  static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '+' || c == '-';
  }
  std::string identifier() {
    const size_t start = i_;
    while (!at_end() && name_char(t_[i_])) ++i_;
    if (i_ == start) fail("a name was expected");
    return std::string(t_.substr(start, i_ - start));
  }
  Value value(bool in_list) {
    skip_space();
    if (at_end()) fail("a value was expected");
    count();
    Value v;
    const char c = t_[i_];
    if (c == '"') {
      ++i_;
      std::string s;
      while (!at_end() && t_[i_] != '"') {
        if (t_[i_] == '\\' && i_ + 1 < t_.size()) ++i_;
        s += t_[i_++];
      }
      if (at_end()) fail("a string is not closed");
      ++i_;
      v.text = std::move(s);
    } else if (c == '[') {
      if (in_list) fail("a list inside a list");
      ++i_;
      v.is_list = true;
      skip_space();
      if (!at_end() && t_[i_] == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        v.list.push_back(value(true));
        skip_space();
        if (at_end()) fail("a list is not closed");
        if (t_[i_] == ']') {
          ++i_;
          return v;
        }
        if (t_[i_] != ',') fail("',' or ']' was expected in a list");
        ++i_;
      }
    } else if (c >= '0' && c <= '9') {
      uint64_t n = 0;
      while (!at_end() && t_[i_] >= '0' && t_[i_] <= '9') {
        const uint64_t d = static_cast<uint64_t>(t_[i_] - '0');
        if (n > (UINT64_MAX - d) / 10) fail("a number is too large");
        n = n * 10 + d;
        ++i_;
      }
      if (!at_end() && t_[i_] == '.') {  // a float (LVM writes none that matter here): skipped
        ++i_;
        while (!at_end() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
        return v;
      }
      v.number = n;
    } else if (c == '-') {  // a negative number: kept as neither
      ++i_;
      while (!at_end() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
    } else {
      fail("a value was expected");
    }
    return v;
  }

  std::string_view t_;
  size_t i_ = 0;
  size_t values_ = 0;
};

}  // namespace

const Value* Section::value(std::string_view key) const {
  for (const auto& [k, v] : values)
    if (k == key) return &v;
  return nullptr;
}

const Section* Section::section(std::string_view key) const {
  for (const auto& s : sections)
    if (s->name == key) return s.get();
  return nullptr;
}

std::optional<uint64_t> Section::number(std::string_view key) const {
  const Value* v = value(key);
  return v ? v->number : std::nullopt;
}

std::optional<std::string> Section::text(std::string_view key) const {
  const Value* v = value(key);
  return v ? v->text : std::nullopt;
}

Section parse(std::string_view text) {
  if (text.size() > kMaxText) throw std::runtime_error("the metadata text is over 64 MiB");
  Section root;
  Parser(text).parse_items(root, 0);
  return root;
}

}  // namespace safehold::fs::lvm::meta
