#!/usr/bin/env bash
# `make bench`: every benchmark against its peer tools, in turn. Results go to the terminal; the
# numbers recorded in docs/BENCHMARKS.md come from these scripts (each says its own command).
set -uo pipefail
cd "$(dirname "$0")/.."
export SAFEHOLD=${SAFEHOLD:-build/release/tools/safehold}
status=0
for b in bench/read.sh bench/acquire.sh bench/carve.sh bench/chat.sh bench/hashset.sh bench/queue.sh bench/serve.sh; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b" || { echo "$b failed" >&2; status=1; }
done
exit $status
