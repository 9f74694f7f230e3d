// Container formats: RIFF (WebP, AVI incl. OpenDML AVIX parts), ISO-BMFF (MP4, MOV, 3GP, M4V,
// HEIF/HEIC by ftyp brand), ASF (WMV/WMA), EBML (Matroska, WebM).
#include <array>
#include <cstring>

#include "carve/walker.hpp"

namespace safehold::carve {
namespace {

WalkResult& fail(WalkResult& r, uint64_t at, std::string why) {
  r.verdict = Verdict::invalid;
  r.error_at = at;
  r.warnings.push_back(std::move(why));
  return r;
}

WalkResult& more(WalkResult& r, const ByteView& v, uint64_t need) {
  r.verdict = Verdict::need_more;
  r.need = std::max<uint64_t>(need, v.size() + 4096);
  return r;
}

WalkResult& done(WalkResult& r, uint64_t len) {
  r.verdict = Verdict::valid;
  r.length = len;
  return r;
}

bool fourcc_ok(const ByteView& v, uint64_t at) {
  if (!v.has(at, 4)) return false;
  for (int i = 0; i < 4; ++i) {
    uint8_t c = v.at(at + i);
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

constexpr uint64_t kMaxContainer = 64ull << 30;

// ---------------------------------------------------------------- RIFF
class RiffWalker final : public Walker {
 public:
  std::string_view name() const override { return "riff"; }
  size_t header_size() const override { return 16; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {{"webp", "webp", "image/webp", {}, {"webp"}},
                                 {"avi", "avi", "video/x-msvideo", {}, {"avi", "divx"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "R"; }
  bool probe(const ByteView& v) const override {
    return v.matches(0, "RIFF") && (v.matches(8, "WEBP") || v.matches(8, "AVI ")) &&
           v.le32(4).value_or(0) >= 12;
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r;
    if (!probe(v)) return fail(r, 0, "no RIFF WEBP/AVI header");
    bool webp = v.matches(8, "WEBP");
    r.set_type(types()[webp ? 0 : 1]);
    uint64_t end = 8 + uint64_t{*v.le32(4)};
    end += end & 1;
    if (!v.has(0, end)) return more(r, v, end);
    // The chunks inside must tile the form exactly.
    uint64_t pos = 12;
    bool image = false, movi = false, hdrl = false;
    for (uint32_t n = 0; pos + 8 <= end; ++n) {
      if (!fourcc_ok(v, pos)) return fail(r, pos, "chunk id not printable");
      uint64_t len = *v.le32(pos + 4);
      if (v.matches(pos, "VP8 ") || v.matches(pos, "VP8L")) image = true;
      if (v.matches(pos, "LIST") && v.matches(pos + 8, "movi")) movi = true;
      if (v.matches(pos, "LIST") && v.matches(pos + 8, "hdrl")) hdrl = true;
      pos += 8 + len + (len & 1);
    }
    if (pos > end + 1) return fail(r, end, "chunk runs past the RIFF size");
    if (webp && !image) return fail(r, 12, "WebP without VP8/VP8L image data");
    if (!webp && (!hdrl || !movi)) return fail(r, 12, "AVI without hdrl or movi");
    // OpenDML: further RIFF AVIX parts follow the first.
    while (!webp && v.matches(end, "RIFF") && v.matches(end + 8, "AVIX")) {
      uint64_t len = *v.le32(end + 4);
      uint64_t next = end + 8 + len + (len & 1);
      if (!v.has(0, next)) return more(r, v, next);
      end = next;
    }
    if (!webp && !v.has(end, 12) && !v.ends_data())
      return more(r, v, end + 12);  // an AVIX part may follow
    return done(r, end);
  }
};

// ---------------------------------------------------------------- ISO-BMFF
bool top_level_box(const ByteView& v, uint64_t at) {
  static const char* kTypes[] = {"moov", "mdat", "free", "skip", "wide", "meta", "moof", "mfra",
                                 "sidx", "styp", "uuid", "pdin", "prft", "emsg", "udta", "pnot",
                                 "PICT", "junk", "ssix", "iinf", "iloc", "idat", "jumb"};
  for (const char* t : kTypes)
    if (v.matches(at + 4, t)) return true;
  return false;
}

// The ISO-BMFF family's types; brand_type() picks one by index.
enum IsoType : size_t { kHeif, kMp4, kMov, k3gp, kM4v, kM4a };
std::span<const TypeInfo> isobmff_types() {
  static const TypeInfo t[] = {
      {"heif", "heic", "image/heic", {"heic"}, {"heic", "heif", "hif", "avif", "heics", "heifs"}},
      {"mp4", "mp4", "video/mp4", {}, {"mp4", "m4v", "m4a", "mp4v", "f4v", "m4p", "mov"}},
      {"mov", "mov", "video/quicktime", {}, {"mov", "qt", "mp4"}},
      {"3gp", "3gp", "video/3gpp", {}, {"3gp", "3g2", "3gpp", "3gpp2", "mp4"}},
      {"m4v", "m4v", "video/x-m4v", {}, {"m4v", "mp4"}},
      {"m4a", "m4a", "audio/mp4", {}, {"m4a", "m4b", "m4p", "mp4"}}};
  return t;
}

void brand_type(std::string_view major, const std::vector<std::string>& compat, WalkResult& r) {
  auto any = [&](std::initializer_list<std::string_view> set) {
    for (auto s : set) {
      if (major == s) return true;
      for (auto& c : compat)
        if (c == s) return true;
    }
    return false;
  };
  auto is = [&](std::initializer_list<std::string_view> set) {
    for (auto s : set)
      if (major == s) return true;
    return false;
  };
  if (is({"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis"}) ||
      (!is({"qt  "}) && any({"heic", "heix", "mif1"}) && !any({"isom", "mp41", "mp42"}))) {
    r.set_type(isobmff_types()[kHeif]);
    bool avif = is({"avif", "avis"});
    r.ext = avif ? "avif" : (is({"mif1", "msf1"}) && !any({"heic"}) ? "heif" : "heic");
    if (avif) r.mime = "image/avif";
  } else if (is({"qt  "})) {
    r.set_type(isobmff_types()[kMov]);
  } else if (major.substr(0, 3) == "3gp" || major.substr(0, 3) == "3g2" ||
             major.substr(0, 3) == "3ge") {
    r.set_type(isobmff_types()[k3gp]);
    if (major.substr(0, 3) == "3g2") r.ext = "3g2";
  } else if (is({"M4V ", "M4VH", "M4VP"})) {
    r.set_type(isobmff_types()[kM4v]);
  } else if (is({"M4A ", "M4B ", "M4P "})) {
    r.set_type(isobmff_types()[kM4a]);
  } else {
    r.set_type(isobmff_types()[kMp4]);
  }
}

class IsoBmffWalker final : public Walker {
 public:
  std::string_view name() const override { return "isobmff"; }
  size_t header_size() const override { return 16; }
  std::span<const TypeInfo> types() const override { return isobmff_types(); }
  std::string_view lead_bytes() const override { return std::string_view("\0", 1); }  // size
  bool probe(const ByteView& v) const override {
    auto size = v.be32(0);
    return size && *size >= 16 && *size <= 4096 && v.matches(4, "ftyp") && fourcc_ok(v, 8);
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r;
    if (!probe(v)) return fail(r, 0, "no ftyp box");
    uint32_t fsize = *v.be32(0);
    if (!v.has(0, fsize)) return more(r, v, fsize);
    std::string major(reinterpret_cast<const char*>(v.sub(8, 4).bytes().data()), 4);
    std::vector<std::string> compat;
    for (uint64_t p = 16; p + 4 <= fsize; p += 4)
      compat.emplace_back(reinterpret_cast<const char*>(v.sub(p, 4).bytes().data()), 4);
    brand_type(major, compat, r);
    uint64_t pos = fsize;
    bool moov = false, moof = false, meta = false, mdat = false;
    for (uint32_t n = 0; n < 100000; ++n) {
      if (!v.has(pos, 8)) {
        // Whether the file ends here or a box follows can be told only with more bytes.
        if (v.ends_data() && (moov || meta || moof)) break;
        return more(r, v, pos + 16);
      }
      if (!top_level_box(v, pos)) break;
      uint64_t size = *v.be32(pos), head = 8;
      if (size == 1) {
        auto big = v.be64(pos + 8);
        if (!big) return more(r, v, pos + 16);
        size = *big;
        head = 16;
      } else if (size == 0) {
        r.warnings.push_back("last box runs to the end of its container; length unknown");
        return fail(r, pos, "box of size 0 (to end of file) cannot be bounded when carving");
      }
      if (size < head) return fail(r, pos, "box smaller than its header");
      if (pos + size > kMaxContainer)
        return fail(r, pos, "box claims " + std::to_string(size) + " bytes");
      if (v.matches(pos + 4, "moov")) moov = true;
      if (v.matches(pos + 4, "moof")) moof = true;
      if (v.matches(pos + 4, "meta")) meta = true;
      if (v.matches(pos + 4, "mdat")) mdat = true;
      if (!v.has(pos, size)) {
        // Only headers matter: ask for the box's end plus the next header.
        return more(r, v, pos + size + 16);
      }
      pos += size;
    }
    if (r.type == "heif") {
      if (!meta) return fail(r, pos, "HEIF without meta box");
    } else if (!moov && !moof) {
      return fail(r, pos, "no moov box (not playable)");
    }
    if (!mdat && r.type != "heif") r.warnings.push_back("no mdat box");
    return done(r, pos);
  }
};

// ---------------------------------------------------------------- ASF
constexpr std::array<uint8_t, 16> kAsfHeader = {0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
                                                0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C};
constexpr std::array<uint8_t, 16> kAsfData = {0x36, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
                                              0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C};
constexpr std::array<uint8_t, 16> kAsfSimpleIndex = {
    0x90, 0x08, 0x00, 0x33, 0xB1, 0xE5, 0xCF, 0x11, 0x89, 0xF4, 0x00, 0xA0, 0xC9, 0x03, 0x49, 0xCB};
constexpr std::array<uint8_t, 16> kAsfIndex = {0xD3, 0x29, 0xE2, 0xD6, 0xDA, 0x35, 0xD1, 0x11,
                                               0x90, 0x34, 0x00, 0xA0, 0xC9, 0x03, 0x49, 0xBE};
constexpr std::array<uint8_t, 16> kAsfMediaIndex = {0xF8, 0x03, 0xB1, 0xFE, 0xAD, 0x12, 0x64, 0x4C,
                                                    0x84, 0x0F, 0x2A, 0x1D, 0x2F, 0x7A, 0xD4, 0x8C};
constexpr std::array<uint8_t, 16> kAsfTimecodeIndex = {
    0xD0, 0x3F, 0xB7, 0x3C, 0x4A, 0x0C, 0x03, 0x48, 0x95, 0x3D, 0xED, 0xF7, 0xB6, 0x22, 0x8F, 0x0C};
constexpr std::array<uint8_t, 16> kAsfVideoMedia = {0xC0, 0xEF, 0x19, 0xBC, 0x4D, 0x5B, 0xCF, 0x11,
                                                    0xA8, 0xFD, 0x00, 0x80, 0x5F, 0x5C, 0x44, 0x2B};

bool guid_at(const ByteView& v, uint64_t at, const std::array<uint8_t, 16>& g) {
  if (!v.has(at, 16)) return false;
  return std::memcmp(v.sub(at, 16).bytes().data(), g.data(), 16) == 0;
}

class AsfWalker final : public Walker {
 public:
  std::string_view name() const override { return "asf"; }
  size_t header_size() const override { return 30; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {{"asf", "wmv", "video/x-ms-asf", {"wmv"}, {"asf", "wmv", "wma"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "\x30"; }  // the header object's GUID
  bool probe(const ByteView& v) const override {
    auto size = v.le64(16);
    return guid_at(v, 0, kAsfHeader) && size && *size >= 30 && *size < (1ull << 32);
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r;
    r.set_type(types()[0]);
    if (!probe(v)) return fail(r, 0, "no ASF header object");
    uint64_t hsize = *v.le64(16);
    if (!v.has(0, hsize)) return more(r, v, hsize);
    // Header sub-objects must tile the header object.
    uint32_t count = v.le32(24).value_or(0);
    uint64_t p = 30;
    bool video = false;
    for (uint32_t i = 0; i < count && i < 10000; ++i) {
      auto s = v.le64(p + 16);
      if (!s || *s < 24 || p + *s > hsize)
        return fail(r, p, "header sub-object outside the header");
      // Stream Properties Object: stream type GUID at +24.
      if (guid_at(v, p + 24, kAsfVideoMedia)) video = true;
      p += *s;
    }
    if (p != hsize) r.warnings.push_back("header sub-objects do not fill the header object");
    r.ext = video ? "wmv" : "wma";
    if (!video) r.mime = "audio/x-ms-wma";
    uint64_t pos = hsize;
    if (!v.has(pos, 24)) return more(r, v, pos + 24);
    if (!guid_at(v, pos, kAsfData)) return fail(r, pos, "no data object after the header");
    for (uint32_t n = 0; n < 1000; ++n) {
      if (!v.has(pos, 24)) {
        if (v.ends_data()) break;
        return more(r, v, pos + 24);
      }
      if (!(guid_at(v, pos, kAsfData) || guid_at(v, pos, kAsfSimpleIndex) ||
            guid_at(v, pos, kAsfIndex) || guid_at(v, pos, kAsfMediaIndex) ||
            guid_at(v, pos, kAsfTimecodeIndex)))
        break;
      uint64_t s = *v.le64(pos + 16);
      if (s < 24 || pos + s > kMaxContainer) return fail(r, pos, "object size out of range");
      if (!v.has(pos, s)) return more(r, v, pos + s + 24);
      pos += s;
    }
    return done(r, pos);
  }
};

// ---------------------------------------------------------------- EBML
struct Vint {
  uint64_t value = 0;
  uint32_t len = 0;
  bool unknown = false;
};

// keep_marker: element IDs keep their length marker bit; sizes drop it.
std::optional<Vint> vint(const ByteView& v, uint64_t at, bool keep_marker) {
  auto b = v.u8(at);
  if (!b || *b == 0) return std::nullopt;
  uint32_t len = 1;
  while (!(*b & (0x80 >> (len - 1)))) ++len;
  if (!v.has(at, len)) return std::nullopt;
  uint64_t val = keep_marker ? *b : (*b & (0xFF >> len));
  bool all_ones = (*b & (0xFF >> len)) == (0xFF >> len);
  for (uint32_t i = 1; i < len; ++i) {
    uint8_t x = v.at(at + i);
    val = (val << 8) | x;
    if (x != 0xFF) all_ones = false;
  }
  return Vint{val, len, !keep_marker && all_ones};
}

bool segment_child(uint64_t id) {
  switch (id) {
    case 0x114D9B74:
    case 0x1549A966:
    case 0x1654AE6B:
    case 0x1F43B675:
    case 0x1C53BB6B:
    case 0x1941A469:
    case 0x1043A770:
    case 0x1254C367:
    case 0xEC:
    case 0xBF:
      return true;
    default:
      return false;
  }
}

class EbmlWalker final : public Walker {
 public:
  std::string_view name() const override { return "ebml"; }
  size_t header_size() const override { return 16; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {
        {"mkv", "mkv", "video/x-matroska", {}, {"mkv", "mka", "mk3d", "mks", "webm"}},
        {"webm", "webm", "video/webm", {}, {"webm", "mkv"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "\x1A"; }
  bool probe(const ByteView& v) const override {
    if (!(v.at(0) == 0x1A && v.at(1) == 0x45 && v.at(2) == 0xDF && v.at(3) == 0xA3)) return false;
    auto s = vint(v, 4, false);
    return s && !s->unknown && s->value >= 4 && s->value < 4096;
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r;
    r.set_type(types()[0]);
    if (!probe(v)) return fail(r, 0, "no EBML header");
    auto hs = vint(v, 4, false);
    uint64_t hend = 4 + hs->len + hs->value;
    if (!v.has(0, hend)) return more(r, v, hend);
    std::string doctype;
    for (uint64_t p = 4 + hs->len; p < hend;) {
      auto id = vint(v, p, true);
      if (!id) break;
      auto sz = vint(v, p + id->len, false);
      if (!sz || sz->unknown) return fail(r, p, "bad EBML header element");
      uint64_t data = p + id->len + sz->len;
      if (id->value == 0x4282 && sz->value < 64 && v.has(data, sz->value))
        doctype.assign(reinterpret_cast<const char*>(v.sub(data, sz->value).bytes().data()),
                       sz->value);
      p = data + sz->value;
    }
    while (!doctype.empty() && doctype.back() == '\0') doctype.pop_back();
    if (doctype == "webm") {
      r.set_type(types()[1]);
    } else if (doctype != "matroska") {
      return fail(r, 4, "EBML doctype is not matroska or webm");
    }
    auto sid = vint(v, hend, true);
    if (!sid) return more(r, v, hend + 12);
    if (sid->value != 0x18538067) return fail(r, hend, "no Segment after the EBML header");
    auto ss = vint(v, hend + sid->len, false);
    if (!ss) return more(r, v, hend + 12);
    uint64_t body = hend + sid->len + ss->len;
    uint64_t end = ss->unknown ? kMaxContainer : body + ss->value;
    if (end > kMaxContainer) return fail(r, hend, "segment size out of range");
    // Walk the segment's children: they must tile it (or, for unknown size, run until a non-child).
    uint64_t p = body;
    bool cluster = false, tracks = false;
    for (uint32_t n = 0; p < end && n < 10'000'000; ++n) {
      auto id = vint(v, p, true);
      auto sz = id ? vint(v, p + id->len, false) : std::nullopt;
      if (!id || !sz) {
        if (!v.has(p, 12) && !v.ends_data()) return more(r, v, p + 12);
        if (ss->unknown && !v.has(p, 1)) break;
        return fail(r, p, "bad element in segment");
      }
      if (!segment_child(id->value)) {
        if (ss->unknown) break;
        return fail(r, p, "unknown element in segment");
      }
      if (id->value == 0x1F43B675) cluster = true;
      if (id->value == 0x1654AE6B) tracks = true;
      if (sz->unknown) return fail(r, p, "element of unknown size inside the segment");
      uint64_t next = p + id->len + sz->len + sz->value;
      if (next > end) return fail(r, p, "element runs past the segment");
      if (!v.has(0, std::min<uint64_t>(next, end))) return more(r, v, next + 12);
      p = next;
    }
    if (!tracks || !cluster) return fail(r, body, "segment without tracks or clusters");
    if (ss->unknown) r.warnings.push_back("segment of unknown size; end found by its children");
    return done(r, p);
  }
};

}  // namespace

std::unique_ptr<Walker> make_riff_walker() {
  return std::make_unique<RiffWalker>();
}
std::unique_ptr<Walker> make_isobmff_walker() {
  return std::make_unique<IsoBmffWalker>();
}
std::unique_ptr<Walker> make_asf_walker() {
  return std::make_unique<AsfWalker>();
}
std::unique_ptr<Walker> make_ebml_walker() {
  return std::make_unique<EbmlWalker>();
}

}  // namespace safehold::carve
