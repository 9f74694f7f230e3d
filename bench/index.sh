#!/usr/bin/env bash
# The queue's PDQ index (scheduler/pdq_index.hpp): N random PDQ hashes plus planted
# near-duplicates (distance 0..31) and decoys (32..40) for every query; queries per second of
# multi-index hashing on 1 and 2 threads, recall of the planted matches, and identical answers to
# the brute-force loop on a sample (whose rate is printed too). Built like the Release build.
# usage: bench/index.sh [N] [QUERIES] [BRUTE]   (defaults 10000000 10000 50)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000000}
QUERIES=${2:-10000}
BRUTE=${3:-50}
out=$(mktemp -d /tmp/safehold-bench-index-XXXXXX)
trap 'rm -rf "$out"' EXIT
g++ -std=c++20 -O3 -DNDEBUG -mpopcnt -I. bench/pdq_index.cpp scheduler/pdq_index.cpp -o "$out/index" -pthread
echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for threads in 1 2; do
  echo "-- $threads thread(s)"
  "$out/index" "$N" "$QUERIES" "$BRUTE" "$threads"
done
