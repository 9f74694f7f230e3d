// Telegram iOS Postbox values (see postbox.hpp).
#include "chat/postbox.hpp"

#include <cstring>

namespace safehold::chat {

namespace {

constexpr size_t kMaxValue = 16u << 20;  // no message or peer record is near this

// A bounds-checked little- or big-endian reader over evidence bytes; every read past the end
// sets `bad` and returns 0.
struct Cursor {
  std::string_view b;
  size_t at = 0;
  bool bad = false;

  bool has(size_t n) {
    if (bad || n > b.size() - at) bad = true;
    return !bad;
  }
  uint64_t le(size_t n) {
    if (!has(n)) return 0;
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(static_cast<unsigned char>(b[at + k])) << (8 * k);
    at += n;
    return v;
  }
  uint64_t be(size_t n) {
    if (!has(n)) return 0;
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v = v << 8 | static_cast<unsigned char>(b[at + k]);
    at += n;
    return v;
  }
  int32_t i32() { return static_cast<int32_t>(le(4)); }
  int64_t i64() { return static_cast<int64_t>(le(8)); }
  uint8_t u8() { return static_cast<uint8_t>(le(1)); }
  std::string_view bytes(size_t n) {
    if (!has(n)) return {};
    auto v = b.substr(at, n);
    at += n;
    return v;
  }
  // An int32 length, then that many bytes.
  std::string_view sized() {
    int32_t n = i32();
    if (n < 0) bad = true;
    return bad ? std::string_view() : bytes(static_cast<size_t>(n));
  }
  bool done() const { return bad || at >= b.size(); }
};

// A count of items of at least `each` bytes that can fit in what is left.
bool count_fits(Cursor& c, int32_t n, size_t each) {
  if (n < 0 || static_cast<size_t>(n) > (c.b.size() - c.at) / each) c.bad = true;
  return !c.bad;
}

enum ValueType : uint8_t {
  Int32 = 0,
  Int64,
  Bool,
  Double,
  String,
  Object,
  Int32Array,
  Int64Array,
  ObjectArray,
  ObjectDictionary,
  Bytes,
  Nil,
  StringArray,
  BytesArray
};

// Skips one encoded object (type hash, length, body).
void skip_object(Cursor& c) {
  c.i32();
  c.sized();
}

// Skips n items of at least `each` bytes, each by `skip`.
template <class F>
void skip_items(Cursor& c, size_t each, F skip) {
  int32_t n = c.i32();
  if (count_fits(c, n, each))
    for (int32_t k = 0; k < n && !c.bad; ++k) skip();
}

// Skips the value of `type`; false on an unknown type or truncation.
bool skip_value(Cursor& c, uint8_t type) {
  switch (type) {
    case Int32:
      c.le(4);
      break;
    case Int64:
    case Double:
      c.le(8);
      break;
    case Bool:
      c.le(1);
      break;
    case String:
    case Bytes:
      c.sized();
      break;
    case Object:
      skip_object(c);
      break;
    case Int32Array:
      skip_items(c, 4, [&] { c.le(4); });
      break;
    case Int64Array:
      skip_items(c, 8, [&] { c.le(8); });
      break;
    case ObjectArray:
      skip_items(c, 8, [&] { skip_object(c); });
      break;
    case ObjectDictionary:
      skip_items(c, 16, [&] { skip_object(c), skip_object(c); });
      break;
    case Nil:
      break;
    case StringArray:
    case BytesArray:
      skip_items(c, 4, [&] { c.sized(); });
      break;
    default:
      return false;
  }
  return !c.bad;
}

struct Field {
  std::string_view key;
  uint8_t type = Nil;
  std::string_view raw;  // the value's bytes (an Object: its body, with `hash` set)
  int32_t hash = 0;
};

// The top-level fields of an encoded object body, or nullopt when it does not parse exactly.
std::optional<std::vector<Field>> fields_of(std::string_view body) {
  if (body.size() > kMaxValue) return std::nullopt;
  std::vector<Field> out;
  Cursor c{body};
  while (!c.done()) {
    Field f;
    f.key = c.bytes(c.u8());
    f.type = c.u8();
    if (c.bad) return std::nullopt;
    size_t start = c.at;
    if (f.type == Object) {
      f.hash = c.i32();
      f.raw = c.sized();
    } else {
      if (!skip_value(c, f.type)) return std::nullopt;
      f.raw = body.substr(start, c.at - start);
    }
    if (c.bad) return std::nullopt;
    out.push_back(f);
  }
  return out;
}

const Field* find(const std::vector<Field>& fs, std::string_view key) {
  for (auto& f : fs)
    if (f.key == key) return &f;
  return nullptr;
}

std::string string_of(const Field* f) {
  if (!f || f->type != String || f->raw.size() < 4) return "";
  return std::string(f->raw.substr(4));
}

void read_forward(Cursor& c, PostboxMessage& m) {
  uint8_t info = c.u8();
  if (info == 0) return;
  m.forwarded_from = c.i64();
  c.le(4);                   // date
  if (info & 2) c.le(8);     // source id
  if (info & 4) c.le(16);    // source message peer, namespace, id
  if (info & 8) c.sized();   // signature
  if (info & 16) c.sized();  // PSA type
  if (info & 32) c.le(4);    // flags
}

}  // namespace

uint32_t murmur3_32(std::string_view s, uint32_t seed) {
  const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
  uint32_t h = seed;
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  size_t blocks = s.size() / 4;
  for (size_t k = 0; k < blocks; ++k) {
    uint32_t w;
    std::memcpy(&w, s.data() + 4 * k, 4);  // little-endian hosts only (as Safehold builds)
    w = rotl(w * c1, 15) * c2;
    h = rotl(h ^ w, 13) * 5 + 0xe6546b64;
  }
  uint32_t t = 0;
  const auto* tail = reinterpret_cast<const unsigned char*>(s.data() + 4 * blocks);
  switch (s.size() & 3) {
    case 3:
      t ^= uint32_t(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      t ^= uint32_t(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      t ^= tail[0];
      h ^= rotl(t * c1, 15) * c2;
  }
  h ^= static_cast<uint32_t>(s.size());
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

int32_t postbox_type_hash(std::string_view s) {
  return static_cast<int32_t>(murmur3_32(s, 4157243346u));
}

std::optional<PostboxKey> parse_postbox_key(std::string_view key) {
  if (key.size() != 20) return std::nullopt;
  Cursor c{key};
  PostboxKey k;
  k.peer = static_cast<int64_t>(c.be(8));
  k.ns = static_cast<int32_t>(c.be(4));
  k.timestamp = static_cast<int32_t>(c.be(4));
  k.id = static_cast<int32_t>(c.be(4));
  return k;
}

std::optional<PostboxMessage> parse_postbox_message(std::string_view value) {
  if (value.size() > kMaxValue) return std::nullopt;
  Cursor c{value};
  if (c.u8() != 0) return std::nullopt;  // an intermediate message record
  PostboxMessage m;
  c.le(8);  // stable id, stable version
  uint8_t data = c.u8();
  if (data & 1) c.le(8);   // globally unique id
  if (data & 2) c.le(4);   // global tags
  if (data & 4) c.le(8);   // grouping key
  if (data & 8) c.le(4);   // group info
  if (data & 16) c.le(4);  // local tags
  if (data & 32) c.le(8);  // thread id
  m.flags = static_cast<uint32_t>(c.le(4));
  m.tags = static_cast<uint32_t>(c.le(4));
  read_forward(c, m);
  if (c.u8() == 1) m.author = c.i64();
  m.text = std::string(c.sized());
  int32_t attributes = c.i32();
  if (!count_fits(c, attributes, 4)) return std::nullopt;
  for (int k = 0; k < attributes && !c.bad; ++k) c.sized();
  int32_t media = c.i32();
  if (!count_fits(c, media, 4)) return std::nullopt;
  for (int k = 0; k < media && !c.bad; ++k)
    if (auto t = postbox_root_type(c.sized())) m.media_types.push_back(*t);
  int32_t refs = c.i32();
  if (!count_fits(c, refs, 12)) return std::nullopt;
  m.referenced_media = static_cast<size_t>(refs);
  c.bytes(size_t(refs) * 12);
  if (c.bad) return std::nullopt;
  return m;
}

std::optional<int32_t> postbox_root_type(std::string_view value) {
  auto fs = fields_of(value);
  if (!fs) return std::nullopt;
  const Field* root = find(*fs, "_");
  if (!root || root->type != Object) return std::nullopt;
  return root->hash;
}

std::optional<std::string> postbox_peer_name(std::string_view value) {
  auto fs = fields_of(value);
  if (!fs) return std::nullopt;
  const Field* root = find(*fs, "_");
  if (!root || root->type != Object) return std::nullopt;
  auto peer = fields_of(root->raw);
  if (!peer) return std::nullopt;
  std::string name = string_of(find(*peer, "fn"));
  std::string last = string_of(find(*peer, "ln"));
  if (!last.empty()) name += (name.empty() ? "" : " ") + last;
  if (name.empty()) name = string_of(find(*peer, "t"));
  std::string user = string_of(find(*peer, "un"));
  if (!user.empty()) name += (name.empty() ? "@" : " (@") + user + (name.empty() ? "" : ")");
  if (name.empty() && !find(*peer, "i")) return std::nullopt;
  return name;
}

}  // namespace safehold::chat
