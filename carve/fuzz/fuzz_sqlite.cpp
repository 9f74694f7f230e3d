// libFuzzer target for the sqlite walker (built with -DVIGIL_FUZZ=ON and clang; see carve/fuzz/run.sh).
#include "carve/fuzz/fuzz_walker.hpp"

VIGIL_WALKER_FUZZER(make_sqlite_walker)
