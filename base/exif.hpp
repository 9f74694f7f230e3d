// A small, bounds-checked EXIF reader (for VICS exports and timelines): the camera, software, dates
// and GPS position of a JPEG, as (name, value) pairs in the order found. Damaged EXIF gives fewer
// pairs, never an error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace safehold::base {

std::vector<std::pair<std::string, std::string>> read_exif(std::span<const uint8_t> jpeg);

}  // namespace safehold::base
