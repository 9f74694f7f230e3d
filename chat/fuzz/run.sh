#!/usr/bin/env bash
# Builds the chat fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each briefly,
# seeded with small inputs made by real encoders. usage: chat/fuzz/run.sh [SECONDS_EACH]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-${FUZZ_SECONDS:-20}}
BUILD=${FUZZ_BUILD:-build/fuzz}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSAFEHOLD_FUZZ=ON -DSAFEHOLD_WERROR=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
targets=(bplist protobuf blob recover)
cmake --build "$BUILD" -j "${JOBS:-2}" --target "${targets[@]/#/fuzz_chat_}"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
for t in "${targets[@]}"; do mkdir -p "$seeds/$t"; done
python3 - "$seeds" <<'PY' || true
import base64, plistlib, sys
d = sys.argv[1]
U = plistlib.UID
arch = plistlib.dumps({'$version': 100000, '$archiver': 'NSKeyedArchiver', '$top': {'root': U(1)},
                       '$objects': ['$null', {'$class': U(3), 'text': U(2)}, 'hello \u00e9',
                                    {'$classname': 'Msg', '$classes': ['Msg', 'NSObject']}]},
                      fmt=plistlib.FMT_BINARY)
pb = b'\x08\x80\xa2\xe3\x80\x06\x12\x05hello\x1a\x06\x0a\x04user'
open(f'{d}/bplist/a', 'wb').write(arch)
open(f'{d}/protobuf/a', 'wb').write(pb)
open(f'{d}/blob/a', 'wb').write(base64.b64encode(arch))
open(f'{d}/blob/b', 'wb').write(b'{"message": {"text": "hi", "n": [1, 2.5, null]}}')
open(f'{d}/blob/c', 'wb').write(base64.b64encode(pb))
PY
db="$seeds/recover.db"
sqlite3 "$db" "PRAGMA page_size=512; PRAGMA secure_delete=OFF;
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, date INTEGER,
  type INTEGER, body TEXT);
INSERT INTO sms VALUES (1, 1, '+15550001', 1600000000000, 1, 'first');
INSERT INTO sms VALUES (2, 1, '+15550001', 1600000001000, 2, 'second, deleted');
INSERT INTO sms VALUES (3, 1, '+15550001', 1600000002000, 1, 'third');
DELETE FROM sms WHERE _id = 2;" >/dev/null 2>&1 || true
# The first byte picks the table's root page (2 for the seed).
{ printf '\001'; cat "$db"; } >"$seeds/recover/a" 2>/dev/null || true
status=0
for t in "${targets[@]}"; do
  echo "fuzz_chat_$t: ${SECS}s"
  if ! "$BUILD/chat/fuzz_chat_$t" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 \
       -timeout=10 -print_final_stats=0 "$seeds/$t" >"$seeds/$t.log" 2>&1; then
    tail -40 "$seeds/$t.log"
    status=1
  fi
done
exit $status
