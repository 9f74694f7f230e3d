#!/usr/bin/env bash
# ThreadSanitizer build of the fs and carve tests (and the binary they run), then those tests.
# The libraries Safehold calls (libtsk, libewf, SQLite) are not instrumented; their internal
# synchronisation is invisible to TSan; tests/tsan.supp is where a library frame that reports a race
# TSan cannot see through is named, with the reason (glibc's time-zone lock). usage: .ci/tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TSAN_BUILD:-build/tsan}
# SAFEHOLD_LEAN: without the queue, server and worker, which the fs and carve tests never run.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAFEHOLD_TSAN=ON -DSAFEHOLD_LEAN=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target safehold test_fs test_carve
export SAFEHOLD_FIXTURES=${SAFEHOLD_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(pwd)/tests/tsan.supp"
ctest --test-dir "$build" -R '^(fs|carve):' --output-on-failure -j "${JOBS:-2}" --timeout 3600
