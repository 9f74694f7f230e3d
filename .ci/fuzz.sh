#!/usr/bin/env bash
# Builds every libFuzzer target (each module's fuzz/*.cpp) with clang, ASan and UBSan, seeds them
# from each module's fuzz/seeds.sh, and runs each for SECONDS (default 20; CI uses a few).
#   usage: .ci/fuzz.sh [SECONDS]      (also `make fuzz`; FUZZ_BUILD, JOBS, FUZZ_SKIP="fuzz_a fuzz_b")
# A crash, leak, timeout or out-of-memory fails the run and prints the fuzzer's last lines; the
# crashing input is kept under $FUZZ_BUILD/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-20}}
build=${FUZZ_BUILD:-build/fuzz}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSAFEHOLD_FUZZ=ON -DSAFEHOLD_WERROR=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
mapfile -t targets < <(ninja -C "$build" -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): .*/\1/p' | sort -u)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
for s in */fuzz/seeds.sh; do bash "$s" "$seeds"; done
mkdir -p "$build/crashes"
status=0
for t in "${targets[@]}"; do
  if [[ " ${FUZZ_SKIP:-} " == *" $t "* ]]; then echo "$t: skipped (FUZZ_SKIP)"; continue; fi
  exe=$(realpath "$(find "$build" -type f -name "$t" -perm -u+x | head -1)")
  corpus="$seeds/${t#fuzz_}"
  mkdir -p "$corpus"
  echo "$t: ${secs}s, $(ls "$corpus" | wc -l) seed(s)"
  if ! (cd "$build/crashes" && "$exe" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=0 "$corpus" >"$seeds/$t.log" 2>&1); then
    tail -40 "$seeds/$t.log"
    status=1
  fi
done
[ $status = 0 ] && echo "fuzz: ${#targets[@]} target(s) ran ${secs}s each without a finding"
exit $status
