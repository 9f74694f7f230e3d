#!/usr/bin/env bash
# Seeds for the chat fuzz targets, one folder per target under SEEDS (SEEDS/chat_bplist for
# fuzz_chat_bplist, ...): an NSKeyedArchiver archive written by Python's plistlib, a protobuf
# message built from the wire format, base64 and JSON around them, and a database made by sqlite3
# with a deleted row. Called by .ci/fuzz.sh.  usage: seeds.sh SEEDS
set -uo pipefail
seeds=$1
for t in chat_bplist chat_protobuf chat_blob chat_recover chat_postbox; do mkdir -p "$seeds/$t"; done
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
# Telegram iOS Postbox: a peer object (root "_" of type hash 7 with fn, un) and an incoming
# message record (type 0, stable id/version, no data flags, flags 4, no forward, author, text,
# no attributes/media/references); a Discord ISO time.
import struct
def pk(k): return bytes([len(k)]) + k.encode()
def ps(k, v): b = v.encode(); return pk(k) + b'\x04' + struct.pack('<i', len(b)) + b
body = ps('fn', 'Alice') + ps('un', 'alice_x')
open(f'{d}/chat_postbox/a', 'wb').write(pk('_') + b'\x05' + struct.pack('<ii', 7, len(body)) + body)
t = 'hi from alice'.encode()
msg = b'\x00' + struct.pack('<II', 1, 0) + b'\x00' + struct.pack('<II', 4, 0) + b'\x00'
msg += b'\x01' + struct.pack('<q', 42) + struct.pack('<i', len(t)) + t + struct.pack('<iii', 0, 0, 0)
open(f'{d}/chat_postbox/b', 'wb').write(msg)
open(f'{d}/chat_postbox/c', 'wb').write(struct.pack('>qiii', 42, 0, 1712097870, 1))
open(f'{d}/chat_postbox/d', 'wb').write(b'2021-02-03T10:47:40.123+01:00')
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
