#include "base/exif.hpp"

#include <fmt/core.h>

#include <cstring>
#include <optional>

namespace safehold::base {

namespace {

// The TIFF structure inside an APP1 "Exif\0\0" segment.
class Tiff {
 public:
  explicit Tiff(std::span<const uint8_t> d) : d_(d) {
    if (d.size() >= 8 && d[0] == 'I' && d[1] == 'I')
      le_ = true;
    else if (d.size() >= 8 && d[0] == 'M' && d[1] == 'M')
      le_ = false;
    else
      return;
    ok_ = u16(2) == 42;
  }
  bool ok() const { return ok_; }
  std::optional<uint32_t> u32(size_t off) const {
    if (off > d_.size() || d_.size() - off < 4) return std::nullopt;
    const uint8_t* p = d_.data() + off;
    return le_ ? (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                  uint32_t{p[3]} << 24)
               : (uint32_t{p[3]} | uint32_t{p[2]} << 8 | uint32_t{p[1]} << 16 |
                  uint32_t{p[0]} << 24);
  }
  uint16_t u16(size_t off) const {
    if (off > d_.size() || d_.size() - off < 2) return 0;
    const uint8_t* p = d_.data() + off;
    return le_ ? static_cast<uint16_t>(p[0] | p[1] << 8) : static_cast<uint16_t>(p[1] | p[0] << 8);
  }

  struct Entry {
    uint16_t tag, type;
    uint32_t count;
    size_t value_off;  // where the value lives (inline or at the offset)
  };

  // The entries of the IFD at offset `off` (at most 512, bounds-checked).
  std::vector<Entry> ifd(size_t off) const {
    std::vector<Entry> out;
    uint16_t n = u16(off);
    if (off + 2 + size_t{n} * 12 > d_.size() || n > 512) return out;
    for (uint16_t i = 0; i < n; ++i) {
      size_t e = off + 2 + size_t{i} * 12;
      Entry en{u16(e), u16(e + 2), u32(e + 4).value_or(0), e + 8};
      static const size_t sizes[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
      size_t unit = en.type < 13 ? sizes[en.type] : 0;
      if (!unit || en.count > (1u << 20)) continue;
      if (unit * en.count > 4) en.value_off = u32(e + 8).value_or(UINT32_MAX);
      if (en.value_off > d_.size() || d_.size() - en.value_off < unit * en.count) continue;
      out.push_back(en);
    }
    return out;
  }

  std::string ascii(const Entry& e) const {
    std::string s(reinterpret_cast<const char*>(d_.data() + e.value_off),
                  e.type == 2 ? e.count : 0);
    while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
    return s;
  }
  double rational(const Entry& e, uint32_t i) const {
    uint32_t num = u32(e.value_off + i * 8).value_or(0),
             den = u32(e.value_off + i * 8 + 4).value_or(0);
    return den ? static_cast<double>(num) / den : 0;
  }

 private:
  std::span<const uint8_t> d_;
  bool le_ = true, ok_ = false;
};

std::optional<std::span<const uint8_t>> find_app1_exif(std::span<const uint8_t> j) {
  if (j.size() < 4 || j[0] != 0xff || j[1] != 0xd8) return std::nullopt;
  size_t p = 2;
  while (p + 4 <= j.size() && j[p] == 0xff) {
    uint8_t marker = j[p + 1];
    if (marker == 0xda || marker == 0xd9) break;
    size_t len = size_t{j[p + 2]} << 8 | j[p + 3];
    if (len < 2 || p + 2 + len > j.size()) break;
    if (marker == 0xe1 && len >= 8 && std::memcmp(&j[p + 4], "Exif\0\0", 6) == 0)
      return j.subspan(p + 10, len - 8);
    p += 2 + len;
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> read_exif(std::span<const uint8_t> jpeg) {
  std::vector<std::pair<std::string, std::string>> out;
  auto seg = find_app1_exif(jpeg);
  if (!seg) return out;
  Tiff t(*seg);
  if (!t.ok()) return out;
  auto ifd0 = t.u32(4);
  if (!ifd0) return out;
  std::optional<uint32_t> exif_ifd, gps_ifd;
  for (auto& e : t.ifd(*ifd0)) {
    switch (e.tag) {
      case 0x010f:
        out.emplace_back("Make", t.ascii(e));
        break;
      case 0x0110:
        out.emplace_back("Model", t.ascii(e));
        break;
      case 0x0131:
        out.emplace_back("Software", t.ascii(e));
        break;
      case 0x0132:
        out.emplace_back("DateTime", t.ascii(e));
        break;
      case 0x0112:
        if (e.type == 3) out.emplace_back("Orientation", std::to_string(t.u16(e.value_off)));
        break;
      case 0x8769:
        exif_ifd = t.u32(e.value_off);
        break;
      case 0x8825:
        gps_ifd = t.u32(e.value_off);
        break;
    }
  }
  if (exif_ifd)
    for (auto& e : t.ifd(*exif_ifd)) {
      if (e.tag == 0x9003) out.emplace_back("DateTimeOriginal", t.ascii(e));
      if (e.tag == 0x9004) out.emplace_back("DateTimeDigitized", t.ascii(e));
    }
  if (gps_ifd) {
    std::string lat_ref, lon_ref;
    std::optional<double> lat, lon;
    for (auto& e : t.ifd(*gps_ifd)) {
      if (e.tag == 1) lat_ref = t.ascii(e);
      if (e.tag == 3) lon_ref = t.ascii(e);
      if ((e.tag == 2 || e.tag == 4) && e.type == 5 && e.count == 3) {
        double v = t.rational(e, 0) + t.rational(e, 1) / 60 + t.rational(e, 2) / 3600;
        (e.tag == 2 ? lat : lon) = v;
      }
    }
    if (lat) out.emplace_back("GPSLatitude", fmt::format("{:.6f}", lat_ref == "S" ? -*lat : *lat));
    if (lon) out.emplace_back("GPSLongitude", fmt::format("{:.6f}", lon_ref == "W" ? -*lon : *lon));
  }
  std::erase_if(out, [](auto& p) { return p.second.empty(); });
  return out;
}

}  // namespace safehold::base
