// Shared body of the per-walker libFuzzer targets: every walk must end, stay inside the view and
// report a length within it; a JPEG walk also feeds fragment recovery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "carve/bifragment.hpp"
#include "carve/walker.hpp"

namespace safehold::carve::fuzz {

inline void walk_all(const Walker& w, const uint8_t* data, size_t size) {
  std::span<const std::byte> s(reinterpret_cast<const std::byte*>(data), size);
  for (bool end : {false, true}) {
    ByteView v(s, {}, end);
    (void)w.probe(v);
    WalkResult r = w.walk(v);
    if ((r.verdict == Verdict::valid || r.verdict == Verdict::truncated) && r.length > size)
      std::abort();
    for (auto& e : r.embedded)
      if (e.offset + e.length > size) std::abort();
    if (w.name() == "jpeg" && end && r.verdict == Verdict::invalid && r.error_at > 0) {
      BifragmentLimits lim;
      lim.max_gap = 64 * 1024;
      lim.max_splits = 4;
      lim.max_decodes = 4;
      auto b = find_bifragment(v, r.error_at, lim);
      if (b && (b->end > size || b->split + b->gap > b->end)) std::abort();
    }
  }
}

}  // namespace safehold::carve::fuzz

#define SAFEHOLD_WALKER_FUZZER(factory)                                     \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    static const auto walker = safehold::carve::factory();                  \
    safehold::carve::fuzz::walk_all(*walker, data, size);                   \
    return 0;                                                               \
  }
