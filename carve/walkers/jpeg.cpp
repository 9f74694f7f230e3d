// JPEG: SOI, marker segments, entropy-coded scans (baseline and progressive) up to EOI; then a
// full decode check. EXIF thumbnails (IFD1 of APP1 "Exif") are reported as embedded artefacts.
#include "carve/jpeg_check.hpp"
#include "carve/walker.hpp"
#include "carve/walkers/tiff.hpp"

namespace safehold::carve {
namespace {

constexpr uint64_t kMaxJpeg = 64ull << 20;
constexpr uint64_t kZeroRun = 8192;  // entropy-coded data never holds this many zero bytes in a row

// Position of a run of kZeroRun zero bytes within [from, to), or to when none.
uint64_t zero_run(const ByteView& v, uint64_t from, uint64_t to) {
  for (uint64_t i = from + kZeroRun - 1; i < to; i += kZeroRun) {
    if (v.at(i) != 0) continue;
    uint64_t a = i, b = i;
    while (a > from && v.at(a - 1) == 0) --a;
    while (b + 1 < to && v.at(b + 1) == 0 && b + 1 - a < kZeroRun) ++b;
    if (b + 1 - a >= kZeroRun) return a;
  }
  return to;
}

bool valid_marker(uint8_t m) {
  return (m >= 0xC0 && m <= 0xFE) || m == 0x01;
}

class JpegWalker final : public Walker {
 public:
  std::string_view name() const override { return "jpeg"; }
  size_t header_size() const override { return 4; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {
        {"jpeg", "jpg", "image/jpeg", {"jpg"}, {"jpg", "jpeg", "jpe", "jfif", "jif", "thm"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "\xFF"; }
  bool probe(const ByteView& v) const override {
    if (!(v.at(0) == 0xFF && v.at(1) == 0xD8 && v.at(2) == 0xFF)) return false;
    uint8_t m = v.at(3);
    return m >= 0xC0 && m != 0xFF && m != 0xD8 && m != 0xD9;
  }

  WalkResult walk(const ByteView& v) const override {
    WalkResult r;
    r.set_type(types()[0]);
    auto more = [&](uint64_t at) {
      if (v.size() >= kMaxJpeg) {
        r.verdict = Verdict::invalid;
        r.error_at = at;
        r.warnings.push_back("no EOI within " + std::to_string(kMaxJpeg) + " bytes");
        return r;
      }
      r.verdict = Verdict::need_more;
      r.need = std::max<uint64_t>(v.size() * 2, 64 * 1024);
      return r;
    };
    auto bad = [&](uint64_t at, std::string why) {
      r.verdict = Verdict::invalid;
      r.error_at = at;
      r.warnings.push_back(std::move(why));
      return r;
    };
    if (!probe(v)) return bad(0, "no SOI");
    bool seen_sof = false, seen_sos = false;
    uint64_t pos = 2;
    for (;;) {
      if (!v.has(pos, 2)) return more(pos);
      if (v.at(pos) != 0xFF) return bad(pos, "expected a marker at " + std::to_string(pos));
      while (v.at(pos + 1) == 0xFF) {  // fill bytes
        ++pos;
        if (!v.has(pos, 2)) return more(pos);
      }
      uint8_t m = v.at(pos + 1);
      if (m == 0xD9) {
        if (!seen_sof || !seen_sos) return bad(pos, "EOI before any frame or scan");
        r.length = pos + 2;
        break;
      }
      if (m == 0xD8) return bad(pos, "SOI inside a JPEG");
      if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) {
        pos += 2;
        continue;
      }
      if (!valid_marker(m)) return bad(pos, "invalid marker");
      auto len = v.be16(pos + 2);
      if (!len) return more(pos);
      if (*len < 2) return bad(pos, "segment length below 2");
      uint64_t seg = pos + 4;
      uint64_t next = pos + 2 + *len;
      if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) seen_sof = true;
      if (m == 0xE1 && v.matches(seg, std::string_view("Exif\0\0", 6)))
        exif(v.sub(seg + 6, *len - 8), seg + 6, r);
      if (m != 0xDA) {
        pos = next;
        continue;
      }
      if (!seen_sof) return bad(pos, "scan before frame header");
      seen_sos = true;
      uint64_t q = next;
      for (;;) {  // entropy-coded data: runs until a marker other than FF00 and RSTn
        uint64_t from = q;
        q = v.find(0xFF, q);
        if (q - from >= kZeroRun) {
          uint64_t z = zero_run(v, from, q);
          if (z < q) return bad(z, "long run of zero bytes in entropy-coded data");
        }
        if (!v.has(q, 2)) return more(q);
        uint8_t n = v.at(q + 1);
        if (n == 0x00 || (n >= 0xD0 && n <= 0xD7)) {
          q += 2;
          continue;
        }
        if (n == 0xFF) {
          ++q;
          continue;
        }
        break;
      }
      pos = q;
    }
    // The marker structure is whole; a full decode tells whether the data between is.
    JpegCheck c = check_jpeg(v.prefix(r.length).bytes());
    if (!c.ok) {
      r.warnings.push_back("decode: " + c.message);
      r.verdict = Verdict::invalid;
      r.error_at = c.error_at;
      // A "too large" refusal is not evidence of damage.
      if (c.message.find("not decoded") != std::string::npos) r.verdict = Verdict::valid;
      return r;
    }
    r.verdict = Verdict::valid;
    return r;
  }

 private:
  static void exif(const ByteView& tiff, uint64_t tiff_start, WalkResult& r) {
    TiffInfo t = parse_tiff(tiff);
    if (!t.ok || !t.thumbnail) return;
    auto [off, len] = *t.thumbnail;
    if (!tiff.has(off, len) || len < 4) {
      r.warnings.push_back("EXIF thumbnail outside its segment");
      return;
    }
    if (!(tiff.at(off) == 0xFF && tiff.at(off + 1) == 0xD8)) return;
    r.embedded.push_back({tiff_start + off, len, "exif_thumbnail"});
  }
};

}  // namespace

std::unique_ptr<Walker> make_jpeg_walker() {
  return std::make_unique<JpegWalker>();
}

}  // namespace safehold::carve
