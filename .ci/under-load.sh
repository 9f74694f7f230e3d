#!/usr/bin/env bash
# Runs a command while N busy loops load the CPUs (what `stress -c N` does, without the package):
#   .ci/under-load.sh N COMMAND [ARG…]
# e.g. `.ci/under-load.sh 4 ctest --test-dir build/asan -R '^(scheduler|server|worker|tools):'`.
# The loops are started and stopped by their PIDs (and niced 0, as the tests are); the command's
# exit status is returned. Used to show that no test depends on the machine's speed
# (docs/ARCHITECTURE.md, "Tests under load").
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 N COMMAND [ARG…]" >&2; exit 1; }
n=$1
shift
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
for ((i = 0; i < n; i++)); do
  bash -c 'while :; do :; done' &
  pids+=($!)
done
echo "under-load: $n busy loops (PIDs ${pids[*]}) while running: $*" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
