// libFuzzer target for video frame hashing (built with -DSAFEHOLD_FUZZ=ON and clang; see
// .ci/fuzz.sh). Any byte string is a "video": hash_video must stay in bounds, end, and either
// return frames or throw VideoError; the bounds are small so that a fuzzed claim of a huge
// picture or frame count is refused quickly.
#include <cstddef>
#include <cstdint>
#include <span>

#include "pdq/video.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  safehold::pdq::VideoOptions opts;
  opts.threads = 1;
  opts.max_side = 1024;
  opts.max_pixels = 256 * 256;
  opts.max_frames = 2000;
  try {
    auto v = safehold::pdq::hash_video(std::span<const uint8_t>(data, size), "fuzz", opts);
    if (v.frames.empty() || v.info.decoded_frames == 0) __builtin_trap();  // an error, not empty
    for (const auto& f : v.frames)
      if (f.quality < 0 || f.quality > 100) __builtin_trap();
  } catch (const safehold::pdq::VideoError&) {
  }
  return 0;
}
