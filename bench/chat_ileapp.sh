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
PEER=ileapp PEER_DIR=$ILEAPP
# Message artefacts of iLEAPP (not contacts, chat lists or accounts).
MSG='Google Voice - Messages|Google Voice - Calls|Google Voice - Voicemails|Truth Social - Chats'
source "$(dirname "$0")/chat_leapp_common.sh"
peer_run() {
  (cd "$ILEAPP" && PYTHONPATH="$SHIM" /usr/bin/python3 ileapp.py -t fs -i "$1" -o "$2" > "$3" 2>&1)
}
peer_count() {
  grep -E "^Found [0-9,]+ records for ($MSG)\$" "$1" | tr -d , | awk '{s += $2} END {print s + 0}'
}
# The databases (SQLite header) of the tree; their -wal siblings are found by the extractor.
databases() {
  find "$1" -type f ! -name '*-wal' ! -name '*-journal' ! -name '*-shm' \
    -exec sh -c 'head -c 16 "$1" | grep -q "SQLite format 3" && echo "$1"' _ {} \; | sort
}
chat_leapp_main "$@"
