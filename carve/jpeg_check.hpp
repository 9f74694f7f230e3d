// Full JPEG decode check through libjpeg-turbo (at 1/8 scale: the entropy decoder still sees every
// bit). Any warning (corrupt data, extraneous bytes, premature end) counts as a failure: it is
// what separates a whole JPEG from one whose middle is missing or belongs to another file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace safehold::carve {

struct JpegCheck {
  bool ok = false;
  std::string message;    // libjpeg's first complaint
  uint64_t error_at = 0;  // bytes consumed when it complained (approximate error position)
  uint64_t end = 0;       // bytes consumed through EOI when ok
  uint32_t width = 0, height = 0;
  bool progressive = false;
};

// Limits keep crafted headers from costing unbounded memory or time.
JpegCheck check_jpeg(std::span<const std::byte> data, uint64_t max_pixels = 200'000'000ull);

}  // namespace safehold::carve
