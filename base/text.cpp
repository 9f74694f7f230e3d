#include "base/text.hpp"

#include <fmt/core.h>

#include <cstdint>
#include <cstring>

#include "base/json.hpp"

namespace safehold::base {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

bool is_bidi_control(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
         cp == 0x200F || cp == 0x061C;
}

// The entity for one of the markup-significant characters, or empty.
std::string_view entity(char32_t cp, bool apostrophe) {
  switch (cp) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return "&quot;";
    case '\'':
      return apostrophe ? "&#39;" : "";
    default:
      return "";
  }
}

std::string xml_escape(std::string_view in) {
  const std::string s = printable(std::string(in));
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    std::string_view e = entity(static_cast<unsigned char>(c), false);
    if (e.empty())
      out += c;
    else
      out += e;
  }
  return out;
}

void append_html_code_point(std::string& out, std::string_view bytes, char32_t cp) {
  if (std::string_view e = entity(cp, true); !e.empty()) {
    out += e;
  } else if (cp == '\n' || cp == '\t') {
    out += static_cast<char>(cp);
  } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
    out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp));
  } else if (is_bidi_control(cp)) {
    out += fmt::format("\\u{{{:04x}}}", static_cast<unsigned>(cp));
  } else {
    out.append(bytes);
  }
}

// Calls f(bytes, code point) for each valid sequence of s and appends U+FFFD to out for each
// byte that is not part of one.
template <class F>
void each_code_point(std::string_view s, std::string& out, F f) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t n = decode_utf8(s, i, cp);
    if (!n) {
      out += kReplacement;
      ++i;
      continue;
    }
    f(s.substr(i, n), cp);
    i += n;
  }
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  each_code_point(
      s, out, [&](std::string_view bytes, char32_t cp) { append_html_code_point(out, bytes, cp); });
  return out;
}

bool formula_lead(char c) {
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

}  // namespace

size_t decode_utf8(std::string_view s, size_t i, char32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (!n || i + n > s.size()) return 0;
  cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool strict_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    // ASCII runs eight bytes at a time.
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    char32_t cp = 0;
    size_t n = decode_utf8(s, i, cp);
    if (!n) return false;
    i += n;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
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

std::string valid_utf8(std::string_view s) {
  if (strict_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  each_code_point(s, out, [&](std::string_view bytes, char32_t) { out.append(bytes); });
  return out;
}

std::string markup_escape(std::string_view s, Markup m) {
  return m == Markup::xml ? xml_escape(s) : html_escape(s);
}

void append_csv_cell(std::string& out, std::string_view s, Formulas f) {
  std::string fixed;
  if (!strict_utf8(s)) {
    fixed = valid_utf8(s);
    s = fixed;
  }
  const bool neutralise = f == Formulas::neutralise && !s.empty() && formula_lead(s[0]);
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    if (neutralise) out += '\'';
    out.append(s);
    return;
  }
  out += '"';
  if (neutralise) out += '\'';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::string csv_cell(std::string_view s, Formulas f) {
  std::string out;
  append_csv_cell(out, s, f);
  return out;
}

}  // namespace safehold::base
