# Shared by bench/chat_peer.sh (ALEAPP) and bench/chat_ileapp.sh (iLEAPP): sourced, not run.
# The caller sets PEER (the column name), PEER_DIR (the peer's source tree), and defines
#   peer_run DIR OUT LOG   run the peer on DIR into OUT, its output to LOG
#   peer_count LOG         print the messages the peer found (one number)
#   databases DIR          print the database files of DIR to hand to Safehold, one a line
# then calls chat_leapp_main DIR...: for every DIR, RUNS (default 3) interleaved runs of the peer
# and of safehold_chat_extract ($BIN) on the same files; the median wall time of each and the
# messages each found ("Found N records for <artefact>" lines of the peer whose artefact matches
# $MSG; Safehold's messages.jsonl, live + recovered).
set -euo pipefail
: "${BIN:?set BIN to safehold_chat_extract}"
SHIM=${SHIM:-$(dirname "$PEER_DIR")/shim}
RUNS=${RUNS:-3}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
count_jsonl() {  # FILE recovered(True|False)
  python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["recovered"] == (sys.argv[2] == "True")))' "$1" "$2"
}
chat_leapp_main() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/safehold-chat-$PEER-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  printf '%-14s %10s %10s %8s | %-40s\n' database safehold_s "${PEER}_s" ratio \
    "messages: safehold live+recovered / $PEER"
  local dir name i t0 t1 t2 peer peer_detail live rec ms mp
  for dir in "$@"; do
    name=$(basename "$dir")
    mapfile -t dbs < <(databases "$dir")
    : > "$work/tp"; : > "$work/ts"
    for i in $(seq "$RUNS"); do
      rm -rf "$work/p" "$work/s"; mkdir "$work/p"
      t0=$(now)
      peer_run "$dir" "$work/p" "$work/peer.log"
      t1=$(now)
      "$BIN" "$work/s" "${dbs[@]}" > "$work/safehold.log"
      t2=$(now)
      echo "$t1 - $t0" | bc -l >> "$work/tp"
      echo "$t2 - $t1" | bc -l >> "$work/ts"
    done
    peer=$(peer_count "$work/peer.log")
    peer_detail=$(grep -E "^Found [0-9,]+ records for ($MSG)\$" "$work/peer.log" |
      sed 's/^Found \([0-9,]*\) records for /\1 /' | paste -sd';' - || true)
    live=$(count_jsonl "$work/s/messages.jsonl" False)
    rec=$(count_jsonl "$work/s/messages.jsonl" True)
    ms=$(median < "$work/ts"); mp=$(median < "$work/tp")
    printf '%-14s %10.3f %10.3f %8.3f | safehold %s+%s  %s %s (%s)\n' "$name" "$ms" "$mp" \
      "$(echo "$ms / $mp" | bc -l)" "$live" "$rec" "$PEER" "$peer" "${peer_detail:-none}"
  done
}
