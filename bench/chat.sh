#!/bin/bash
# Chat extraction benchmark and recovery recall (docs/BENCHMARKS.md, "## Chats").
#   bench/chat.sh [MESSAGES]   (default 1000000)
# 1. A generated WhatsApp msgstore.db (modern schema, every 10th message with media): Safehold's
#    extraction (messages.jsonl + messages.csv, recovery pass included) against the sqlite3
#    shell exporting the same join to CSV, same run, same machine; prints the ratio.
# 2. Recall of deleted-row recovery on generated databases (secure_delete off).
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
# -Werror off: a GCC 12 -O3 false positive (-Wrestrict) elsewhere must not stop a benchmark.
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSAFEHOLD_WERROR=OFF >/dev/null
cmake --build "$BUILD" -j"${JOBS:-2}" --target safehold_chat_extract | tail -1
BIN=$BUILD/bench/safehold_chat_extract
WORK=$(mktemp -d "${TMPDIR:-/tmp}/safehold-chat-bench-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# gen DB N: the msgstore.db schema with N messages over 50 chats.
gen() {
  sqlite3 -batch "$1" <<SQL
PRAGMA secure_delete=OFF;
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT, server TEXT, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, subject TEXT);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
  from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
  timestamp INTEGER, received_timestamp INTEGER, message_type INTEGER, text_data TEXT,
  starred INTEGER, sort_id INTEGER NOT NULL DEFAULT 0);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER,
  file_path TEXT, file_size INTEGER, mime_type TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<50)
INSERT INTO jid(user, server, raw_string) SELECT '4475000' || printf('%05d', x), 's.whatsapp.net',
  '4475000' || printf('%05d', x) || '@s.whatsapp.net' FROM c;
INSERT INTO chat(jid_row_id) SELECT _id FROM jid;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<$2)
INSERT INTO message(chat_row_id, from_me, key_id, sender_jid_row_id, status, timestamp,
  received_timestamp, message_type, text_data, sort_id)
SELECT (x % 50) + 1, x % 2, printf('KEY%08d', x), 0, 13, 1600000000000 + x*1000,
  1600000000000 + x*1000 + 5, CASE WHEN x % 10 = 0 THEN 1 ELSE 0 END,
  'message ' || x || ' ' || substr('the quick brown fox jumps over the lazy dog, "quoted", again', 1, 10 + x % 50), x FROM c;
INSERT INTO message_media(message_row_id, chat_row_id, file_path, file_size, mime_type)
SELECT _id, chat_row_id, 'Media/WhatsApp Images/IMG-' || _id || '.jpg', 1000 + _id, 'image/jpeg'
FROM message WHERE message_type = 1;
SQL
}

JOIN_SQL="SELECT m._id, j.raw_string, m.from_me, m.timestamp, m.text_data, m.sender_jid_row_id,
  mm.file_path FROM message m LEFT JOIN chat c ON c._id = m.chat_row_id
  LEFT JOIN jid j ON j._id = c.jid_row_id LEFT JOIN message_media mm ON mm.message_row_id = m._id"
TIMEFORMAT='%R %U %S'

echo "== extraction: $N messages"
gen "$WORK/msgstore.db" "$N" > /dev/null
ls -l "$WORK/msgstore.db" | awk '{printf "database: %.1f MiB\n", $5/1048576}'
cat "$WORK/msgstore.db" > /dev/null  # both runs start with the file in the page cache
{ time sqlite3 -csv -header "$WORK/msgstore.db" "$JOIN_SQL" > "$WORK/sqlite3.csv"; } 2> "$WORK/t1"
{ time "$BIN" "$WORK/out" "$WORK/msgstore.db" > "$WORK/result.json"; } 2> "$WORK/t2"
rows_sqlite=$(($(wc -l < "$WORK/sqlite3.csv") - 1))
rows_safehold=$(wc -l < "$WORK/out/messages.jsonl")
read -r sw su ss < "$WORK/t1"
read -r vw vu vs < "$WORK/t2"
printf 'sqlite3 -csv join:  wall %7.2f s  cpu %7.2f s  %d rows\n' "$sw" "$(echo "$su + $ss" | bc -l)" "$rows_sqlite"
printf 'safehold chat extract: wall %7.2f s  cpu %7.2f s  %d messages (jsonl + csv + recovery pass)\n' \
  "$vw" "$(echo "$vu + $vs" | bc -l)" "$rows_safehold"
printf 'bytes written: sqlite3 %d, safehold %d (messages.jsonl + messages.csv)\n' \
  "$(stat -c %s "$WORK/sqlite3.csv")" \
  "$(($(stat -c %s "$WORK/out/messages.jsonl") + $(stat -c %s "$WORK/out/messages.csv")))"
printf 'ratio safehold/sqlite3: wall %.2f  cpu %.2f (target <= 1.5)\n' "$(echo "$vw / $sw" | bc -l)" \
  "$(echo "($vu + $vs) / ($su + $ss)" | bc -l)"
rm -f "$WORK/msgstore.db" "$WORK/sqlite3.csv"; rm -rf "$WORK/out"

# recall NAME N DELETE-WHERE: deletes rows, then counts the deleted bodies Safehold recovered.
recall() {
  local db="$WORK/$1.db"
  gen "$db" "$2" > /dev/null
  sqlite3 -batch "$db" "SELECT text_data FROM message WHERE $3" | sort > "$WORK/deleted.txt"
  sqlite3 -batch "$db" "PRAGMA secure_delete=OFF; DELETE FROM message WHERE $3;" > /dev/null
  "$BIN" "$WORK/r-$1" "$db" > /dev/null
  python3 - "$WORK/r-$1/messages.jsonl" "$WORK/deleted.txt" "$1" <<'PY'
import json, sys
rec = set()
for line in open(sys.argv[1], encoding="utf-8"):
    m = json.loads(line)
    if m["recovered"] and m["body"] is not None:
        rec.add(m["body"])
deleted = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
hit = sum(1 for d in deleted if d in rec)
extra = len(rec - set(deleted))
print(f"{sys.argv[3]:<28} deleted {len(deleted):6d}  recovered {hit:6d}  recall {100.0*hit/max(1,len(deleted)):6.2f}%  false {extra}")
PY
}
echo "== recovery recall (secure_delete off)"
recall scattered-10pct 20000 "_id % 10 = 3"
recall block-2000 20000 "_id BETWEEN 5001 AND 7000"
recall half 20000 "_id % 2 = 0"
recall all 5000 "1"
