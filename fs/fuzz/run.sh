#!/usr/bin/env bash
# Builds fs/'s fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each, seeded with real
# E01s made by ewfacquire (plain, compressed, multi-segment), small filesystems made by mkfs, and
# the E01s in $SAFEHOLD_FIXTURES/images when present.
# usage: fs/fuzz/run.sh [SECONDS_EACH]   (FUZZ_BUILD, JOBS, FUZZ_CORPUS to keep the corpus,
#        FUZZ_TARGETS="fs_open" to run some of ewf, fs_open, container, luks, lvm, bitlocker, archive,
#        bplist)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-${FUZZ_SECONDS:-30}}
BUILD=${FUZZ_BUILD:-build/fuzz}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSAFEHOLD_FUZZ=ON -DSAFEHOLD_WERROR=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
read -ra targets <<<"${FUZZ_TARGETS:-ewf fs_open container luks lvm bitlocker archive bplist}"
cmake --build "$BUILD" -j "${JOBS:-2}" --target "${targets[@]/#/fuzz_}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus=${FUZZ_CORPUS:-$work/corpus}
mkdir -p "$corpus/ewf" "$corpus/fs_open" "$corpus/container" "$corpus/luks" "$corpus/lvm" "$corpus/bitlocker" "$corpus/archive" \
  "$corpus/bplist" "$work/src"
q() { "$@" >/dev/null 2>&1 || true; }
# Small filesystems (raw seeds for fs_open, and the media of the E01 seeds).
q mkfs.fat -C -n SEED "$work/src/fat.raw" 256
echo "seed file" >"$work/src/a.txt"
q mcopy -i "$work/src/fat.raw" "$work/src/a.txt" ::/a.txt
q dd if=/dev/zero of="$work/src/ext2.raw" bs=1k count=256
q mke2fs -q -t ext2 -d "$work/src" "$work/src/ext2.raw"
q dd if=/dev/zero of="$work/src/exfat.raw" bs=1k count=1024
q mkfs.exfat "$work/src/exfat.raw"
q dd if=/dev/zero of="$work/src/mbr.raw" bs=1k count=512
echo 'start=63, type=c' | q sfdisk "$work/src/mbr.raw"
for f in fat ext2 exfat mbr; do [ -s "$work/src/$f.raw" ] && cp "$work/src/$f.raw" "$corpus/fs_open/"; done
# E01 seeds: stored and compressed chunks, 512-byte and 4096-byte sectors, two segments.
ewf() { q ewfacquire -u -q -C c -D d -E e -e x -N n -f encase6 "$@"; }
ewf -t "$work/fatz" -c fast -b 64 "$work/src/fat.raw"
ewf -t "$work/fatn" -c none -b 16 "$work/src/fat.raw"
ewf -t "$work/e2" -c best -b 8 -P 4096 "$work/src/ext2.raw"
head -c 1200000 /dev/urandom >"$work/src/rnd.raw"
ewf -t "$work/split" -c none -S 1MiB "$work/src/rnd.raw"
for f in "$work"/*.E01; do cp "$f" "$corpus/ewf/"; cp "$f" "$corpus/fs_open/"; done
# Container seeds: qemu-img's QCOW, QCOW2 (plain and compressed, and a child with a backing
# file), VHD (dynamic, fixed), VHDX and monolithic sparse VMDK of the small ext2 disk.
for c in "qcow2 qcow2" "qcow2c qcow2 -c" "qcow qcow" "vhd vpc" "fixed.vhd vpc -o subformat=fixed" \
         "vhdx vhdx" "vmdk vmdk"; do
  set -- $c; name=$1; shift
  q qemu-img convert -q -f raw -O "$@" "$work/src/ext2.raw" "$corpus/container/ext2.$name"
done
q qemu-img create -q -f qcow2 -b ext2.qcow2 -F qcow2 "$corpus/container/child.qcow2"
# LUKS seeds (fs/fuzz/seeds.sh, which .ci/fuzz.sh runs too).
bash fs/fuzz/seeds.sh "$corpus"
# Archive seeds: zip (deflate, stored, zip64 with -fz), GNU and pax tar of a small tree with a
# long name and a link.
mkdir -p "$work/tree/d/a_folder_name_long_enough_to_need_a_long_name_record_in_a_tar_header_of_100_bytes"
echo "seed file" >"$work/tree/d/a_folder_name_long_enough_to_need_a_long_name_record_in_a_tar_header_of_100_bytes/x.txt"
head -c 3000 /dev/urandom >"$work/tree/d/r.bin"
ln -sf r.bin "$work/tree/d/link"
(cd "$work/tree" && q zip -q -r -y "$corpus/archive/deflate.zip" d \
  && q zip -q -r -y -0 "$corpus/archive/stored.zip" d && q zip -q -r -fz "$corpus/archive/zip64.zip" d \
  && q tar --format=gnu -cf "$corpus/archive/gnu.tar" d && q tar --format=pax -cf "$corpus/archive/pax.tar" d)
# The zlib stream of an Android backup: a TAR deflated as adb writes it.
q python3 -c 'import sys, zlib; open(sys.argv[2], "wb").write(zlib.compress(open(sys.argv[1], "rb").read()))' \
  "$corpus/archive/gnu.tar" "$corpus/archive/adb.zlib"
# Binary plist seeds: an NSKeyedArchiver MBFile as iTunes backups store it, and a Manifest.plist.
q python3 - "$corpus/bplist" <<'PY'
import plistlib, sys
u = plistlib.UID
mb = {"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": u(1)},
      "$objects": ["$null", {"$class": u(3), "Size": 8192, "LastModified": 1700000000, "Mode": 33188,
                             "UserID": 501, "RelativePath": u(2), "Target": u(4), "Flag": True,
                             "Ratio": 0.5, "Blob": b"\x00\x01"},
                   "Library/SMS/sms.db", {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]},
                   "t\u00e9st \u2603"]}
open(sys.argv[1] + "/mbfile.bplist", "wb").write(plistlib.dumps(mb, fmt=plistlib.FMT_BINARY))
open(sys.argv[1] + "/manifest.bplist", "wb").write(plistlib.dumps(
    {"IsEncrypted": False, "Version": "10.0", "Lockdown": {"ProductVersion": "17.1"}},
    fmt=plistlib.FMT_BINARY))
PY
if [ -n "${SAFEHOLD_FIXTURES:-}" ] && [ -d "$SAFEHOLD_FIXTURES/images" ]; then
  for f in "$SAFEHOLD_FIXTURES"/images/*.E01; do cp "$f" "$corpus/ewf/"; done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0}
status=0
for t in "${targets[@]}"; do
  echo "fuzz_$t: ${SECS}s, $(ls "$corpus/$t" | wc -l) seeds"
  if ! (cd "$work" && "$OLDPWD/$BUILD/fs/fuzz_$t" -max_total_time="$SECS" -max_len=1300000 \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 "$corpus/$t") >"$work/$t.log" 2>&1; then
    tail -60 "$work/$t.log"
    mkdir -p fuzz-findings && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* fuzz-findings/ 2>/dev/null || true
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$work/$t.log" | tail -2
  fi
done
exit $status
