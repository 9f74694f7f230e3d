#include "carve/walkers/tiff.hpp"

#include <set>

#include "carve/walker.hpp"

namespace safehold::carve {
namespace {

constexpr uint32_t kMaxIfds = 256;
constexpr uint32_t kMaxEntries = 4096;

uint32_t type_size(uint16_t t) {
  switch (t) {
    case 1:
    case 2:
    case 6:
    case 7:
      return 1;
    case 3:
    case 8:
      return 2;
    case 4:
    case 9:
    case 11:
    case 13:
      return 4;
    case 5:
    case 10:
    case 12:
    case 16:
    case 17:
    case 18:
      return 8;
    default:
      return 0;
  }
}

struct TiffWalk {
  const ByteView& v;
  bool big;
  TiffInfo info;
  std::set<uint64_t> seen;
  std::vector<std::pair<uint64_t, int>> todo;  // {ifd offset, kind: 0 main chain, 1 sub}

  void touch(uint64_t end) {
    if (end > info.end) info.end = end;
  }

  std::vector<uint64_t> values(uint16_t type, uint32_t count, uint64_t at) {
    std::vector<uint64_t> out;
    uint32_t sz = type_size(type);
    if (sz != 2 && sz != 4 && sz != 8) return out;
    for (uint32_t i = 0; i < count && i < 65536; ++i) {
      uint64_t p = at + uint64_t{i} * sz;
      std::optional<uint64_t> x;
      if (sz == 2) {
        if (auto y = v.u16e(p, big)) x = *y;
      } else if (sz == 4) {
        if (auto y = v.u32e(p, big)) x = *y;
      } else if (type == 16 || type == 17 || type == 18) {
        if (auto y = big ? v.be64(p) : v.le64(p)) x = *y;
      }
      if (!x) {
        info.beyond_view = true;
        break;
      }
      out.push_back(*x);
    }
    return out;
  }

  bool ifd(uint64_t off, bool chain) {
    while (off != 0) {
      if (!seen.insert(off).second) return true;  // a loop: stop following, not an error
      if (++info.ifds > kMaxIfds) return true;
      auto n = v.u16e(off, big);
      if (!n) {
        info.beyond_view = true;
        return true;
      }
      if (*n == 0 || *n > kMaxEntries) {
        info.error = "IFD at " + std::to_string(off) + " has " + std::to_string(*n) + " entries";
        return false;
      }
      uint64_t end = off + 2 + uint64_t{*n} * 12 + 4;
      touch(end);
      std::vector<uint64_t> strip_off, strip_len;
      std::optional<uint64_t> jpeg_off, jpeg_len;
      for (uint32_t i = 0; i < *n; ++i) {
        uint64_t e = off + 2 + uint64_t{i} * 12;
        auto tag = v.u16e(e, big), type = v.u16e(e + 2, big);
        auto count = v.u32e(e + 4, big);
        if (!tag || !type || !count) {
          info.beyond_view = true;
          return true;
        }
        uint64_t bytes = uint64_t{type_size(static_cast<uint16_t>(*type))} * *count;
        uint64_t at = e + 8;
        if (bytes > 4) {
          auto p = v.u32e(e + 8, big);
          at = p.value_or(0);
          touch(at + bytes);
        }
        switch (*tag) {
          case 0x0111:
          case 0x0144:
            strip_off = values(static_cast<uint16_t>(*type), *count, at);
            break;
          case 0x0117:
          case 0x0145:
            strip_len = values(static_cast<uint16_t>(*type), *count, at);
            break;
          case 0x0201:
            if (auto x = values(static_cast<uint16_t>(*type), 1, at); !x.empty()) jpeg_off = x[0];
            break;
          case 0x0202:
            if (auto x = values(static_cast<uint16_t>(*type), 1, at); !x.empty()) jpeg_len = x[0];
            break;
          case 0x8769:
          case 0x8825:
          case 0xA005:
          case 0x014A:  // EXIF, GPS, interop, SubIFDs
            for (uint64_t x :
                 values(static_cast<uint16_t>(*type), std::min<uint32_t>(*count, 64), at))
              todo.push_back({x, 1});
            break;
          default:
            break;
        }
      }
      for (size_t i = 0; i < strip_off.size() && i < strip_len.size(); ++i) {
        touch(strip_off[i] + strip_len[i]);
        info.has_image_data = true;
      }
      if (jpeg_off && jpeg_len && *jpeg_len > 0) {
        touch(*jpeg_off + *jpeg_len);
        if (chain && info.ifds >= 2 && !info.thumbnail) info.thumbnail = {{*jpeg_off, *jpeg_len}};
        info.has_image_data = true;
      }
      auto next = v.u32e(end - 4, big);
      if (!next) {
        info.beyond_view = true;
        return true;
      }
      if (!chain) return true;
      off = *next;
    }
    return true;
  }
};

}  // namespace

TiffInfo parse_tiff(const ByteView& v) {
  bool big;
  if (v.matches(0, "II*\0"))
    big = false;
  else if (v.matches(0, std::string_view("MM\0*", 4)))
    big = true;
  else {
    TiffInfo t;
    t.error = "no TIFF header";
    return t;
  }
  TiffWalk w{v, big, {}, {}, {}};
  auto first = v.u32e(4, big);
  if (!first || *first < 8) {
    w.info.error = "bad first IFD offset";
    return w.info;
  }
  w.touch(8);
  if (!w.ifd(*first, true)) return w.info;
  for (size_t i = 0; i < w.todo.size() && i < kMaxIfds; ++i)
    if (!w.ifd(w.todo[i].first, false)) return w.info;
  w.info.ok = true;
  if (w.info.end > v.size()) w.info.beyond_view = true;
  return w.info;
}

namespace {

class TiffWalker final : public Walker {
 public:
  std::string_view name() const override { return "tiff"; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {{"tiff",
                                  "tif",
                                  "image/tiff",
                                  {},
                                  {"tif", "tiff", "dng", "nef", "cr2", "arw", "orf", "rw2", "pef",
                                   "srw", "raf", "3fr", "erf"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "IM"; }
  size_t header_size() const override { return 16; }
  bool probe(const ByteView& v) const override {
    if (!(v.matches(0, std::string_view("II*\0", 4)) || v.matches(0, std::string_view("MM\0*", 4))))
      return false;
    bool big = v.at(0) == 'M';
    auto first = v.u32e(4, big);
    return first && *first >= 8 && *first < (1u << 30);
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r;
    r.set_type(types()[0]);
    TiffInfo t = parse_tiff(v);
    if (!t.ok) {
      r.verdict = Verdict::invalid;
      r.warnings.push_back(t.error);
      return r;
    }
    if (t.end > (4ull << 30)) {
      r.verdict = Verdict::invalid;
      r.warnings.push_back("TIFF claims " + std::to_string(t.end) + " bytes");
      return r;
    }
    if (t.beyond_view) {
      r.verdict = Verdict::need_more;
      r.need = std::max<uint64_t>(t.end, v.size() * 2 + 4096);
      return r;
    }
    if (!t.has_image_data) {
      r.verdict = Verdict::invalid;
      r.warnings.push_back("TIFF without image data");
      return r;
    }
    r.verdict = Verdict::valid;
    r.length = t.end;
    return r;
  }
};

}  // namespace

std::unique_ptr<Walker> make_tiff_walker() {
  return std::make_unique<TiffWalker>();
}

}  // namespace safehold::carve
