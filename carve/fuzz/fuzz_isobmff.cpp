// libFuzzer target for the isobmff walker (built with -DSAFEHOLD_FUZZ=ON and clang; see
// .ci/fuzz.sh).
#include "carve/fuzz/fuzz_walker.hpp"

SAFEHOLD_WALKER_FUZZER(make_isobmff_walker)
