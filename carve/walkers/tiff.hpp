// TIFF structure walking, shared by the TIFF walker and by JPEG's EXIF (thumbnail) reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "carve/view.hpp"

namespace safehold::carve {

struct TiffInfo {
  bool ok = false;
  std::string error;
  uint64_t end = 0;          // furthest byte referenced by any IFD, entry or strip
  bool beyond_view = false;  // something points past the view
  uint32_t ifds = 0;
  std::optional<std::pair<uint64_t, uint64_t>> thumbnail;  // IFD1 JPEG {offset, length}
  bool has_image_data = false;
};

// v starts at the TIFF header ("II*\0" or "MM\0*"). Follows IFD0..n, EXIF, GPS and SubIFDs with a
// visit limit, so crafted loops end.
TiffInfo parse_tiff(const ByteView& v);

}  // namespace safehold::carve
