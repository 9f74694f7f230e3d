// PNG (chunks to IEND, CRC-32 of each), GIF (blocks to the trailer), BMP (header sizes).
#include <zlib.h>

#include "carve/walker.hpp"

namespace safehold::carve {
namespace {

WalkResult start(const TypeInfo& t) {
  WalkResult r;
  r.set_type(t);
  return r;
}

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

bool is_alpha(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

class PngWalker final : public Walker {
 public:
  std::string_view name() const override { return "png"; }
  size_t header_size() const override { return 16; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {{"png", "png", "image/png", {}, {"png", "apng"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "\x89"; }
  bool probe(const ByteView& v) const override {
    return v.matches(0, "\x89PNG\r\n\x1a\n") && v.matches(12, "IHDR");
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r = start(types()[0]);
    if (!probe(v)) return fail(r, 0, "no PNG signature");
    uint64_t pos = 8;
    bool idat = false;
    for (uint32_t n = 0;; ++n) {
      auto len = v.be32(pos);
      if (!len || !v.has(pos + 4, 4)) return more(r, v, pos + 12);
      if (*len > 0x7FFFFFFFu) return fail(r, pos, "chunk length above 2^31");
      for (int i = 0; i < 4; ++i)
        if (!is_alpha(v.at(pos + 4 + i))) return fail(r, pos, "chunk type is not 4 letters");
      uint64_t end = pos + 12 + *len;
      if (!v.has(pos, end - pos)) return more(r, v, end);
      auto body = v.sub(pos + 4, 4 + uint64_t{*len}).bytes();
      uint32_t crc = static_cast<uint32_t>(
          crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
      if (crc != *v.be32(pos + 8 + *len))
        return fail(r, pos, "CRC mismatch in chunk at " + std::to_string(pos));
      if (v.matches(pos + 4, "IDAT")) idat = true;
      if (v.matches(pos + 4, "IEND")) {
        if (!idat) return fail(r, pos, "no IDAT chunk");
        r.verdict = Verdict::valid;
        r.length = end;
        return r;
      }
      pos = end;
    }
  }
};

class GifWalker final : public Walker {
 public:
  std::string_view name() const override { return "gif"; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {{"gif", "gif", "image/gif", {}, {"gif"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "G"; }
  size_t header_size() const override { return 13; }
  bool probe(const ByteView& v) const override {
    return (v.matches(0, "GIF87a") || v.matches(0, "GIF89a")) && v.has(0, 13);
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r = start(types()[0]);
    if (!probe(v)) return fail(r, 0, "no GIF signature");
    uint64_t pos = 13;
    uint8_t flags = v.at(10);
    if (flags & 0x80) pos += 3ull << ((flags & 7) + 1);
    uint32_t images = 0;
    // Sub-blocks: length byte then data, until a zero length.
    auto blocks = [&](uint64_t p) -> std::optional<uint64_t> {
      for (;;) {
        auto n = v.u8(p);
        if (!n) return std::nullopt;
        if (*n == 0) return p + 1;
        p += 1 + *n;
      }
    };
    for (;;) {
      auto b = v.u8(pos);
      if (!b) return more(r, v, pos + 1);
      if (*b == 0x3B) {
        if (images == 0) return fail(r, pos, "no image in GIF");
        r.verdict = Verdict::valid;
        r.length = pos + 1;
        return r;
      }
      if (*b == 0x21) {
        if (!v.has(pos, 2)) return more(r, v, pos + 2);
        auto e = blocks(pos + 2);
        if (!e) return more(r, v, v.size() * 2);
        pos = *e;
      } else if (*b == 0x2C) {
        if (!v.has(pos, 11)) return more(r, v, pos + 11);
        uint8_t f = v.at(pos + 9);
        uint64_t p = pos + 10;
        if (f & 0x80) p += 3ull << ((f & 7) + 1);
        auto lzw = v.u8(p);
        if (!lzw) return more(r, v, p + 1);
        if (*lzw < 2 || *lzw > 11) return fail(r, p, "bad LZW code size");
        auto e = blocks(p + 1);
        if (!e) return more(r, v, v.size() * 2);
        pos = *e;
        ++images;
      } else {
        return fail(r, pos, "unknown GIF block");
      }
    }
  }
};

class BmpWalker final : public Walker {
 public:
  std::string_view name() const override { return "bmp"; }
  std::span<const TypeInfo> types() const override {
    static const TypeInfo t[] = {{"bmp", "bmp", "image/bmp", {}, {"bmp", "dib"}}};
    return t;
  }
  std::string_view lead_bytes() const override { return "B"; }
  size_t header_size() const override { return 30; }
  bool probe(const ByteView& v) const override {
    if (!v.matches(0, "BM") || !v.has(0, 30)) return false;
    uint32_t size = *v.le32(2), off = *v.le32(10), dib = *v.le32(14);
    if (*v.le32(6) != 0) return false;
    if (!(dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 ||
          dib == 124))
      return false;
    if (off < 14 + dib || off >= size || size < 26) return false;
    uint16_t planes = dib == 12 ? *v.le16(22) : *v.le16(26);
    return planes == 1;
  }
  WalkResult walk(const ByteView& v) const override {
    WalkResult r = start(types()[0]);
    if (!probe(v)) return fail(r, 0, "no BMP header");
    uint32_t size = *v.le32(2), off = *v.le32(10), dib = *v.le32(14);
    if (size > (1u << 30)) return fail(r, 2, "BMP claims over 1 GiB");
    int64_t w, h;
    uint16_t bpp;
    uint32_t comp = 0;
    if (dib == 12) {
      w = *v.le16(18);
      h = *v.le16(20);
      bpp = *v.le16(24);
    } else {
      if (!v.has(0, 34)) return more(r, v, 34);
      w = static_cast<int32_t>(*v.le32(18));
      h = static_cast<int32_t>(*v.le32(22));
      bpp = *v.le16(28);
      comp = *v.le32(30);
    }
    if (w <= 0 || h == 0 || w > 100000 || h > 100000 || h < -100000)
      return fail(r, 18, "BMP dimensions out of range");
    if (!(bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32))
      return fail(r, 28, "bad bit depth");
    if (comp == 0) {  // uncompressed: the pixel array must fit the claimed size
      uint64_t stride = ((static_cast<uint64_t>(w) * bpp + 31) / 32) * 4;
      uint64_t need = stride * static_cast<uint64_t>(h < 0 ? -h : h);
      if (uint64_t{off} + need > size) return fail(r, 2, "pixel array larger than the file size");
    }
    if (!v.has(0, size)) return more(r, v, size);
    r.verdict = Verdict::valid;
    r.length = size;
    return r;
  }
};

}  // namespace

std::unique_ptr<Walker> make_png_walker() {
  return std::make_unique<PngWalker>();
}
std::unique_ptr<Walker> make_gif_walker() {
  return std::make_unique<GifWalker>();
}
std::unique_ptr<Walker> make_bmp_walker() {
  return std::make_unique<BmpWalker>();
}

}  // namespace safehold::carve
