// Thread helpers shared by the pipelines (fs/reader.cpp, acquire/acquire.cpp).
#pragma once

namespace vigil::fs {

// Raises the calling thread's nice value by `by` (Linux nice values are per thread), so that a
// pipeline's sequential stage (a digest) gets a core before the parallel work (compression,
// decompression) whenever both can run. Failure is harmless and ignored.
void lower_this_thread_priority(int by);

}  // namespace vigil::fs
