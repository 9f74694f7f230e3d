#!/usr/bin/env bash
# Hash-set benchmark: a generated N-entry MD5 list (default 50 million): `safehold hashset import`
# time and lookup rates with random present and absent hashes, against The Sleuth Kit's hfind
# (index build with `hfind -i md5sum`, lookups with `hfind -f`) in the same run.
# Usage: bench/hashset.sh            (N=50000000 PROBES=20000000 HFIND_PROBES=200000 KEEP=0)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50000000}
SEED=${SEED:-1}
PROBES=${PROBES:-20000000}
HFIND_PROBES=${HFIND_PROBES:-200000}
BUILD=${BUILD:-build/release}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/safehold-bench-hashset.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target safehold safehold_bench_hashset_gen safehold_bench_hashset_lookup >/dev/null
SAFEHOLD=$BUILD/tools/safehold
GEN=$BUILD/bench/safehold_bench_hashset_gen
LOOKUP=$BUILD/bench/safehold_bench_hashset_lookup

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", a / b}'; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; N=$N"
t0=$(now); "$GEN" 0 "$N" "$SEED" > "$WORK/list.txt"; t1=$(now)
echo "generate list: $(secs "$t0" "$t1") s, $(du -h "$WORK/list.txt" | cut -f1)"
sync

# safehold import (file in page cache for both tools: each reads it once first)
cat "$WORK/list.txt" > /dev/null
t0=$(now)
/usr/bin/time -f "%M" -o "$WORK/safehold.rss" "$SAFEHOLD" hashset import --format text "$WORK/list.txt" \
  -o "$WORK/set.vhs" --name bench
t1=$(now)
safehold_import=$(secs "$t0" "$t1")
echo "safehold import: $safehold_import s, peak RSS $(( $(cat "$WORK/safehold.rss") / 1024 )) MiB, set $(du -h "$WORK/set.vhs" | cut -f1)"

# safehold lookups (library, batched and one by one; every answer checked)
"$LOOKUP" "$WORK/set.vhs" "$N" "$SEED" "$PROBES" | tee "$WORK/lookup.txt"

# Probe lists for the CLI tools: random present lines and absent hashes.
shuf -n "$HFIND_PROBES" --random-source=<(yes) "$WORK/list.txt" > "$WORK/present.txt"
"$GEN" "$N" "$HFIND_PROBES" "$SEED" > "$WORK/absent.txt"

cli_rate() {  # tool-cmd probes-file -> lookups/s
  local t0 t1; t0=$(now); eval "$1" < "$2" > "$WORK/cli.out"; t1=$(now)
  awk -v n="$HFIND_PROBES" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n / (b - a)}'
}
v_present=$(cli_rate "$SAFEHOLD hashset lookup $WORK/set.vhs" "$WORK/present.txt")
[ "$(grep -c ' known ' "$WORK/cli.out")" = "$HFIND_PROBES" ] || { echo "safehold CLI: wrong answers"; exit 1; }
v_absent=$(cli_rate "$SAFEHOLD hashset lookup $WORK/set.vhs" "$WORK/absent.txt")
[ "$(grep -c 'not found' "$WORK/cli.out")" = "$HFIND_PROBES" ] || { echo "safehold CLI: wrong answers"; exit 1; }
echo "safehold hashset lookup (CLI, $HFIND_PROBES hashes on stdin): present $v_present/s, absent $v_absent/s"

# The peer: hfind (The Sleuth Kit 4.11) on the same list.
t0=$(now); hfind -i md5sum "$WORK/list.txt" > /dev/null; t1=$(now)
hfind_import=$(secs "$t0" "$t1")
echo "hfind -i md5sum: $hfind_import s"
h_present=$(cli_rate "hfind $WORK/list.txt" "$WORK/present.txt")
[ "$(grep -c 'Not Found' "$WORK/cli.out" || true)" = 0 ] || echo "hfind: unexpected answers"
h_absent=$(cli_rate "hfind $WORK/list.txt" "$WORK/absent.txt")
[ "$(grep -c 'Not Found' "$WORK/cli.out" || true)" = "$HFIND_PROBES" ] || echo "hfind: unexpected answers"
echo "hfind lookup ($HFIND_PROBES hashes on stdin): present $h_present/s, absent $h_absent/s"

echo "== ratios"
echo "import: hfind/safehold = $(ratio "$hfind_import" "$safehold_import")x"
echo "CLI lookups present: safehold/hfind = $(ratio "$v_present" "$h_present")x"
echo "CLI lookups absent:  safehold/hfind = $(ratio "$v_absent" "$h_absent")x"
