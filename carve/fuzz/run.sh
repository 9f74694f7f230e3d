#!/usr/bin/env bash
# Builds the walker fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each briefly,
# seeded with small files made by the real encoders. usage: carve/fuzz/run.sh [SECONDS_EACH]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-${FUZZ_SECONDS:-20}}
BUILD=${FUZZ_BUILD:-build/fuzz}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSAFEHOLD_FUZZ=ON -DSAFEHOLD_WERROR=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
targets=(jpeg png gif bmp riff tiff isobmff asf ebml sqlite)
cmake --build "$BUILD" -j "${JOBS:-2}" --target "${targets[@]/#/fuzz_}"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mk() { mkdir -p "$seeds/$1"; shift; "$@" >/dev/null 2>&1 || true; }
ff="ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=duration=1:size=64x48:rate=5 -threads 1"
mk jpeg /usr/bin/convert -size 48x32 plasma:fractal "$seeds/jpeg/a.jpg"
mk jpeg /usr/bin/convert -size 48x32 gradient:red-blue -interlace Plane "$seeds/jpeg/p.jpg"
mk png /usr/bin/convert -size 32x24 pattern:checkerboard "$seeds/png/a.png"
mk gif /usr/bin/convert -size 32x24 plasma:fractal "$seeds/gif/a.gif"
mk bmp /usr/bin/convert -size 16x12 gradient:green-blue "$seeds/bmp/a.bmp"
mk riff /usr/bin/convert -size 32x24 plasma:fractal "$seeds/riff/a.webp"
mk riff $ff -c:v mpeg4 -f avi "$seeds/riff/a.avi"
mk tiff /usr/bin/convert -size 16x12 plasma:fractal -compress none "$seeds/tiff/a.tif"
mk isobmff $ff -c:v mpeg4 -f mp4 "$seeds/isobmff/a.mp4"
mk isobmff $ff -c:v mpeg4 -f mov "$seeds/isobmff/a.mov"
mk asf $ff -c:v wmv2 -f asf "$seeds/asf/a.wmv"
mk ebml $ff -c:v mpeg4 -f matroska "$seeds/ebml/a.mkv"
mk sqlite sqlite3 "$seeds/sqlite/a.db" "create table t(a,b); insert into t values(1,'x');"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$seeds/$t"
  echo "fuzz_$t: ${SECS}s"
  if ! "$BUILD/carve/fuzz_$t" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
       -print_final_stats=0 "$seeds/$t" >"$seeds/$t.log" 2>&1; then
    tail -40 "$seeds/$t.log"
    status=1
  fi
done
exit $status
