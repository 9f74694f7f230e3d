#!/usr/bin/env bash
# Seeds for the chat fuzz targets, one folder per target under SEEDS (SEEDS/chat_bplist for
# fuzz_chat_bplist, ...): an NSKeyedArchiver archive written by Python's plistlib, a protobuf
# message built from the wire format, base64 and JSON around them, and a database made by sqlite3
# with a deleted row. Called by .ci/fuzz.sh.  usage: seeds.sh SEEDS
set -uo pipefail
seeds=$1
for t in chat_bplist chat_protobuf chat_blob chat_recover; do mkdir -p "$seeds/$t"; done
python3 - "$seeds" <<'PY' || true
import base64, plistlib, sys
d = sys.argv[1]
U = plistlib.UID
arch = plistlib.dumps({'$version': 100000, '$archiver': 'NSKeyedArchiver', '$top': {'root': U(1)},
                       '$objects': ['$null', {'$class': U(3), 'text': U(2)}, 'hello \u00e9',
                                    {'$classname': 'Msg', '$classes': ['Msg', 'NSObject']}]},
                      fmt=plistlib.FMT_BINARY)
pb = b'\x08\x80\xa2\xe3\x80\x06\x12\x05hello\x1a\x06\x0a\x04user'
open(f'{d}/chat_bplist/a', 'wb').write(arch)
open(f'{d}/chat_protobuf/a', 'wb').write(pb)
open(f'{d}/chat_blob/a', 'wb').write(base64.b64encode(arch))
open(f'{d}/chat_blob/b', 'wb').write(b'{"message": {"text": "hi", "n": [1, 2.5, null]}}')
open(f'{d}/chat_blob/c', 'wb').write(base64.b64encode(pb))
PY
db=$(mktemp)
rm -f "$db"
sqlite3 "$db" "PRAGMA page_size=512; PRAGMA secure_delete=OFF;
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, date INTEGER,
  type INTEGER, body TEXT);
INSERT INTO sms VALUES (1, 1, '+15550001', 1600000000000, 1, 'first');
INSERT INTO sms VALUES (2, 1, '+15550001', 1600000001000, 2, 'second, deleted');
INSERT INTO sms VALUES (3, 1, '+15550001', 1600000002000, 1, 'third');
DELETE FROM sms WHERE _id = 2;" >/dev/null 2>&1 || true
# The first byte picks the table's root page (2 for the seed).
{ printf '\001'; cat "$db"; } >"$seeds/chat_recover/a" 2>/dev/null || true
rm -f "$db"
