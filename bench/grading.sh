#!/usr/bin/env bash
# Grading (docs/grading.md): a case of 20,000 synthetic pictures in 2,000 near-duplicate clusters
# plus 5,000 known ones, recorded as one device's findings; key presses one grader needs to grade
# everything once (one per cluster shown) against one per picture, and the next-cluster latency
# (p50, p99) with 4 graders grading at once (one connection each), on SQLite and, when
# tests/services/postgres.sh can start one, on PostgreSQL.
# usage: bench/grading.sh [UNKNOWN CLUSTERS KNOWN GRADERS VOTES]  (BUILD=build/release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
GB=$BUILD/bench/safehold_bench_grading
[ -x "$GB" ] || { echo "grading.sh: $GB not built (cmake --build $BUILD --target safehold_bench_grading)" >&2; exit 1; }
work=$(mktemp -d /tmp/safehold-gbench-XXXXXX)
export SAFEHOLD_SERVICE_ENV=$work/services.env
: >"$SAFEHOLD_SERVICE_ENV"
cleanup() { [ -n "${PG:-}" ] && bash tests/services/postgres.sh stop || true; rm -rf "$work"; }
trap cleanup EXIT
echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "-- SQLite"
SAFEHOLD_AUDIT_ANCHOR=none "$GB" "sqlite:$work/q.db" "$@"
if PG=1 bash tests/services/postgres.sh start >/dev/null 2>&1; then
  set -a; source "$SAFEHOLD_SERVICE_ENV"; set +a
  db=safehold_gbench_$$
  psql "$SAFEHOLD_TEST_PG_URL" -qc "CREATE DATABASE $db"
  echo "-- PostgreSQL"
  "$GB" "${SAFEHOLD_TEST_PG_URL%/*}/$db" "$@"
else
  PG=
  echo "-- PostgreSQL: not available (tests/services/postgres.sh start failed)"
fi
