#!/usr/bin/env bash
# `safehold serve` under load: wrk, 64 connections, 30 s, against a 100,000-device queue (SQLite),
# on the top-50 listing (GET /api/queue?limit=50) and on explain (GET /api/devices/X/explain,
# exhibits spread over the queue). Target (issue 7): >= 10,000 requests/s on the listing with p99
# under 50 ms and no errors. wrk and the server share the machine's cores. The server runs as in
# production, with its JSON access log (stdout, to a file here). Every response is checked by wrk
# (status 200 and a JSON array of entries, or an explain object): anything else counts as an error
# and the script ends with status 1. The server's CPU time (user+sys) per phase is printed too:
# it is the number to compare on a loaded machine.
#   SAFEHOLD=build/release/tools/safehold bench/serve.sh [DEVICES] [SECONDS] [CONNECTIONS]
#   ACCESS_LOG=0 to run without the access log.
set -euo pipefail
SAFEHOLD=${SAFEHOLD:-build/release/tools/safehold}
DEVICES=${1:-100000}
SECS=${2:-30}
CONNS=${3:-64}
THREADS=${WRK_THREADS:-2}
work=${BENCH_DIR:-/tmp/safehold-bench}/serve
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
  "$SAFEHOLD" queue import --db "$db" --user bench --csv "$csv" >/dev/null
fi
token=$("$SAFEHOLD" queue token create --db "$db" --role auditor --name bench | tail -1)

out="$work/serve.out"
logflag=()
[ "${ACCESS_LOG:-1}" = 0 ] && logflag=(--no-access-log)
"$SAFEHOLD" serve --db "$db" --listen 127.0.0.1:0 "${logflag[@]}" >"$out" 2>"$work/serve.err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.1; done
url=$(head -1 "$out")
[ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }

# Response checks, counted per wrk thread and summed in done(): (status, body prefix).
check_lua() { # expected body prefix
  cat <<LUA
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
function response(status, headers, body)
  if status ~= 200 or string.sub(body, 1, $((${#1}))) ~= '$1' then
    bad = bad + 1
    if bad == 1 then io.stderr:write("bad response: " .. status .. " " .. string.sub(body, 1, 200) .. "\\n") end
  end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  io.write(string.format("bad responses: %d\\n", n))
end
LUA
}
lua="$work/explain.lua"
{
  check_lua '{"attempts":'
  cat <<LUA
local n = $DEVICES
local i = 0
wrk.headers["Authorization"] = "Bearer $token"
request = function()
  i = i + 1
  local ex = string.format("EX%07d", (i * 7919) % n)
  return wrk.format("GET", "/api/devices/" .. ex .. "/explain")
end
LUA
} >"$lua"
auth="$work/auth.lua"
{
  check_lua '[{"attempts":'
  echo "wrk.headers[\"Authorization\"] = \"Bearer $token\""
} >"$auth"
health="$work/health.lua"
check_lua '{"status":"ok"}' >"$health"

check_listing() {
  curl -sf -H "Authorization: Bearer $token" "${url}api/queue?limit=50" | python3 -c \
    'import json,sys; a=json.load(sys.stdin); assert len(a)==50 and [e["rank"] for e in a]==list(range(1,51)), a[:1]'
}
check_listing
curl -sf -H "Authorization: Bearer $token" "${url}api/devices/EX0000001/explain" | python3 -c \
  'import json,sys; e=json.load(sys.stdin); assert e["exhibit"]=="EX0000001" and e["rank"]>=1, e'

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# Requests still queued when wrk stops (slow explains) are served before the next phase starts.
wait_idle() {
  local a b
  for _ in $(seq 1 120); do
    a=$(cpu_ticks); sleep 0.5; b=$(cpu_ticks)
    [ "$a" = "$b" ] && return 0
  done
}
failed=0
run() { # name, wrk args…
  local name=$1; shift
  local res t0 t1
  wait_idle
  t0=$(cpu_ticks)
  res=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "$@")
  t1=$(cpu_ticks)
  local rps p99 errs non2xx bad reqs cpu
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$res")
  reqs=$(awk '/requests in/ {print $1}' <<<"$res")
  last_rps=$rps
  p99=$(awk '$1=="99%" {print $2}' <<<"$res")
  p50=$(awk '$1=="50%" {print $2}' <<<"$res")
  errs=$(awk '/Socket errors/ {sub(/^ +/, ""); print}' <<<"$res")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
  bad=$(awk '/bad responses:/ {print $3}' <<<"$res")
  cpu=$(echo "$t0 $t1 $(getconf CLK_TCK)" | awk '{printf "%.1f", ($2-$1)/$3}')
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   non-2xx %s   bad %s   server CPU %5s s (%s req/CPU-s)   %s\n' \
    "$name" "$rps" "$p50" "$p99" "${non2xx:-0}" "${bad:-?}" "$cpu" \
    "$(echo "$reqs $cpu" | awk '{printf "%.0f", ($2 > 0 ? $1/$2 : 0)}')" "${errs:-no socket errors}"
  if [ -n "${non2xx:-}" ] || [ "${bad:-1}" != 0 ] || [ -n "$errs" ]; then failed=1; fi
}
printf 'safehold serve: %s devices (SQLite), %s s, %s connections, wrk -t%s, %s cores, access log %s\n' \
  "$DEVICES" "$SECS" "$CONNS" "$THREADS" "$(nproc)" "$([ "${ACCESS_LOG:-1}" = 0 ] && echo off || echo on)"
printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
run "GET /api/queue?limit=50" -s "$auth" "${url}api/queue?limit=50"
list_rps=$last_rps
run "GET /api/devices/X/explain" -s "$lua" "${url}"
run "GET /healthz (no token)" -s "$health" "${url}healthz"
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
check_listing
printf 'access log lines: %s\n' "$(grep -c '"event":"request"' "$out" || true)"

# Peer in the same run: the same top-50 listing through the CLI, one process per call.
n=20
s=$(date +%s.%N)
for _ in $(seq 1 $n); do "$SAFEHOLD" queue list --db "$db" --limit 50 --json >/dev/null; done
e=$(date +%s.%N)
cli_rps=$(echo "$s $e $n" | awk '{printf "%.1f", $3/($2-$1)}')
printf '%-28s %10s calls/s (one process per call)\n' "safehold queue list --limit 50" "$cli_rps"
printf 'ratio server/CLI (top-50 listing): %sx\n' \
  "$(echo "$list_rps $cli_rps" | awk '{printf "%.0f", $1/$2}')"
if [ "$failed" != 0 ]; then
  echo "ERRORS: some requests failed or returned a wrong body (see above)" >&2
  exit 1
fi
