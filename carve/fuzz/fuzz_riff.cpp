// libFuzzer target for the riff walker (built with -DVIGIL_FUZZ=ON and clang; see carve/fuzz/run.sh).
#include "carve/fuzz/fuzz_walker.hpp"

VIGIL_WALKER_FUZZER(make_riff_walker)
