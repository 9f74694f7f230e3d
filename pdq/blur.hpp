// PDQ's blur and decimation (internal to pdq/): the reference's two Jarosz box-filter passes
// (rows then columns, twice) and its 64x64 sampling, with the same floating-point operations per
// sample as the reference, arranged to touch memory as little as possible.
#pragma once

#include "pdq/pdq.hpp"

namespace safehold::pdq::detail {

// The reference's box-filter window for a dimension of `dim` pixels.
inline int jarosz_window(int dim) {
  return (dim + 2 * 64 - 1) / (2 * 64);
}

// The workspace of the calling thread, for the calls that take none.
Workspace& thread_workspace();

// Blurs `luma` (width x height, row-major; overwritten) as the reference's jaroszFilterFloat
// with two repetitions does, and stores the reference's 64x64 decimation of the result in
// `small`. Needs width and height of at least 5.
void blur_and_sample(float* luma, int width, int height, Workspace& ws, float (&small)[64][64]);

}  // namespace safehold::pdq::detail
