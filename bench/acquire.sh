#!/usr/bin/env bash
# Benchmark of `safehold acquire` against ewfacquire and md5sum, in the same run, on a 1 GiB loop
# device (half zeros, a quarter random, a quarter text). Needs root (losetup).
# Usage: SAFEHOLD=build/release/tools/safehold bench/acquire.sh [SIZE_MIB]
set -euo pipefail
SAFEHOLD=${SAFEHOLD:-build/release/tools/safehold}
MIB=${1:-1024}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/safehold-bench-acquire-XXXXXX")
LOOP=
cleanup() {
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

q=$((MIB / 4))
src=$WORK/source.raw
head -c $((q << 20)) /dev/zero > "$src"
head -c $((q << 20)) /dev/urandom >> "$src"
head -c $((q << 20)) /dev/zero >> "$src"
# Text: numbered lines of words, like logs and documents.
python3 - "$src" $((MIB - 3 * q)) <<'PY'
import sys, random
random.seed(7)
words = "the of and to in is was for on that with as by at from police report child device evidence " \
        "image message phone laptop seized examiner statement interview address date time case".split()
need = int(sys.argv[2]) << 20
with open(sys.argv[1], "ab") as f:
    out, n, i = [], 0, 0
    while n < need:
        line = f"{i:08d} " + " ".join(random.choice(words) for _ in range(12)) + "\n"
        out.append(line); n += len(line); i += 1
        if len(out) >= 10000:
            f.write("".join(out).encode()); out = []
    f.write("".join(out).encode())
PY
truncate -s $((MIB << 20)) "$src"
LOOP=$(losetup -f --show "$src")
cat "$LOOP" > /dev/null  # same (cached) starting point for every tool
load=$(cut -d' ' -f1-3 /proc/loadavg)

calc() { python3 -c "print($1)"; }
# Elapsed seconds on stdout; CPU seconds (user+sys) appended to $WORK/cpu. The device is read once
# more right before each tool, so each starts from a cached device (the kernel may drop the loop
# device's cache between runs on a busy machine).
t() {
  cat "$LOOP" > /dev/null
  /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$@" > /dev/null 2>&1 || true
  read -r e u s < "$WORK/time"
  calc "$u + $s" >> "$WORK/cpu"
  echo "$e"
}
cpu() { sed -n "${1}p" "$WORK/cpu"; }

md5_t=$(t md5sum "$LOOP")
safehold_t=$(t "$SAFEHOLD" acquire "$LOOP" -o "$WORK/safehold" --case B --evidence 1 --examiner bench --hash md5,sha1 --compression fast)
safehold3_t=$(t "$SAFEHOLD" acquire "$LOOP" -o "$WORK/safehold3" --case B --evidence 1 --examiner bench --compression fast)
ewf_t=$(t ewfacquire -u -t "$WORK/ewf" -c deflate:fast -d sha1 -C B -E 1 -e bench -D bench -N bench "$LOOP")
verify_t=$(t "$SAFEHOLD" verify "$WORK/safehold.E01")
ewfverify_t=$(t ewfverify -q "$WORK/ewf.E01")

safehold_md5=$(python3 -c "import json;print(json.load(open('$WORK/safehold.acquire.json'))['md5'])")
dev_md5=$(md5sum "$LOOP" | cut -d' ' -f1)
[ "$safehold_md5" = "$dev_md5" ] || { echo "MD5 MISMATCH: safehold $safehold_md5 device $dev_md5"; exit 1; }
ewfverify -q "$WORK/safehold.E01" > /dev/null

size() { du -cb "$@" | tail -1 | cut -f1; }
safehold_sz=$(size "$WORK"/safehold.E??)
ewf_sz=$(size "$WORK"/ewf.E??)

echo "source: ${MIB} MiB loop device (1/2 zeros, 1/4 random, 1/4 text), $(nproc) cores"
echo "load average before the run: $load"
printf "%-40s %8s %10s %9s  %s\n" "" "elapsed" "MB/s" "CPU s" "image bytes"
row() { printf "%-40s %7.2fs %10.1f %8.2fs  %s\n" "$1" "$2" "$(calc "$MIB*1.048576/$2")" "$3" "${4:-}"; }
row "md5sum of the device" "$md5_t" "$(cpu 1)"
row "safehold acquire (fast, md5+sha1)" "$safehold_t" "$(cpu 2)" "$safehold_sz"
row "safehold acquire (fast, md5+sha1+sha256)" "$safehold3_t" "$(cpu 3)"
row "ewfacquire -c deflate:fast -d sha1" "$ewf_t" "$(cpu 4)" "$ewf_sz"
row "safehold verify (md5+sha1)" "$verify_t" "$(cpu 5)"
row "ewfverify (md5)" "$ewfverify_t" "$(cpu 6)"
printf "ratio ewfacquire / safehold:      %6.1fx elapsed (target >= 10), %.1fx CPU\n" "$(calc "$ewf_t/$safehold_t")" "$(calc "$(cpu 4)/$(cpu 2)")"
printf "ratio safehold / md5sum:          %6.2fx (target <= 1.5)\n" "$(calc "$safehold_t/$md5_t")"
printf "ratio image size safehold / ewf:  %6.3f\n" "$(calc "$safehold_sz/$ewf_sz")"
