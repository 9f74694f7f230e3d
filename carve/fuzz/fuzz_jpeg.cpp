// libFuzzer target for the jpeg walker (built with -DVIGIL_FUZZ=ON and clang; see carve/fuzz/run.sh).
#include "carve/fuzz/fuzz_walker.hpp"

VIGIL_WALKER_FUZZER(make_jpeg_walker)
