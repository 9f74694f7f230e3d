// Blob decoders: binary plist, NSKeyedArchiver, protobuf wire format, base64, JSON.
#include "chat/decoders.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "base/text.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

const Node* Node::get(std::string_view key) const {
  for (auto& [k, v] : fields)
    if (k == key) return &v;
  return nullptr;
}

namespace {

uint64_t be_uint(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v = (v << 8) | p[k];
  return v;
}

class BplistParser {
 public:
  BplistParser(std::string_view b, const DecodeLimits& lim)
      : p_(reinterpret_cast<const uint8_t*>(b.data())), n_(b.size()), lim_(lim) {}

  std::optional<Node> parse() {
    if (n_ < 40 || n_ > lim_.max_bytes || std::memcmp(p_, "bplist00", 8) != 0) return std::nullopt;
    const uint8_t* t = p_ + n_ - 32;
    off_size_ = t[6];
    ref_size_ = t[7];
    uint64_t count = be_uint(t + 8, 8), top = be_uint(t + 16, 8), table = be_uint(t + 24, 8);
    if (off_size_ < 1 || off_size_ > 8 || ref_size_ < 1 || ref_size_ > 8) return std::nullopt;
    if (count == 0 || count > lim_.max_nodes || top >= count || table < 8 || table > n_ - 32 ||
        count * off_size_ > n_ - 32 - table)
      return std::nullopt;
    count_ = count;
    table_ = table;
    Node out;
    if (!object(top, 0, out)) return std::nullopt;
    return out;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  const DecodeLimits& lim_;
  size_t off_size_ = 0, ref_size_ = 0, count_ = 0, table_ = 0, nodes_ = 0;
  size_t bytes_ = 0;  // string and data bytes copied out (shared objects count each time)
  std::vector<uint64_t> stack_;  // objects being read (a reference cycle fails)

  // The length of a data/string/array/dict: the low nibble, or an int object after it.
  bool length(uint8_t marker, size_t& pos, uint64_t& len) {
    len = marker & 0x0F;
    if (len != 0x0F) return true;
    if (pos >= n_) return false;
    uint8_t m = p_[pos++];
    if ((m & 0xF0) != 0x10 || (m & 0x0F) > 3) return false;
    size_t w = size_t{1} << (m & 0x0F);
    if (w > n_ - pos) return false;
    len = be_uint(p_ + pos, w);
    pos += w;
    return true;
  }

  bool ref(size_t pos, uint64_t& r) const {
    if (ref_size_ > n_ - pos) return false;
    r = be_uint(p_ + pos, ref_size_);
    return r < count_;
  }

  bool object(uint64_t index, size_t depth, Node& out) {
    if (depth > lim_.max_depth || ++nodes_ > lim_.max_nodes) return false;
    for (uint64_t s : stack_)
      if (s == index) return false;
    uint64_t pos = be_uint(p_ + table_ + index * off_size_, off_size_);
    if (pos < 8 || pos >= table_) return false;
    stack_.push_back(index);
    bool ok = value(static_cast<size_t>(pos), depth, out);
    stack_.pop_back();
    return ok;
  }

  bool value(size_t pos, size_t depth, Node& out) {
    uint8_t m = p_[pos++];
    uint8_t hi = m >> 4, lo = m & 0x0F;
    uint64_t len = 0;
    switch (hi) {
      case 0x0:
        if (m == 0x08 || m == 0x09) {
          out.type = Node::Type::Bool;
          out.b = m == 0x09;
        }
        return m == 0x00 || m == 0x08 || m == 0x09 || m == 0x0F;
      case 0x1: {
        if (lo > 4) return false;
        size_t w = size_t{1} << lo;
        if (w > n_ - pos) return false;
        out.type = Node::Type::Int;
        out.i = static_cast<int64_t>(be_uint(p_ + pos + (w > 8 ? w - 8 : 0), w > 8 ? 8 : w));
        return true;
      }
      case 0x2:
      case 0x3: {
        size_t w = hi == 0x3 ? 8 : size_t{1} << lo;
        if ((w != 4 && w != 8) || w > n_ - pos) return false;
        out.type = Node::Type::Real;
        if (w == 4) {
          uint32_t bits = static_cast<uint32_t>(be_uint(p_ + pos, 4));
          float f;
          std::memcpy(&f, &bits, 4);
          out.d = f;
        } else {
          uint64_t bits = be_uint(p_ + pos, 8);
          std::memcpy(&out.d, &bits, 8);
        }
        return true;
      }
      case 0x4:
      case 0x5:
      case 0x6: {
        if (!length(m, pos, len)) return false;
        uint64_t bytes = hi == 0x6 ? len * 2 : len;
        if (len > n_ || bytes > n_ - pos) return false;
        if ((bytes_ += bytes) > lim_.max_bytes) return false;
        out.type = hi == 0x4 ? Node::Type::Data : Node::Type::String;
        if (hi != 0x6) {
          out.s.assign(reinterpret_cast<const char*>(p_ + pos), bytes);
          return true;
        }
        for (uint64_t k = 0; k < len; ++k) {  // UTF-16BE with surrogate pairs
          uint32_t u = static_cast<uint32_t>(be_uint(p_ + pos + 2 * k, 2));
          if (u >= 0xD800 && u < 0xDC00 && k + 1 < len) {
            uint32_t v = static_cast<uint32_t>(be_uint(p_ + pos + 2 * k + 2, 2));
            if (v >= 0xDC00 && v < 0xE000) {
              base::append_utf8(out.s, 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00));
              ++k;
              continue;
            }
          }
          base::append_utf8(out.s, (u >= 0xD800 && u < 0xE000) ? 0xFFFD : u);
        }
        return true;
      }
      case 0x8:
        if (size_t{lo} + 1 > n_ - pos || lo > 7) return false;
        out.type = Node::Type::Uid;
        out.i = static_cast<int64_t>(be_uint(p_ + pos, size_t{lo} + 1));
        return true;
      case 0xA:
      case 0xC:
      case 0xD: {
        if (!length(m, pos, len)) return false;
        uint64_t refs = hi == 0xD ? 2 * len : len;
        if (len > count_ || refs * ref_size_ > n_ - pos) return false;
        if (hi != 0xD) {
          out.type = Node::Type::Array;
          out.items.resize(len);
          for (uint64_t k = 0; k < len; ++k) {
            uint64_t r;
            if (!ref(pos + k * ref_size_, r) || !object(r, depth + 1, out.items[k])) return false;
          }
          return true;
        }
        out.type = Node::Type::Dict;
        out.fields.resize(len);
        for (uint64_t k = 0; k < len; ++k) {
          uint64_t kr, vr;
          Node key;
          if (!ref(pos + k * ref_size_, kr) || !ref(pos + (len + k) * ref_size_, vr) ||
              !object(kr, depth + 1, key) || key.type != Node::Type::String ||
              !object(vr, depth + 1, out.fields[k].second))
            return false;
          out.fields[k].first = std::move(key.s);
        }
        return true;
      }
      default:
        return false;
    }
  }
};

class Unarchiver {
 public:
  Unarchiver(const Node& objects, const DecodeLimits& lim) : objects_(objects), lim_(lim) {}

  bool resolve(const Node& in, size_t depth, Node& out) {
    if (depth > lim_.max_depth || ++nodes_ > lim_.max_nodes) return false;
    if (in.type != Node::Type::Uid) {
      if ((bytes_ += in.s.size()) > lim_.max_bytes) return false;
      out = in;
      if (in.type == Node::Type::String && in.s == "$null") out = Node{};
      return true;
    }
    uint64_t k = static_cast<uint64_t>(in.i);
    if (k >= objects_.items.size() || active_.count(k)) {
      out = Node{};  // a dangling or cyclic reference reads as NULL
      return true;
    }
    active_.insert(k);
    bool ok = object(objects_.items[k], depth, out);
    active_.erase(k);
    return ok;
  }

 private:
  const Node& objects_;
  const DecodeLimits& lim_;
  size_t nodes_ = 0, bytes_ = 0;
  std::set<uint64_t> active_;

  std::string class_name(const Node& obj, size_t depth) {
    const Node* c = obj.get("$class");
    Node cls;
    if (!c || !resolve(*c, depth + 1, cls)) return "";
    const Node* name = cls.get("$classname");
    return name && name->type == Node::Type::String ? name->s : "";
  }

  bool list(const Node& arr, size_t depth, Node& out) {
    out.type = Node::Type::Array;
    for (auto& x : arr.items) {
      out.items.emplace_back();
      if (!resolve(x, depth + 1, out.items.back())) return false;
    }
    return true;
  }

  bool object(const Node& obj, size_t depth, Node& out) {
    if (obj.type != Node::Type::Dict) return resolve(obj, depth + 1, out);
    std::string cls = class_name(obj, depth);
    const Node *keys = obj.get("NS.keys"), *vals = obj.get("NS.objects");
    if (keys && vals && keys->type == Node::Type::Array && vals->type == Node::Type::Array) {
      out.type = Node::Type::Dict;
      for (size_t k = 0; k < keys->items.size() && k < vals->items.size(); ++k) {
        Node key, val;
        if (!resolve(keys->items[k], depth + 1, key) || !resolve(vals->items[k], depth + 1, val))
          return false;
        out.fields.push_back(
            {key.type == Node::Type::String ? key.s : std::string(), std::move(val)});
      }
      return true;
    }
    if (vals && vals->type == Node::Type::Array) return list(*vals, depth, out);
    for (auto key : {"NS.string", "NS.bytes", "NS.data"})
      if (const Node* v = obj.get(key)) return resolve(*v, depth + 1, out);
    out.type = Node::Type::Dict;
    if (!cls.empty()) {
      Node name;
      name.type = Node::Type::String;
      name.s = cls;
      out.fields.push_back({"$class", std::move(name)});
    }
    for (auto& [k, v] : obj.fields) {
      if (k == "$class") continue;
      Node val;
      if (!resolve(v, depth + 1, val)) return false;
      out.fields.push_back({k, std::move(val)});
    }
    return true;
  }
};

class ProtobufParser {
 public:
  explicit ProtobufParser(const DecodeLimits& lim) : lim_(lim) {}

  bool message(const uint8_t* p, const uint8_t* end, size_t depth, Node& out) {
    if (depth > lim_.max_depth || p >= end) return false;
    out.type = Node::Type::Dict;
    while (p < end) {
      if (++nodes_ > lim_.max_nodes) return false;
      uint64_t tag;
      if (!varint(p, end, tag)) return false;
      uint64_t field = tag >> 3;
      int wire = static_cast<int>(tag & 7);
      if (field == 0 || field > 536870911) return false;
      Node v;
      switch (wire) {
        case 0:
          v.type = Node::Type::Int;
          if (!varint(p, end, reinterpret_cast<uint64_t&>(v.i))) return false;
          break;
        case 1:
        case 5: {
          size_t w = wire == 1 ? 8 : 4;
          if (static_cast<size_t>(end - p) < w) return false;
          uint64_t u = 0;
          for (size_t k = w; k-- > 0;) u = (u << 8) | p[k];  // little-endian
          v.type = Node::Type::Int;
          v.i = static_cast<int64_t>(u);
          if (w == 8) std::memcpy(&v.d, &u, 8);
          p += w;
          break;
        }
        case 2: {
          uint64_t len;
          if (!varint(p, end, len) || len > static_cast<uint64_t>(end - p)) return false;
          v.s.assign(reinterpret_cast<const char*>(p), len);
          Node sub;
          size_t saved = nodes_;
          if (len && message(p, p + len, depth + 1, sub))
            v.fields = std::move(sub.fields);
          else
            nodes_ = saved;
          // Text, unless it also parses as a message and holds control bytes (tags, lengths).
          bool control = std::any_of(v.s.begin(), v.s.end(),
                                     [](char c) { return static_cast<unsigned char>(c) < 0x20; });
          bool text = !v.s.empty() && plausible_text(v.s) && !(control && !v.fields.empty());
          v.type = text ? Node::Type::String : Node::Type::Data;
          p += len;
          break;
        }
        default:
          return false;  // groups (deprecated) and reserved wire types
      }
      out.fields.push_back({std::to_string(field), std::move(v)});
    }
    return true;
  }

 private:
  const DecodeLimits& lim_;
  size_t nodes_ = 0;

  static bool varint(const uint8_t*& p, const uint8_t* end, uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      uint8_t b = *p++;
      out |= uint64_t{b & 0x7Fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
};

bool json_depth_ok(std::string_view t, size_t max_depth) {
  size_t depth = 0;
  bool in_str = false, esc = false;
  for (char c : t) {
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth) {
      --depth;
    }
  }
  return true;
}

Node from_json(const nlohmann::json& j) {
  Node n;
  switch (j.type()) {
    case nlohmann::json::value_t::boolean:
      n.type = Node::Type::Bool;
      n.b = j.get<bool>();
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      n.type = Node::Type::Int;
      n.i = j.get<int64_t>();
      break;
    case nlohmann::json::value_t::number_float:
      n.type = Node::Type::Real;
      n.d = j.get<double>();
      break;
    case nlohmann::json::value_t::string:
      n.type = Node::Type::String;
      n.s = j.get<std::string>();
      break;
    case nlohmann::json::value_t::array:
      n.type = Node::Type::Array;
      for (auto& x : j) n.items.push_back(from_json(x));
      break;
    case nlohmann::json::value_t::object:
      n.type = Node::Type::Dict;
      for (auto& [k, v] : j.items()) n.fields.push_back({k, from_json(v)});
      break;
    default:
      break;
  }
  return n;
}

void collect_strings(const Node& n, std::vector<std::string>& out, size_t depth) {
  if (depth > 256) return;
  if (n.type == Node::Type::String && !n.s.empty() && plausible_text(n.s)) {
    out.push_back(n.s);
    return;  // a text's parse as a protobuf message is chance, not content
  }
  for (auto& x : n.items) collect_strings(x, out, depth + 1);
  for (auto& [k, v] : n.fields)
    if (k != "$class") collect_strings(v, out, depth + 1);
}

const Node* text_field(const Node& n, size_t depth) {
  if (depth > 256) return nullptr;
  for (auto& [k, v] : n.fields) {
    std::string key = lower(k);
    if (v.type == Node::Type::String && !v.s.empty() && plausible_text(v.s) &&
        (key == "text" || key == "body" || key == "message" || key == "content" || key == "msg" ||
         key == "caption" || key == "ns.string" || key == "nsstring"))
      return &v;
  }
  for (auto& [k, v] : n.fields)
    if (auto t = text_field(v, depth + 1)) return t;
  for (auto& x : n.items)
    if (auto t = text_field(x, depth + 1)) return t;
  return nullptr;
}

std::optional<DecodedBlob> decode_once(std::string_view b, const DecodeLimits& lim) {
  DecodedBlob out;
  if (b.size() >= 8 && b.substr(0, 8) == "bplist00") {
    if (auto n = parse_keyed_archive(b, lim)) {
      out.format = "nskeyedarchiver";
      out.root = std::move(*n);
    } else if (auto p = parse_bplist(b, lim)) {
      out.format = "bplist";
      out.root = std::move(*p);
    } else {
      return std::nullopt;
    }
  } else if (size_t k = b.find_first_not_of(" \t\r\n");
             k != std::string_view::npos && (b[k] == '{' || b[k] == '[')) {
    auto j = parse_json(b, lim);
    if (!j) return std::nullopt;
    out.format = "json";
    out.root = std::move(*j);
  } else if (auto p = parse_protobuf(b, lim)) {
    out.format = "protobuf";
    out.root = std::move(*p);
  } else {
    return std::nullopt;
  }
  collect_strings(out.root, out.strings, 0);
  return out;
}

}  // namespace

std::optional<Node> parse_bplist(std::string_view bytes, const DecodeLimits& lim) {
  return BplistParser(bytes, lim).parse();
}

std::optional<Node> parse_keyed_archive(std::string_view bytes, const DecodeLimits& lim) {
  auto plist = parse_bplist(bytes, lim);
  if (!plist) return std::nullopt;
  const Node* archiver = plist->get("$archiver");
  const Node* objects = plist->get("$objects");
  const Node* top = plist->get("$top");
  if (!archiver || archiver->s != "NSKeyedArchiver" || !objects ||
      objects->type != Node::Type::Array || !top || top->type != Node::Type::Dict)
    return std::nullopt;
  Unarchiver u(*objects, lim);
  const Node* root = top->get("root");
  Node out;
  if (root && top->fields.size() == 1) {
    if (!u.resolve(*root, 0, out)) return std::nullopt;
    return out;
  }
  out.type = Node::Type::Dict;
  for (auto& [k, v] : top->fields) {
    Node val;
    if (!u.resolve(v, 0, val)) return std::nullopt;
    out.fields.push_back({k, std::move(val)});
  }
  return out;
}

std::optional<Node> parse_protobuf(std::string_view bytes, const DecodeLimits& lim) {
  if (bytes.empty() || bytes.size() > lim.max_bytes) return std::nullopt;
  auto p = reinterpret_cast<const uint8_t*>(bytes.data());
  Node out;
  ProtobufParser parser(lim);
  if (!parser.message(p, p + bytes.size(), 0, out)) return std::nullopt;
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t digits = 0, pad = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return std::nullopt;  // data after padding
    size_t v = c == '-' ? 62 : c == '_' ? 63 : alphabet.find(c);
    if (v == std::string::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++digits;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (digits == 0 || digits % 4 == 1 || pad > 2) return std::nullopt;
  return out;
}

std::optional<Node> parse_json(std::string_view text, const DecodeLimits& lim) {
  if (text.size() > lim.max_bytes || !json_depth_ok(text, lim.max_depth)) return std::nullopt;
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return from_json(j);
}

std::optional<DecodedBlob> decode_blob(std::string_view bytes, const DecodeLimits& lim) {
  if (bytes.empty() || bytes.size() > lim.max_bytes) return std::nullopt;
  if (auto d = decode_once(bytes, lim)) return d;
  if (bytes.size() < 8) return std::nullopt;
  auto raw = base64_decode(bytes);
  if (!raw || raw->empty()) return std::nullopt;
  auto d = decode_once(*raw, lim);
  if (d) d->format = "base64+" + d->format;
  return d;
}

std::optional<std::string> blob_text(const DecodedBlob& blob) {
  if (const Node* t = text_field(blob.root, 0)) return t->s;
  const std::string* best = nullptr;
  for (auto& s : blob.strings)
    if (!best || s.size() > best->size()) best = &s;
  if (!best) return std::nullopt;
  return *best;
}

}  // namespace safehold::chat
