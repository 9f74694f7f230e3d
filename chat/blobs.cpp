// Lookup helpers and the decoders of message bodies stored as serialised objects.
#include <cstring>

#include "chat/reader.hpp"

namespace safehold::chat {

IdMap load_map(const Db& db, const std::string& sql, std::vector<std::string>& errors) {
  IdMap m;
  try {
    Stmt st = db.prepare(sql);
    while (st.step())
      if (auto id = st.int_at(0)) m.emplace(*id, st.text_at(1));
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  return m;
}

IdMultiMap load_multimap(const Db& db, const std::string& sql, std::vector<std::string>& errors) {
  IdMultiMap m;
  try {
    Stmt st = db.prepare(sql);
    while (st.step())
      if (auto id = st.int_at(0)) m[*id].push_back(st.text_at(1));
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  return m;
}

std::string lookup(const IdMap& m, std::optional<int64_t> id) {
  if (!id) return "";
  auto it = m.find(*id);
  return it == m.end() ? "" : it->second;
}

KeyMap load_key_map(const Db& db, const std::string& sql, std::vector<std::string>& errors) {
  KeyMap m;
  try {
    Stmt st = db.prepare(sql);
    while (st.step())
      if (!st.null_at(0)) m.emplace(st.text_at(0), st.text_at(1));
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  return m;
}

KeyMultiMap load_key_multimap(const Db& db, const std::string& sql,
                              std::vector<std::string>& errors) {
  KeyMultiMap m;
  try {
    Stmt st = db.prepare(sql);
    while (st.step())
      if (!st.null_at(0) && !st.null_at(1)) m[st.text_at(0)].push_back(st.text_at(1));
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  return m;
}

std::string lookup(const KeyMap& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}

std::string labelled(const std::string& id, const std::string& name) {
  if (name.empty() || name == id) return id;
  return id.empty() ? name : id + " (" + name + ")";
}

std::string coalesce_of(const Table* t, std::initializer_list<const char*> columns) {
  std::string out;
  for (auto c : columns)
    if (t && t->has(c)) out += (out.empty() ? "" : ", ") + quote_ident(c);
  return out.empty() ? "NULL" : "coalesce(" + out + ", NULL)";
}

const std::string& lookup_ref(const IdMap& m, std::optional<int64_t> id) {
  static const std::string empty;
  if (!id) return empty;
  auto it = m.find(*id);
  return it == m.end() ? empty : it->second;
}

bool plausible_text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
    if (!n || c == 0xC0 || c == 0xC1 || i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

std::optional<std::string> typedstream_text(std::string_view b) {
  // ... "NSString" <class info> '+' <length> <UTF-8 bytes>; the length is one byte, or 0x81 and
  // a little-endian u16, or 0x82 and a little-endian u32.
  size_t pos = b.find("NSString");
  if (pos == std::string_view::npos) return std::nullopt;
  size_t plus = b.find('+', pos + 8);
  if (plus == std::string_view::npos || plus > pos + 8 + 16) return std::nullopt;
  size_t p = plus + 1;
  if (p >= b.size()) return std::nullopt;
  auto u8 = [&](size_t k) { return static_cast<uint64_t>(static_cast<unsigned char>(b[k])); };
  uint64_t len = u8(p);
  ++p;
  if (len == 0x81) {
    if (p + 2 > b.size()) return std::nullopt;
    len = u8(p) | (u8(p + 1) << 8);
    p += 2;
  } else if (len == 0x82) {
    if (p + 4 > b.size()) return std::nullopt;
    len = u8(p) | (u8(p + 1) << 8) | (u8(p + 2) << 16) | (u8(p + 3) << 24);
    p += 4;
  }
  if (len > b.size() - p) return std::nullopt;
  return std::string(b.substr(p, len));
}

std::optional<std::string> telegram_tl_text(std::string_view b) {
  // TL strings sit at 4-byte aligned offsets: a length byte (< 254) or 254 and a 3-byte
  // little-endian length, the bytes, then padding to 4. The constructor and flags come first.
  auto u8 = [&](size_t k) { return static_cast<size_t>(static_cast<unsigned char>(b[k])); };
  for (size_t o = 8; o + 4 <= b.size(); o += 4) {
    size_t len = u8(o), start = o + 1;
    if (len == 254) {
      len = u8(o + 1) | (u8(o + 2) << 8) | (u8(o + 3) << 16);
      start = o + 4;
      if (len < 254) continue;
    } else if (len == 255 || len == 0) {
      continue;
    }
    if (start + len > b.size()) continue;
    // The padding after the string is zero.
    size_t end = start + len, padded = (end + 3) & ~size_t{3};
    bool zero_pad = padded <= b.size();
    for (size_t k = end; zero_pad && k < padded; ++k) zero_pad = b[k] == 0;
    if (!zero_pad) continue;
    std::string_view s = b.substr(start, len);
    if (plausible_text(s)) return std::string(s);
  }
  return std::nullopt;
}

}  // namespace safehold::chat
