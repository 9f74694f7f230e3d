#!/usr/bin/env bash
# Video frame hashing (pdq/video.hpp) against vPDQ's reference C++ (ThreatExchange vpdq/cpp,
# built here from its source): frames decoded per second of each on the same synthetic 1080p
# phone-like H.264 clips (one frame hashed a second), runs interleaved, medians of RUNS; then
# the drift: per hashed frame, the Hamming distance between the two tools' hashes. With the
# ThreatExchange checkout's own sample videos (tmk/sample-videos) present, also the distance to
# the hashes it publishes for them (vpdq/sample-hashes, made by the reference with another FFmpeg).
# usage: bench/video.sh [SECONDS] [RUNS]   (defaults 90 3)
#   THREATEXCHANGE=DIR  a checkout of github.com/facebook/ThreatExchange (default: cloned, depth 1)
# The reference's CMakeLists asks pkg-config for libavdevice and libavfilter, which its code never
# uses (and which Safehold's packages do not install): they are dropped from its copy here.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-90}
RUNS=${2:-3}
out=$(mktemp -d /tmp/safehold-bench-video-XXXXXX)
trap 'rm -rf "$out"' EXIT
te=${THREATEXCHANGE:-}
if [ -z "$te" ]; then
  git clone -q --depth 1 https://github.com/facebook/ThreatExchange "$out/te"
  te=$out/te
fi
echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "-- vPDQ reference: $(git -C "$te" rev-parse --short HEAD 2>/dev/null || echo "$te")"
cp -r "$te/vpdq/cpp" "$out/vpdq"
rm -rf "$out/vpdq/build"
sed -i '/^    libavdevice$/d;/^    libavfilter$/d' "$out/vpdq/CMakeLists.txt"
cmake -S "$out/vpdq" -B "$out/vpdq/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$out/vpdq/build" -j "${JOBS:-2}" --target vpdq-hash-video >/dev/null
ref=$(find "$out/vpdq/build" -type f -name vpdq-hash-video -perm -u+x | head -1)
# Safehold's side, built like the Release build.
g++ -std=c++20 -O3 -DNDEBUG -I. bench/video_hash.cpp pdq/video.cpp pdq/pdq.cpp pdq/blur.cpp \
  pdq/decode.cpp -o "$out/ours" $(pkg-config --cflags --libs libavformat libavcodec libswscale \
  libavutil libjpeg libpng fmt) -pthread

# Phone-like clips: 1920x1080, 30 frames a second, H.264 High profile, 4:2:0, GOP 30, ~12 Mbit/s.
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
enc="-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 30 -b:v 12M -maxrate 15M -bufsize 24M"
ff -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$SECS" $enc "$out/a-testsrc2.mp4"
ff -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$SECS" \
  -vf "hue=H=2*PI*t/20,noise=alls=12:allf=t+u" $enc "$out/b-noise.mp4"
ff -f lavfi -i "smptehdbars=size=1920x1080:rate=30:duration=$SECS" \
  -vf "rotate=angle=t/3:fillcolor=navy,noise=alls=6:allf=t" $enc "$out/c-bars.mp4"

drift() {  # OURS REF: per frame (by number) the Hamming distance between the two hashes
  python3 - "$1" "$2" <<'PY'
import sys, collections
def load(p):
    out = {}
    for l in open(p):
        f = l.strip().split(',')
        if len(f) >= 3: out[int(f[0])] = (int(f[1]), f[2])
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
common = sorted(set(a) & set(b))
d = [bin(int(a[k][1], 16) ^ int(b[k][1], 16)).count('1') for k in common]
hist = collections.Counter(d)
q = sum(a[k][0] != b[k][0] for k in common)
print(f"  drift: {len(common)} frames in both ({len(a)} Safehold, {len(b)} reference); distance:frames "
      + " ".join(f"{k}:{hist[k]}" for k in sorted(hist)) + f"; max {max(d) if d else '-'}; "
      + f"within 31: {sum(x <= 31 for x in d)}; quality differs on {q}")
PY
}
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for clip in "$out"/*.mp4; do
  name=$(basename "$clip" .mp4)
  frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$clip")
  : >"$out/$name.ours"
  : >"$out/$name.ref"
  for run in $(seq "$RUNS"); do
    "$out/ours" "$clip" "$out/$name.ours.txt" | awk '{ printf "%.1f\n", $1 / $2 }' >>"$out/$name.ours"
    t0=$(date +%s.%N)
    "$ref" -i "$clip" -o "$out/$name.ref.txt" -r 1
    t1=$(date +%s.%N)
    awk -v f="$frames" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", f / (b - a) }' >>"$out/$name.ref"
  done
  echo "$name ($frames frames): Safehold $(med "$out/$name.ours") frames/s, vPDQ $(med "$out/$name.ref") frames/s" \
    "(medians of $RUNS; Safehold $(tr '\n' ' ' <"$out/$name.ours")| vPDQ $(tr '\n' ' ' <"$out/$name.ref"))"
  drift "$out/$name.ours.txt" "$out/$name.ref.txt"
done

# The reference's own sample videos against the hashes it publishes for them (every frame).
if [ -d "$te/tmk/sample-videos" ] && [ -d "$te/vpdq/sample-hashes" ]; then
  echo "-- ThreatExchange's sample videos, every frame: Safehold and this build of the reference against vpdq/sample-hashes"
  for v in "$te"/tmk/sample-videos/*.mp4; do
    name=$(basename "$v" .mp4)
    [ -f "$te/vpdq/sample-hashes/$name.txt" ] || continue
    if ! "$out/ours" "$v" "$out/s.txt" 0 >/dev/null 2>"$out/s.err"; then
      echo "$name: $(cat "$out/s.err")"
      continue
    fi
    "$ref" -i "$v" -o "$out/r.txt" -r 0
    echo "$name: Safehold vs this reference"; drift "$out/s.txt" "$out/r.txt"
    echo "$name: Safehold vs published"; drift "$out/s.txt" "$te/vpdq/sample-hashes/$name.txt"
  done
fi
