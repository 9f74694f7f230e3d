#!/usr/bin/env bash
# PDQ hashing rate on camera-sized JPEGs, before and after: bench/pdq_speed.cpp built with the same
# flags (g++ -O3 -DNDEBUG, as the Release build) against BASE's pdq/ ("before") and the working
# tree's ("full": the reference's full decode; "scaled": the DCT-scaled decode carving uses), run in
# ROUNDS interleaved rounds; prints each run, the median per mode, whether before and full give
# identical hashes, and callgrind instruction counts of hash_encoded per image (the machine is
# shared, so instructions are the comparison that load does not distort).
# usage: bench/pdq.sh [IMAGES] [ROUNDS] [REPS]   (defaults 8 3 2)   BASE=commit (default 163fd83,
# the last commit before the scaled decode); WORK=folder keeps images between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-8}
ROUNDS=${2:-3}
REPS=${3:-2}
BASE=${BASE:-163fd83}
WORK=${WORK:-$(mktemp -d /tmp/safehold-bench-pdq-XXXXXX)}
mkdir -p "$WORK/img" "$WORK/before"
echo "work folder: $WORK; base $BASE ($(git rev-parse --short "$BASE")), after $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- pdq bench || echo '+changes')"

CXX="g++ -std=c++20 -O3 -DNDEBUG"
LIBS="-ljpeg -lpng -lz -lfmt"
git archive "$BASE" pdq | tar -x -C "$WORK/before"
$CXX -DSAFEHOLD_PDQ_BEFORE -I"$WORK/before" bench/pdq_speed.cpp "$WORK"/before/pdq/*.cpp \
  -o "$WORK/speed_before" $LIBS
$CXX -I. bench/pdq_speed.cpp pdq/*.cpp -o "$WORK/speed_after" $LIBS

# Camera-sized synthetic photographs (plasma, shapes, sensor-like noise), 8-14 MP, 4:2:0, q88-95.
sizes=(4000x3000 3264x2448 4032x3024 3000x4000 4608x3456 3840x2160 4160x3120 2448x3264)
for i in $(seq 1 "$N"); do
  f="$WORK/img/cam$i.jpg"
  [ -f "$f" ] && continue
  sz=${sizes[$(((i - 1) % ${#sizes[@]}))]}
  w=${sz%x*} h=${sz#*x}
  convert -seed "$i" -size $((w / 4))x$((h / 4)) plasma:fractal -resize "${w}x${h}!" \
    -fill "rgb($((i * 40 % 255)),90,200)" -draw "circle $((w / 2)),$((h / 2)) $((w / 2 + w / 6)),$((h / 2))" \
    -fill "rgb(240,$((i * 70 % 255)),30)" -draw "rectangle $((w / 8)),$((h / 8)) $((w / 3)),$((h / 2))" \
    -attenuate 0.2 +noise Gaussian -sampling-factor 2x2 -quality $((88 + i % 8)) "$f"
done
imgs=("$WORK"/img/cam*.jpg)
echo "images: ${#imgs[@]}, $(du -ch "${imgs[@]}" | tail -1 | cut -f1) in all"

PDQ_PRINT_HASHES=1 "$WORK/speed_before" before 1 "${imgs[@]}" | tail -n +2 >"$WORK/h.before"
PDQ_PRINT_HASHES=1 "$WORK/speed_after" full 1 "${imgs[@]}" | tail -n +2 >"$WORK/h.full"
if cmp -s "$WORK/h.before" "$WORK/h.full"; then echo "full decode: hashes identical to before"; else
  echo "full decode: HASHES DIFFER from before"; exit 1; fi

: >"$WORK/runs"
for r in $(seq 1 "$ROUNDS"); do
  "$WORK/speed_before" before "$REPS" "${imgs[@]}" | tee -a "$WORK/runs"
  "$WORK/speed_after" full "$REPS" "${imgs[@]}" | tee -a "$WORK/runs"
  "$WORK/speed_after" scaled "$REPS" "${imgs[@]}" | tee -a "$WORK/runs"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/runs" <<'PY'
import re, statistics, sys
rate = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+): .* CPU [\d.]+ s: ([\d.]+) images/s, ([\d.]+) MP/s; wall ([\d.]+) s", line)
    rate.setdefault(m.group(1), []).append((float(m.group(2)), float(m.group(3))))
b = statistics.median(x[0] for x in rate["before"])
for mode, v in rate.items():
    med = statistics.median(x[0] for x in v)
    print("%-7s median %.2f images/s (%.1f MP/s) per CPU-second, %.2fx before" %
          (mode, med, statistics.median(x[1] for x in v), med / b))
PY

if command -v valgrind >/dev/null; then
  one=${imgs[0]}
  for m in before full scaled; do
    bin=$WORK/speed_after
    [ $m = before ] && bin=$WORK/speed_before
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$m" \
      --toggle-collect='safehold::pdq::hash_encoded*' "$bin" $m 1 "$one" >/dev/null 2>"$WORK/cg.$m.log"
    echo "callgrind, hash_encoded of $(basename "$one") ($(identify -format %wx%h "$one")): $m $(sed -n 's/.*Collected : //p' "$WORK/cg.$m.log") instructions"
  done
fi
[ -n "${KEEP:-}" ] || rm -rf "$WORK"
