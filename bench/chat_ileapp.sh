#!/bin/bash
# Chat readers against iLEAPP on iOS databases (issue 19; docs/BENCHMARKS.md, "### Against iLEAPP").
#   ILEAPP=/path/to/iLEAPP-tree BIN=/path/to/safehold_chat_extract bench/chat_ileapp.sh DIR...
# Each DIR is a file-system tree as iLEAPP expects it (iLEAPP's test-case zips unpacked:
# DIR/filesystem1/private/var/mobile/Containers/Shared/AppGroup/<uuid>/.../<db>).
# For every DIR, RUNS (default 3) interleaved runs of iLEAPP (`-t fs`, Debian's /usr/bin/python3)
# and of safehold_chat_extract on the same database files; prints the median wall time of each and
# the messages each found: iLEAPP's "Found N records for <artefact>" lines of its message, call
# and voicemail artefacts (Safehold gives calls and voicemails as messages of kind `call`, so
# they are counted on both sides), Safehold's messages.jsonl (live + recovered).
# iLEAPP's dependencies come from Debian packages; SHIM (default: a folder beside ILEAPP named
# shim) holds import-only stand-ins for the modules Debian does not have here: see
# docs/BENCHMARKS.md.
set -euo pipefail
: "${ILEAPP:?set ILEAPP to an iLEAPP source tree}"
: "${BIN:?set BIN to safehold_chat_extract}"
SHIM=${SHIM:-$(dirname "$ILEAPP")/shim}
RUNS=${RUNS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/safehold-chat-ileapp-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Message artefacts of iLEAPP (not contacts, chat lists or accounts).
MSG='Google Voice - Messages|Google Voice - Calls|Google Voice - Voicemails|Truth Social - Chats'
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
printf '%-14s %10s %10s %8s | %-40s\n' database safehold_s ileapp_s ratio "messages: safehold live+recovered / ileapp"
for dir in "$@"; do
  name=$(basename "$dir")
  # The databases (SQLite header) of the tree; their -wal siblings are found by the extractor.
  mapfile -t dbs < <(find "$dir" -type f ! -name '*-wal' ! -name '*-journal' ! -name '*-shm' \
    -exec sh -c 'head -c 16 "$1" | grep -q "SQLite format 3" && echo "$1"' _ {} \; | sort)
  : > "$WORK/ti"; : > "$WORK/ts"
  for i in $(seq "$RUNS"); do
    rm -rf "$WORK/i" "$WORK/s"; mkdir "$WORK/i"
    t0=$(now)
    (cd "$ILEAPP" && PYTHONPATH="$SHIM" /usr/bin/python3 ileapp.py -t fs -i "$dir" -o "$WORK/i" \
      > "$WORK/ileapp.log" 2>&1)
    t1=$(now)
    "$BIN" "$WORK/s" "${dbs[@]}" > "$WORK/safehold.log"
    t2=$(now)
    echo "$t1 - $t0" | bc -l >> "$WORK/ti"
    echo "$t2 - $t1" | bc -l >> "$WORK/ts"
  done
  peer=$(grep -E "^Found [0-9,]+ records for ($MSG)\$" "$WORK/ileapp.log" | tr -d , |
    awk '{s += $2} END {print s + 0}')
  peer_detail=$(grep -E "^Found [0-9,]+ records for ($MSG)\$" "$WORK/ileapp.log" |
    sed 's/^Found \([0-9,]*\) records for /\1 /' | paste -sd';' - || true)
  live=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if not json.loads(l)["recovered"]))' "$WORK/s/messages.jsonl")
  rec=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["recovered"]))' "$WORK/s/messages.jsonl")
  ms=$(median < "$WORK/ts"); mi=$(median < "$WORK/ti")
  printf '%-14s %10.3f %10.3f %8.3f | safehold %s+%s  ileapp %s (%s)\n' "$name" "$ms" "$mi" \
    "$(echo "$ms / $mi" | bc -l)" "$live" "$rec" "$peer" "${peer_detail:-none}"
done
