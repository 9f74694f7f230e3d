#!/usr/bin/env bash
# Seeds for fuzz_video: tiny clips made by ffmpeg (synthetic test patterns only), a few KiB each.
# usage: seeds.sh SEEDS
set -uo pipefail
d=$1/video
mkdir -p "$d"
command -v ffmpeg >/dev/null || exit 0
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
ff -f lavfi -i testsrc2=size=64x48:rate=4:duration=2 -c:v libx264 -preset ultrafast -g 4 \
  -pix_fmt yuv420p "$d/h264.mp4"
ff -f lavfi -i testsrc=size=48x32:rate=2:duration=2 -c:v mpeg4 -q:v 10 "$d/mpeg4.avi"
ff -f lavfi -i smptebars=size=32x32:rate=2:duration=1 -c:v mjpeg -q:v 20 "$d/mjpeg.mkv"
exit 0
