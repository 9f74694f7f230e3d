#!/usr/bin/env bash
# Whole-image read speed on E01: MD5 of a 1 GiB mixed-content image (half zeros, a quarter
# random, a quarter text) converted to E01 with `ewfacquire -c deflate:fast`, with Safehold's parallel
# reader (`safehold hash --hash md5`) against `ewfverify` (MD5 only) on the same E01, in the same run.
#   SAFEHOLD=build/release/tools/safehold bench/read.sh [SIZE_MIB]
set -euo pipefail
SAFEHOLD=${SAFEHOLD:-build/release/tools/safehold}
SIZE_MIB=${1:-1024}
work=${BENCH_DIR:-/tmp/safehold-bench}/read
mkdir -p "$work"
raw="$work/mixed-$SIZE_MIB.raw"
if [ ! -f "$raw" ]; then
  q=$((SIZE_MIB / 4))
  {
    head -c $((2 * q * 1048576)) /dev/zero
    { openssl enc -aes-128-ctr -nosalt -pass pass:safehold -pbkdf2 -in /dev/zero 2>/dev/null || true; } | head -c $((q * 1048576))
    { seq -f "line %.0f of the Safehold benchmark text, words that compress well enough" 1 100000000 || true; } | head -c $((q * 1048576))
  } >"$raw"
fi
e01="$work/mixed-$SIZE_MIB"
[ -f "$e01.E01" ] || ewfacquire -u -q -t "$e01" -c deflate:fast -d sha1 "$raw" >/dev/null
want=$(md5sum "$raw" | cut -d' ' -f1)

best() { # best-of-3 "wall CPU" seconds of a command (CPU = user+sys, which other load distorts less)
  local b= c=
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>&1 || true
    read -r e u s <"$work/time"
    b=$(echo "$e ${b:-999999}" | awk '{print ($1<$2)?$1:$2}')
    c=$(echo "$u $s ${c:-999999}" | awk '{t=$1+$2; print (t<$3)?t:$3}')
  done
  echo "$b $c"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
got=$("$SAFEHOLD" hash --hash md5 --json "$e01.E01" | python3 -c 'import json,sys; print(json.load(sys.stdin)["md5"])')
[ "$got" = "$want" ] || { echo "MD5 mismatch: safehold $got, md5sum $want" >&2; exit 1; }
read -r t_safehold c_safehold <<<"$(best "$SAFEHOLD" hash --hash md5 "$e01.E01")"
read -r t_ewf c_ewf <<<"$(best ewfverify -q "$e01.E01")"
mib=$SIZE_MIB
printf 'load average before the timed runs: %s\n' "$load"
printf 'image: %s MiB mixed, E01 deflate:fast (%s bytes), %s cores\n' "$mib" "$(stat -c %s "$e01.E01")" "$(nproc)"
printf 'safehold hash --hash md5 : %6.2f s  %7.1f MiB/s  %5.2f CPU s\n' "$t_safehold" "$(echo "$mib $t_safehold" | awk '{print $1/$2}')" "$c_safehold"
printf 'ewfverify (md5)       : %6.2f s  %7.1f MiB/s  %5.2f CPU s\n' "$t_ewf" "$(echo "$mib $t_ewf" | awk '{print $1/$2}')" "$c_ewf"
printf 'ratio ewfverify/safehold : %.2fx\n' "$(echo "$t_ewf $t_safehold" | awk '{print $1/$2}')"
