#!/usr/bin/env bash
# Runs the ctest suite of BUILD_DIR after starting the services the tests need
# (tests/services/*.sh start|stop; each exports its variables through tests/services/env).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/asan}
JOBS=${JOBS:-2}
export SAFEHOLD_FIXTURES=${SAFEHOLD_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
envfile=$(mktemp)
export SAFEHOLD_SERVICE_ENV=$envfile
cleanup() {
  for s in tests/services/*.sh; do [ -e "$s" ] && bash "$s" stop || true; done
  rm -f "$envfile"
}
trap cleanup EXIT
for s in tests/services/*.sh; do
  [ -e "$s" ] || continue
  bash "$s" start
done
set -a; source "$envfile"; set +a
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 1800
