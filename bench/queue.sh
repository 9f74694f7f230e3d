#!/usr/bin/env bash
# Scheduler benchmark: 100,000 queued devices on SQLite and on PostgreSQL.
#   import of the CSV · re-rank of a case with 50 devices · top-50 listing (library and CLI)
#   · claim+complete throughput with 4 worker processes (one connection each)
# On PostgreSQL, in the same run and on the same server, graphile-worker (npm) drains no-op jobs
# with 4 worker processes of concurrency 1 as the peer.
# Usage: bench/queue.sh   (BUILD=build/release by default; SECONDS_PER_RUN=20; SKIP_SQLITE=1 runs
#        only the PostgreSQL phase and the peer; WORKERS=4 worker processes for Safehold and the peer;
#        ROUNDS=3 rounds on PostgreSQL)
# On PostgreSQL the two queues run in ROUNDS interleaved rounds (Safehold first in odd rounds, the
# peer first in even ones), each on a fresh copy of its 100,000 queued jobs, so that a drift of
# the machine's speed during the benchmark falls on both; it prints every round and the medians.
# On PostgreSQL it also prints the CPU time per job: the server's (every process of the cluster,
# from /proc, over the run) and the workers' (Safehold: its worker processes; the peer: its node
# processes), which compares the two when the machine is shared and wall-clock rates are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SAFEHOLD=${SAFEHOLD:-$BUILD/tools/safehold}
QB=${QB:-$BUILD/bench/safehold_queue_bench}
RUN=${SECONDS_PER_RUN:-20}
N=${N:-100000}
WORKERS=${WORKERS:-4}
ROUNDS=${ROUNDS:-3}
for b in "$SAFEHOLD" "$QB"; do
  [ -x "$b" ] || { echo "queue.sh: $b not built (cmake --build $BUILD --target safehold safehold_queue_bench)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/safehold-qbench-XXXXXX)
export SAFEHOLD_SERVICE_ENV=$work/services.env
: >"$SAFEHOLD_SERVICE_ENV"
gw_pids=()
cleanup() {
  for p in "${gw_pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  bash tests/services/postgres.sh stop || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
hz=$(getconf CLK_TCK)
# CPU ticks (user+system) of the PostgreSQL cluster: the postmaster, the children it has reaped,
# and its live children.
pg_ticks() {
  local pm t c
  pm=$(head -1 "$(cat "$SAFEHOLD_SERVICE_ENV.postgres")/data/postmaster.pid")
  t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
  for c in $(pgrep -P "$pm"); do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
ms_per_job() { awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", t / hz * 1000 / n; else print "-" }'; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# 100,000 devices: suspects of 4 devices each (one case BIG with 50), 20% of suspects at risk.
awk -v n="$N" 'BEGIN {
  srand(7); split("phone tablet computer removable other", cls, " ");
  split("very-high high medium low none", risk, " ");
  print "exhibit,case,suspect,class,risk,lives_with_children,intake_at,source";
  for (i = 0; i < 50; i++) printf "BIG-%d,BIG,BIG-S%d,%s,medium,no,%d,/dev/null\n", i, i % 2, cls[1 + i % 5], 1790000000 + i;
  for (i = 50; i < n; i++) {
    s = int(i / 4); c = int(s / 2);
    printf "D%d,C%d,S%d,%s,%s,%s,%d,/dev/null\n", i, c, s, cls[1 + int(rand() * 5)], risk[1 + c % 5],
      (s % 5 == 0 ? "yes" : "no"), 1780000000 + int(rand() * 10000000);
  }
}' >"$work/devices.csv"

declare -A R
bench_store() {  # NAME URL
  local name=$1 url=$2 t
  echo "== $name: importing $N devices"
  "$SAFEHOLD" queue init --db "$url" >/dev/null
  t=$(now); "$SAFEHOLD" queue import --csv "$work/devices.csv" --db "$url" --user bench >/dev/null
  R[$name.import]=$(elapsed "$t")
  read -r ms moved < <("$QB" rerank "$url" BIG 20)
  R[$name.rerank_ms]=$ms
  [ "$moved" = 50 ] || { echo "re-rank moved $moved devices, expected 50" >&2; exit 1; }
  read -r ms got < <("$QB" top "$url" 200)
  R[$name.top50_ms]=$ms
  [ "$got" = 50 ] || { echo "top-50 returned $got" >&2; exit 1; }
  t=$(now); for i in $(seq 20); do "$SAFEHOLD" queue list --limit 50 --json --db "$url" >/dev/null; done
  R[$name.top50_cli_ms]=$(awk -v s="$(elapsed "$t")" 'BEGIN { printf "%.1f", s * 1000 / 20 }')
  if [ "$name" = sqlite ]; then safehold_run sqlite "$url"; fi
}

# claim+complete with $WORKERS worker processes for $RUN seconds; sets R[$name.claims], .rate,
# .client_ms and (PostgreSQL) .server_ms.
safehold_run() {  # NAME URL
  local name=$1 url=$2 s0=0 s1=0 client
  echo "== $name: claim+complete, $WORKERS processes, ${RUN}s"
  if [ "$name" != sqlite ]; then
    psql "$url" -qc CHECKPOINT  # the copy's or import's dirty pages are written before the run
    s0=$(pg_ticks)
  fi
  # The workers' CPU: `times` of a subshell that waited for them (its children's user and system).
  client=$( (for w in $(seq "$WORKERS"); do "$QB" worker "$url" "w$w" "$RUN" >"$work/$name.w$w" & done
             wait; times) | awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/);
                                         printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
  R[$name.claims]=$(cat "$work"/$name.w* | awk '{ n += $1; if ($2 > t) t = $2 } END { printf "%d", n }')
  R[$name.rate]=$(cat "$work"/$name.w* | awk '{ n += $1; if ($2 > t) t = $2 } END { printf "%.0f", n / t }')
  R[$name.client_ms]=$(awk -v c="$client" -v n="${R[$name.claims]}" 'BEGIN { printf "%.3f", c * 1000 / n }')
  if [ "$name" != sqlite ]; then
    sleep 1  # the workers' server processes end after them
    s1=$(pg_ticks)
    R[$name.server_ms]=$(ms_per_job $((s1 - s0)) "${R[$name.claims]}")
  fi
  "$SAFEHOLD" queue audit --verify --db "$url" >/dev/null || { echo "audit chain broken after $name run" >&2; exit 1; }
}

if [ "${SKIP_SQLITE:-0}" = 1 ]; then
  for k in import rerank_ms top50_ms top50_cli_ms rate; do R[sqlite.$k]=skipped; done
else
  bench_store sqlite "sqlite:$work/queue.db"
fi

bash tests/services/postgres.sh start >/dev/null
set -a; source "$SAFEHOLD_SERVICE_ENV"; set +a
if [ -z "${SAFEHOLD_TEST_PG_URL:-}" ]; then echo "queue.sh: PostgreSQL did not start" >&2; exit 1; fi
base=${SAFEHOLD_TEST_PG_URL%/*}
psql "$SAFEHOLD_TEST_PG_URL" -qc "CREATE DATABASE safehold_bench" -c "CREATE DATABASE gw_bench"
# safehold_bench and gw_bench hold the 100,000 queued jobs; every round drains copies of them.
bench_store postgresql "$base/safehold_bench"
copy_db() {  # NAME TEMPLATE
  psql "$SAFEHOLD_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE $2 STRATEGY = FILE_COPY"
}

# graphile-worker peer on the same server.
gw_version=
gwdir=$work/gw
mkdir -p "$gwdir"
if (cd "$gwdir" && npm install --silent --no-audit --no-fund graphile-worker@0.16 >/dev/null 2>&1); then
  gw_version=$(node -p "require('$gwdir/node_modules/graphile-worker/package.json').version")
  sockdir=$(printf '%s' "$base" | sed -E 's|postgresql://postgres@([^:]*):([0-9]+)|\1|' | sed 's|%2F|/|g')
  port=$(printf '%s' "$base" | sed -E 's|.*:([0-9]+)$|\1|')
  gwurl="postgres://postgres@localhost:$port/gw_bench?host=$sockdir"
  (cd "$gwdir" && npx graphile-worker -c "$gwurl" --schema-only >/dev/null)
  echo "== graphile-worker $gw_version: queueing $N jobs"
  # add_jobs (one call per 10,000 jobs): one add_job call per row takes tens of minutes for 100,000.
  for ((first = 1; first <= N; first += 10000)); do
    last=$((first + 9999 > N ? N : first + 9999))
    psql "$base/gw_bench" -qc "SELECT count(*) FROM graphile_worker.add_jobs((SELECT array_agg(ROW('noop', json_build_object('i', i), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec) FROM generate_series($first, $last) i))" >/dev/null
  done
  cat >"$gwdir/worker.js" <<'EOF'
const { run } = require("graphile-worker");
(async () => {
  const runner = await run({
    connectionString: process.env.GW_URL, concurrency: 1, noHandleSignals: false, pollInterval: 1000,
    taskList: { noop: async () => {} },
  });
  await runner.promise;
})().catch((e) => { console.error(e); process.exit(1); });
EOF
fi

# graphile-worker draining a copy: $WORKERS node processes, timed after their start-up; sets
# R[gw.rate], R[gw.server_ms] and R[gw.client_ms].
gw_run() {  # DB
  local db=$1 url="postgres://postgres@localhost:$port/$1?host=$sockdir" c0 c1 s0 s1 n0 n1 t dt p
  echo "== graphile-worker: $WORKERS processes, ${RUN}s"
  psql "$base/$db" -qc CHECKPOINT  # as before Safehold's run
  for w in $(seq "$WORKERS"); do (cd "$gwdir" && GW_URL=$url exec node worker.js >"$gwdir/w$w.log" 2>&1) & gw_pids+=($!); done
  node_ticks() { local p t=0; for p in "${gw_pids[@]}"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo "$t"; }
  remaining() { psql "$base/$db" -Atc "SELECT count(*) FROM graphile_worker.jobs"; }
  sleep 3  # start-up
  c0=$(remaining); s0=$(pg_ticks); n0=$(node_ticks); t=$(now)
  sleep "$RUN"
  c1=$(remaining); s1=$(pg_ticks); n1=$(node_ticks); dt=$(elapsed "$t")
  R[gw.server_ms]=$(ms_per_job $((s1 - s0)) $((c0 - c1)))
  R[gw.client_ms]=$(ms_per_job $((n1 - n0)) $((c0 - c1)))
  for p in "${gw_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${gw_pids[@]}" 2>/dev/null || true
  gw_pids=()
  R[gw.rate]=$(awk -v a="$c0" -v b="$c1" -v t="$dt" 'BEGIN { printf "%.0f", (a - b) / t }')
}

# Both queues' databases vacuumed and analysed before the rounds (what autovacuum would do to the
# freshly filled tables anyway; left to it, it runs during the first round and takes the CPU of
# whichever queue runs then).
vacuumdb -q -z -d "$base/safehold_bench"
[ -n "$gw_version" ] && vacuumdb -q -z -d "$base/gw_bench"

# Interleaved rounds, each on fresh copies: odd rounds Safehold first, even rounds the peer first.
rounds=()
for ((r = 1; r <= ROUNDS; r++)); do
  copy_db safehold_round safehold_bench
  [ -n "$gw_version" ] && copy_db gw_round gw_bench
  order="safehold gw"
  if ((r % 2 == 0)); then order="gw safehold"; fi
  for who in $order; do
    if [ "$who" = safehold ]; then safehold_run postgresql "$base/safehold_round"
    elif [ -n "$gw_version" ]; then gw_run gw_round
    fi
  done
  line="${R[postgresql.rate]} ${R[postgresql.server_ms]} ${R[postgresql.client_ms]}"
  if [ -n "$gw_version" ]; then line+=" ${R[gw.rate]} ${R[gw.server_ms]} ${R[gw.client_ms]}"
  else line+=" - - -"; fi
  rounds+=("$line")
done
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { printf '%s\n' "${rounds[@]}" | awk -v c="$1" '{ print $c }' | median; }
R[postgresql.rate]=$(col 1); R[postgresql.server_ms]=$(col 2); R[postgresql.client_ms]=$(col 3)
gw_rate=unavailable gw_server_ms=- gw_client_ms=-
if [ -n "$gw_version" ]; then gw_rate=$(col 4); gw_server_ms=$(col 5); gw_client_ms=$(col 6); fi

echo
echo "PostgreSQL claim+complete, $WORKERS processes, ${RUN}s a round (CPU per job: server / workers, ms):"
printf '%-7s %10s %16s %12s %16s %8s\n' round "Safehold/s" "Safehold CPU" "graphile/s" "graphile CPU" ratio
for ((r = 0; r < ${#rounds[@]}; r++)); do
  read -r vr vs vc gr gs gc <<<"${rounds[$r]}"
  ratio=-
  if [ "$gr" != - ] && [ "$gr" -gt 0 ]; then ratio=$(awk -v v="$vr" -v g="$gr" 'BEGIN { printf "%.2fx", v / g }'); fi
  printf '%-7s %10s %16s %12s %16s %8s\n' "$((r + 1))" "$vr" "$vs / $vc" "$gr" "$gs / $gc" "$ratio"
done

echo
printf '%-44s %12s %12s\n' "$N queued devices" "SQLite" "PostgreSQL"
printf '%-44s %12s %12s\n' "import CSV (s)" "${R[sqlite.import]}" "${R[postgresql.import]}"
printf '%-44s %12s %12s\n' "re-rank a case of 50 devices (ms)" "${R[sqlite.rerank_ms]}" "${R[postgresql.rerank_ms]}"
printf '%-44s %12s %12s\n' "top-50 listing, library (ms)" "${R[sqlite.top50_ms]}" "${R[postgresql.top50_ms]}"
printf '%-44s %12s %12s\n' "top-50 listing, safehold queue list (ms)" "${R[sqlite.top50_cli_ms]}" "${R[postgresql.top50_cli_ms]}"
printf '%-44s %12s %12s\n' "claim+complete, $WORKERS processes (jobs/s)*" "${R[sqlite.rate]}" "${R[postgresql.rate]}"
printf '%-44s %12s %12s\n' "  CPU per job: server / workers (ms)" "" "${R[postgresql.server_ms]} / ${R[postgresql.client_ms]}"
printf '%-44s %12s %12s\n' "graphile-worker $gw_version, $WORKERS processes (jobs/s)*" "" "$gw_rate"
printf '%-44s %12s %12s\n' "  CPU per job: server / workers (ms)" "" "$gw_server_ms / $gw_client_ms"
if [ "$gw_rate" != unavailable ] && awk -v g="$gw_rate" 'BEGIN { exit !(g > 0) }'; then
  printf '%s\n' "${rounds[@]}" | awk '$4 > 0 { print $1 / $4 }' | median |
    awk -v n="$ROUNDS" '{ printf "Safehold / graphile-worker on PostgreSQL: %.2fx (median of the %d rounds)\n", $1, n }'
fi
echo "* PostgreSQL: the median of the $ROUNDS rounds"
