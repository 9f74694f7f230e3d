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
PEER=aleapp PEER_DIR=$ALEAPP
# Message artefacts of ALEAPP (not contacts, call logs or metadata).
MSG='SMS Messages|MMS Messages|WhatsApp - Messages|WhatsApp - One To One Messages|WhatsApp - Group Messages|Kik Messages|Text Now - Messages|Viber - Messages|GoogleMessages|Line - Messages|tangomessage|Badoo - Messages|Tinder - Messages'
source "$(dirname "$0")/chat_leapp_common.sh"
peer_run() {
  (cd "$ALEAPP" && PYTHONPATH="$SHIM" /usr/bin/python3 aleapp.py -t fs -i "$1" -o "$2" \
    --custom_output_folder r > "$3" 2>&1)
}
# WhatsApp: "Messages" and "One To One" + "Group" are two views of the same rows; the larger counts.
peer_count() {
  grep -E "^Found [0-9,]+ records for ($MSG)\$" "$1" | tr -d , | awk '
    /WhatsApp - Messages$/ {wa += $2; next} /WhatsApp - (One To One|Group) Messages$/ {wv += $2; next}
    {s += $2} END {print s + (wa > wv ? wa : wv)}' || true
}
databases() { find "$1" -type f ! -name '*-wal' ! -name '*-journal' ! -name '*-shm' | sort; }
chat_leapp_main "$@"
