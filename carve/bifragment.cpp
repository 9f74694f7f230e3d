#include "carve/bifragment.hpp"

#include <vector>

#include "carve/jpeg_check.hpp"

namespace safehold::carve {
namespace {

// First SOS data offset (after the first scan header), or 0.
uint64_t first_scan_data(const ByteView& v) {
  uint64_t pos = 2;
  for (int n = 0; n < 1000 && v.has(pos, 4); ++n) {
    if (v.at(pos) != 0xFF) return 0;
    uint8_t m = v.at(pos + 1);
    if (m == 0xFF) {
      ++pos;
      continue;
    }
    auto len = v.be16(pos + 2);
    if (!len) return 0;
    if (m == 0xDA) return pos + 2 + *len;
    pos += 2 + *len;
  }
  return 0;
}

// Continues a JPEG from inside entropy-coded data at `pos` to its EOI. Returns the end (after
// EOI) or nullopt when an invalid marker, a long zero run or the view's end comes first.
std::optional<uint64_t> continue_to_eoi(const ByteView& v, uint64_t pos, uint64_t limit,
                                        uint64_t* budget) {
  uint64_t zeros = 0;
  bool in_scan = true;
  const uint64_t start = pos;
  while (v.has(pos, 2)) {
    if (pos - start >= limit || *budget == 0) return std::nullopt;
    --*budget;
    if (in_scan) {
      uint8_t b = v.at(pos);
      if (b != 0xFF) {
        zeros = b == 0 ? zeros + 1 : 0;
        if (zeros > 4096) return std::nullopt;
        ++pos;
        continue;
      }
      uint8_t n = v.at(pos + 1);
      if (n == 0x00 || (n >= 0xD0 && n <= 0xD7)) {
        pos += 2;
        continue;
      }
      if (n == 0xFF) {
        ++pos;
        continue;
      }
      in_scan = false;
    }
    uint8_t m = v.at(pos + 1);
    if (v.at(pos) != 0xFF) return std::nullopt;
    if (m == 0xD9) return pos + 2;
    // Progressive files: tables and further scans between scans.
    if (!(m == 0xC4 || m == 0xDB || m == 0xDD || m == 0xDA || (m >= 0xE0 && m <= 0xEF) ||
          m == 0xFE))
      return std::nullopt;
    auto len = v.be16(pos + 2);
    if (!len || *len < 2) return std::nullopt;
    pos += 2 + *len;
    if (m == 0xDA) in_scan = true;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Bifragment> find_bifragment(const ByteView& v, uint64_t error_at,
                                          const BifragmentLimits& lim) {
  const uint64_t bs = lim.block ? lim.block : 512;
  uint64_t data = first_scan_data(v);
  if (data == 0 || error_at <= data) return std::nullopt;
  uint32_t decodes = 0;
  uint64_t budget = lim.max_scan;
  std::vector<std::byte> joined;
  uint64_t split = (error_at / bs) * bs;
  for (uint32_t s = 0; s < lim.max_splits && split > data; ++s, split -= bs) {
    for (uint64_t gap = bs; gap <= lim.max_gap && v.has(split + gap, 2); gap += bs) {
      auto end = continue_to_eoi(v, split + gap, lim.max_fragment, &budget);
      if (budget == 0) return std::nullopt;
      if (!end) continue;
      if (++decodes > lim.max_decodes) return std::nullopt;
      auto a = v.prefix(split).bytes();
      auto b = v.sub(split + gap, *end - split - gap).bytes();
      joined.assign(a.begin(), a.end());
      joined.insert(joined.end(), b.begin(), b.end());
      JpegCheck c = check_jpeg(joined);
      if (c.ok && c.end == joined.size()) return Bifragment{split, gap, *end};
    }
  }
  return std::nullopt;
}

}  // namespace safehold::carve
