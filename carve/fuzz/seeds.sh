#!/usr/bin/env bash
# Seeds for the walker fuzz targets: small files made by the real encoders, one folder per target
# under SEEDS (SEEDS/jpeg for fuzz_jpeg, ...). Called by .ci/fuzz.sh.  usage: seeds.sh SEEDS
set -uo pipefail
seeds=$1
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
exit 0
