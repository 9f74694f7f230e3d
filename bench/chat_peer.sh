#!/bin/bash
# Chat readers against ALEAPP (issue 19; docs/BENCHMARKS.md, "### Against ALEAPP").
#   ALEAPP=/path/to/ALEAPP-checkout BIN=/path/to/safehold_chat_extract bench/chat_peer.sh DIR...
# Each DIR is a folder tree as ALEAPP expects it (DIR/data/data/<package>/databases/<db>).
# For every DIR, RUNS (default 3) interleaved runs of ALEAPP (`-t fs`, Debian's /usr/bin/python3)
# and of safehold_chat_extract on the same database files; prints the median wall time of each and
# the messages each found: ALEAPP's "Found N records for <message artefact>" lines, Safehold's
# messages.jsonl (live + recovered).
# ALEAPP's dependencies come from Debian packages; SHIM (default: a folder beside ALEAPP named
# shim) holds import-only stand-ins for simplekml and google.protobuf (no Debian package installed):
# see docs/BENCHMARKS.md.
set -euo pipefail
: "${ALEAPP:?set ALEAPP to an ALEAPP source tree}"
: "${BIN:?set BIN to safehold_chat_extract}"
SHIM=${SHIM:-$(dirname "$ALEAPP")/shim}
RUNS=${RUNS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/safehold-chat-peer-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Message artefacts of ALEAPP (not contacts, call logs or metadata).
MSG='SMS Messages|MMS Messages|WhatsApp - Messages|WhatsApp - One To One Messages|WhatsApp - Group Messages|Kik Messages|Text Now - Messages|Viber - Messages|GoogleMessages|Line - Messages|tangomessage|Badoo - Messages|Tinder - Messages'
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
printf '%-14s %10s %10s %8s | %-40s\n' database safehold_s aleapp_s ratio "messages: safehold live+recovered / aleapp"
for dir in "$@"; do
  name=$(basename "$dir")
  mapfile -t dbs < <(find "$dir" -type f ! -name '*-wal' ! -name '*-journal' ! -name '*-shm' | sort)
  : > "$WORK/ta"; : > "$WORK/ts"
  for i in $(seq "$RUNS"); do
    rm -rf "$WORK/a" "$WORK/s"; mkdir "$WORK/a"
    t0=$(now)
    (cd "$ALEAPP" && PYTHONPATH="$SHIM" /usr/bin/python3 aleapp.py -t fs -i "$dir" -o "$WORK/a" \
      --custom_output_folder r > "$WORK/aleapp.log" 2>&1)
    t1=$(now)
    "$BIN" "$WORK/s" "${dbs[@]}" > "$WORK/safehold.log"
    t2=$(now)
    echo "$t1 - $t0" | bc -l >> "$WORK/ta"
    echo "$t2 - $t1" | bc -l >> "$WORK/ts"
  done
  # WhatsApp: "Messages" and "One To One" + "Group" are two views of the same rows; the larger counts.
  peer=$(grep -E "^Found [0-9,]+ records for ($MSG)\$" "$WORK/aleapp.log" | tr -d , | awk '
    /WhatsApp - Messages$/ {wa += $2; next} /WhatsApp - (One To One|Group) Messages$/ {wv += $2; next}
    {s += $2} END {print s + (wa > wv ? wa : wv)}' || true)
  peer_detail=$(grep -E "^Found [0-9,]+ records for ($MSG)\$" "$WORK/aleapp.log" | sed 's/^Found \([0-9,]*\) records for /\1 /' | paste -sd';' - || true)
  live=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if not json.loads(l)["recovered"]))' "$WORK/s/messages.jsonl")
  rec=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["recovered"]))' "$WORK/s/messages.jsonl")
  ms=$(median < "$WORK/ts"); ma=$(median < "$WORK/ta")
  printf '%-14s %10.3f %10.3f %8.3f | safehold %s+%s  aleapp %s (%s)\n' "$name" "$ms" "$ma" \
    "$(echo "$ms / $ma" | bc -l)" "$live" "$rec" "$peer" "${peer_detail:-none}"
done
