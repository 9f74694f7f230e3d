#!/usr/bin/env bash
# `vigil serve` under load: wrk, 64 connections, 30 s, against a 100,000-device queue (SQLite),
# on the top-50 listing (GET /api/queue?limit=50) and on explain (GET /api/devices/X/explain,
# exhibits spread over the queue). Target (issue 7): >= 10,000 requests/s on the listing with p99
# under 50 ms and no errors. wrk and the server share the machine's cores.
#   VIGIL=build/release/tools/vigil bench/serve.sh [DEVICES] [SECONDS] [CONNECTIONS]
set -euo pipefail
VIGIL=${VIGIL:-build/release/tools/vigil}
DEVICES=${1:-100000}
SECS=${2:-30}
CONNS=${3:-64}
THREADS=${WRK_THREADS:-2}
work=${BENCH_DIR:-/tmp/vigil-bench}/serve
mkdir -p "$work"
db="$work/queue-$DEVICES.db"
if [ ! -f "$db" ]; then
  csv="$work/queue-$DEVICES.csv"
  # 5 devices per suspect, 2 suspects per case; risk bands, classes, facts and intake times vary.
  python3 - "$DEVICES" >"$csv" <<'PY'
import sys
n = int(sys.argv[1])
risks = ["very-high", "high", "medium", "low", "none"]
classes = ["phone", "tablet", "computer", "removable", "other"]
print("case,suspect,risk,lives_with_children,access_to_children,exhibit,class,intake_at")
for i in range(n):
    s = i // 5
    c = s // 2
    kids = "yes" if s % 23 == 0 else "no"
    day = 1 + (i * 7919) % 28
    month = 1 + (i * 104729) % 9
    print(f"C{c:06d},S{s:06d},{risks[c % 5]},{kids},unknown,EX{i:07d},{classes[i % 5]},"
          f"2026-{month:02d}-{day:02d}T{i % 24:02d}:00:00Z")
PY
  rm -f "$db"
  "$VIGIL" queue import --db "$db" --user bench --csv "$csv" >/dev/null
fi
token=$("$VIGIL" queue token create --db "$db" --role auditor --name bench | tail -1)

out="$work/serve.out"
"$VIGIL" serve --db "$db" --listen 127.0.0.1:0 --no-access-log >"$out" 2>"$work/serve.err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.1; done
url=$(head -1 "$out")
[ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }

lua="$work/explain.lua"
cat >"$lua" <<LUA
local n = $DEVICES
local i = 0
wrk.headers["Authorization"] = "Bearer $token"
request = function()
  i = i + 1
  local ex = string.format("EX%07d", (i * 7919) % n)
  return wrk.format("GET", "/api/devices/" .. ex .. "/explain")
end
LUA
auth="$work/auth.lua"
echo "wrk.headers[\"Authorization\"] = \"Bearer $token\"" >"$auth"

curl -sf -H "Authorization: Bearer $token" "${url}api/queue?limit=50" | python3 -c \
  'import json,sys; a=json.load(sys.stdin); assert len(a)==50 and a[0]["rank"]==1, a[:1]'

run() { # name, wrk args…
  local name=$1; shift
  local res
  res=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "$@")
  local rps p99 errs non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$res")
  last_rps=$rps
  p99=$(awk '$1=="99%" {print $2}' <<<"$res")
  p50=$(awk '$1=="50%" {print $2}' <<<"$res")
  errs=$(awk '/Socket errors/ {print $0}' <<<"$res")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   non-2xx %s %s\n' "$name" "$rps" "$p50" "$p99" \
    "${non2xx:-0}" "${errs:-}"
}
printf 'vigil serve: %s devices (SQLite), %s s, %s connections, wrk -t%s, %s cores\n' \
  "$DEVICES" "$SECS" "$CONNS" "$THREADS" "$(nproc)"
run "GET /api/queue?limit=50" -s "$auth" "${url}api/queue?limit=50"
list_rps=$last_rps
run "GET /api/devices/X/explain" -s "$lua" "${url}"
run "GET /healthz (no token)" "${url}healthz"

# Peer in the same run: the same top-50 listing through the CLI, one process per call.
n=20
s=$(date +%s.%N)
for _ in $(seq 1 $n); do "$VIGIL" queue list --db "$db" --limit 50 --json >/dev/null; done
e=$(date +%s.%N)
cli_rps=$(echo "$s $e $n" | awk '{printf "%.1f", $3/($2-$1)}')
printf '%-28s %10s calls/s (one process per call)\n' "vigil queue list --limit 50" "$cli_rps"
printf 'ratio server/CLI (top-50 listing): %sx\n' \
  "$(echo "$list_rps $cli_rps" | awk '{printf "%.0f", $1/$2}')"
