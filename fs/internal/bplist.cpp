#include "fs/internal/bplist.hpp"

#include <cstring>

namespace safehold::fs::bplist {

namespace {

constexpr int kMaxDepth = 32;

struct Parser {
  std::span<const uint8_t> b;
  unsigned offset_size = 0, ref_size = 0;
  uint64_t count = 0, table = 0;
  // Objects may be shared (a list is a graph): a budget of objects built stops a small list
  // from expanding without end.
  mutable uint64_t budget = 200000;

  std::optional<uint64_t> be(uint64_t at, unsigned n) const {
    if (n == 0 || n > 8 || at > b.size() || n > b.size() - at) return std::nullopt;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v = v << 8 | b[at + i];
    return v;
  }
  std::optional<uint64_t> object_offset(uint64_t ref) const {
    if (ref >= count) return std::nullopt;
    auto off = be(table + ref * offset_size, offset_size);
    if (!off || *off >= table) return std::nullopt;
    return off;
  }
  // The length that follows a marker with low nibble 0xF (an int object), and where data starts.
  bool length(uint64_t at, uint8_t low, uint64_t& len, uint64_t& data) const {
    if (low != 0xF) {
      len = low;
      data = at + 1;
      return true;
    }
    if (at + 1 >= b.size() || (b[at + 1] & 0xF0) != 0x10) return false;
    const unsigned n = 1u << (b[at + 1] & 0x0F);
    auto v = be(at + 2, n);
    if (!v) return false;
    len = *v;
    data = at + 2 + n;
    return true;
  }
  std::optional<Value> object(uint64_t ref, int depth) const {
    if (depth > kMaxDepth || budget == 0) return std::nullopt;
    --budget;
    auto at = object_offset(ref);
    if (!at) return std::nullopt;
    const uint8_t m = b[*at], hi = m >> 4, lo = m & 0x0F;
    Value v;
    switch (hi) {
      case 0x0:
        if (m == 0x08 || m == 0x09) {
          v.type = Value::Type::boolean;
          v.integer = m == 0x09;
        }
        return v;
      case 0x1: {
        auto x = be(*at + 1, 1u << lo);
        if (!x) return std::nullopt;
        v.type = Value::Type::integer;
        v.integer = static_cast<int64_t>(*x);  // 1-4 byte ints unsigned, 8-byte signed
        return v;
      }
      case 0x2:
      case 0x3: {
        if (hi == 0x3 && m != 0x33) return std::nullopt;
        const unsigned n = hi == 0x3 ? 8 : 1u << lo;
        auto x = be(*at + 1, n);
        if (!x || (n != 4 && n != 8)) return std::nullopt;
        v.type = hi == 0x3 ? Value::Type::date : Value::Type::real;
        if (n == 4) {
          float f;
          uint32_t u = static_cast<uint32_t>(*x);
          std::memcpy(&f, &u, 4);
          v.real = f;
        } else {
          std::memcpy(&v.real, &*x, 8);
        }
        return v;
      }
      case 0x4:
      case 0x5:
      case 0x6: {
        uint64_t len, data;
        if (!length(*at, lo, len, data)) return std::nullopt;
        const uint64_t bytes = hi == 0x6 ? len * 2 : len;
        if (len > b.size() || data > b.size() || bytes > b.size() - data) return std::nullopt;
        v.type = hi == 0x4 ? Value::Type::data : Value::Type::string;
        if (hi != 0x6) {
          v.bytes.assign(reinterpret_cast<const char*>(b.data() + data), bytes);
          return v;
        }
        for (uint64_t i = 0; i < len; ++i) {  // UTF-16BE (surrogates become U+FFFD)
          uint32_t c = uint32_t(b[data + 2 * i]) << 8 | b[data + 2 * i + 1];
          if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
          if (c < 0x80) {
            v.bytes += static_cast<char>(c);
          } else if (c < 0x800) {
            v.bytes += static_cast<char>(0xC0 | (c >> 6));
            v.bytes += static_cast<char>(0x80 | (c & 0x3F));
          } else {
            v.bytes += static_cast<char>(0xE0 | (c >> 12));
            v.bytes += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            v.bytes += static_cast<char>(0x80 | (c & 0x3F));
          }
        }
        return v;
      }
      case 0x8: {
        auto x = be(*at + 1, lo + 1u);
        if (!x) return std::nullopt;
        v.type = Value::Type::uid;
        v.integer = static_cast<int64_t>(*x);
        return v;
      }
      case 0xA:
      case 0xD: {
        uint64_t len, data;
        if (!length(*at, lo, len, data)) return std::nullopt;
        const uint64_t refs = hi == 0xD ? len * 2 : len;
        if (len > b.size() || data > b.size() || refs * ref_size > b.size() - data)
          return std::nullopt;
        v.type = hi == 0xA ? Value::Type::array : Value::Type::dict;
        for (uint64_t i = 0; i < len; ++i) {
          auto r = be(data + (hi == 0xD ? len + i : i) * ref_size, ref_size);
          if (!r) return std::nullopt;
          auto item = object(*r, depth + 1);
          if (!item) return std::nullopt;
          if (hi == 0xA) {
            v.items.push_back(std::move(*item));
            continue;
          }
          auto k = be(data + i * ref_size, ref_size);
          auto key = k ? object(*k, depth + 1) : std::nullopt;
          if (!key || key->type != Value::Type::string) return std::nullopt;
          v.dict[key->bytes] = std::move(*item);
        }
        return v;
      }
      default:
        return std::nullopt;
    }
  }
};

}  // namespace

std::optional<Value> parse(std::span<const uint8_t> b) {
  if (b.size() < 8 + 32 || std::memcmp(b.data(), "bplist00", 8) != 0) return std::nullopt;
  Parser p{b};
  const uint8_t* t = b.data() + b.size() - 32;
  p.offset_size = t[6];
  p.ref_size = t[7];
  auto count = p.be(b.size() - 24, 8), top = p.be(b.size() - 16, 8), table = p.be(b.size() - 8, 8);
  if (!count || !top || !table || p.offset_size == 0 || p.offset_size > 8 || p.ref_size == 0 ||
      p.ref_size > 8 || *table < 8 || *table > b.size() - 32 ||
      *count > (b.size() - 32 - *table) / p.offset_size)
    return std::nullopt;
  p.count = *count;
  p.table = *table;
  return p.object(*top, 0);
}

std::optional<Value> keyed_root(const Value& archive) {
  if (archive.type != Value::Type::dict) return std::nullopt;
  auto objs = archive.dict.find("$objects");
  auto top = archive.dict.find("$top");
  if (objs == archive.dict.end() || top == archive.dict.end() ||
      objs->second.type != Value::Type::array || top->second.type != Value::Type::dict)
    return std::nullopt;
  auto root = top->second.dict.find("root");
  const auto& items = objs->second.items;
  auto deref = [&](const Value& v) -> const Value* {
    if (v.type != Value::Type::uid) return &v;
    if (v.integer < 0 || static_cast<uint64_t>(v.integer) >= items.size()) return nullptr;
    return &items[static_cast<size_t>(v.integer)];
  };
  if (root == top->second.dict.end()) return std::nullopt;
  const Value* r = deref(root->second);
  if (!r || r->type != Value::Type::dict) return std::nullopt;
  Value out = *r;
  for (auto& [k, v] : out.dict)
    if (const Value* d = deref(v)) v = Value(*d);
  return out;
}

}  // namespace safehold::fs::bplist
