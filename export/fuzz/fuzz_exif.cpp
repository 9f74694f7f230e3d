// libFuzzer target for the EXIF reader of exports (built with -DSAFEHOLD_FUZZ=ON and clang; see
// .ci/fuzz.sh). Any byte string is a "JPEG": read_exif must stay in bounds and never throw.
#include <cstddef>
#include <cstdint>
#include <span>

#include "export/exif.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto pairs = safehold::exports::read_exif(std::span<const uint8_t>(data, size));
  for (const auto& [name, value] : pairs)
    if (name.empty() && value.size() > size + 64) __builtin_trap();  // values come from the input
  return 0;
}
