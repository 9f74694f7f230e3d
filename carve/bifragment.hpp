// Bifragment gap carving for JPEG (as PhotoRec's brute force does): a JPEG whose walk fails is
// tried as fragment 1 = [0, split) followed, after a gap, by fragment 2 = [split + gap, end),
// with split and gap on block boundaries. A cheap marker scan rejects most trials; survivors must
// decode without a single libjpeg warning.
#pragma once

#include <cstdint>
#include <optional>

#include "carve/view.hpp"

namespace safehold::carve {

struct Bifragment {
  uint64_t split = 0;  // fragment 1 is [0, split)
  uint64_t gap = 0;    // fragment 2 starts at split + gap
  uint64_t end = 0;    // and ends (EOI included) at end, relative to the view start
};

struct BifragmentLimits {
  uint64_t block = 512;
  uint64_t max_gap = 8ull << 20;
  uint32_t max_splits = 64;
  uint32_t max_decodes = 512;
  uint64_t max_scan = 512ull << 20;  // bytes the marker scans may read in all
  uint64_t max_fragment = 64ull << 20;
};

// v: the bytes from the JPEG's SOI on; error_at: where its plain walk found damage.
std::optional<Bifragment> find_bifragment(const ByteView& v, uint64_t error_at,
                                          const BifragmentLimits& lim);

}  // namespace safehold::carve
