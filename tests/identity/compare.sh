#!/usr/bin/env bash
# Refactoring check (issue "one folder per concern"): runs two builds of the binary on the same
# evidence and shows that every output is byte-identical apart from the tool's name, version,
# timings, free-space readings and paths.
#   usage: tests/identity/compare.sh OLD_BINARY NEW_BINARY [EVIDENCE_DIR]
# EVIDENCE_DIR defaults to fresh sample evidence (tools/sample_evidence.sh) plus the test disk of
# tests/fixtures/make_disk.sh; each *.raw and *.E01 in it is carved by both, each *.raw is also
# acquired by both (E01 files compared through ewfexport of their media and ewfinfo's metadata;
# the E01 files' own sizes differ by a few bytes because the compressed header holds the name).
set -euo pipefail
cd "$(dirname "$0")/../.."
old=$(realpath "$1"); new=$(realpath "$2")
work=$(mktemp -d /tmp/safehold-identity.XXXXXX)
trap 'rm -rf "$work"' EXIT
ev=${3:-}
if [ -z "$ev" ]; then
  ev=$work/evidence
  tools/sample_evidence.sh "$ev" >/dev/null
  # The carve tests' three-partition disk (media from real encoders, deleted files, fragments,
  # chat databases) and the fs tests' four-filesystem MBR disk.
  python3 tests/carve/make_disk.py "$work/carvedisk" --chat-fixtures "$(realpath "${SAFEHOLD_FIXTURES:-../shared/fixtures}")/chat" >/dev/null 2>&1 &&
    mv "$work/carvedisk/disk.raw" "$ev/carve-disk.raw" || echo "note: carve test disk not generated"
  tests/fixtures/make_disk.sh "$work/fsdisk" mbr >/dev/null 2>&1 &&
    mv "$work/fsdisk/disk.raw" "$ev/fs-disk.raw" || echo "note: fs test disk not generated"
fi
# Name, version, timings, free space and absolute paths are expected to differ.
norm() {
  sed -E -e 's/vigil/safehold/g; s/Vigil/Safehold/g; s/VIGIL/SAFEHOLD/g' \
    -e 's/"(duration_seconds|seconds|started|finished|elapsed[a-z_]*|destination_free_bytes|mib_per_s[a-z_]*|rate[a-z_]*)": *[^,}]*/"\1": X/g' \
    -e 's#<(start_time|end_time|elapsed_seconds|clocktime|utime|stime|maxrss|command_line|execution_environment)>[^<]*#<\1>X#g' \
    -e "s#$work/(old|new)#OUT#g" "$1"
}
status=0
for img in "$ev"/*.raw; do
  [ -e "$img" ] || continue
  name=$(basename "$img" .raw)
  for v in old new; do
    bin=$old; [ $v = new ] && bin=$new
    mkdir -p "$work/acq-$v"
    "$bin" acquire "$img" -o "$work/acq-$v/$name" --case C --evidence E --examiner X >/dev/null 2>&1
    ewfexport -q -t "$work/acq-$v/$name.media" -f raw -u "$work/acq-$v/$name.E01" >/dev/null 2>&1
    ewfinfo "$work/acq-$v/$name.E01" | grep -v -E 'Acquisition date|System date|Acquisition software version|Software used' >"$work/acq-$v/$name.info"
  done
  cmp "$work/acq-old/$name.media.raw" "$work/acq-new/$name.media.raw" || status=1
  diff <(sed -e 's/vigil/safehold/g' "$work/acq-old/$name.info") "$work/acq-new/$name.info" || status=1
  diff <(norm "$work/acq-old/$name.acquire.json" | grep -v -E '"(path|image|image_bytes|size)"') \
       <(norm "$work/acq-new/$name.acquire.json" | grep -v -E '"(path|image|image_bytes|size)"') || status=1
  echo "acquire $name: media, EWF metadata and acquisition record compared"
done
for img in "$ev"/*.raw "$ev"/*.E01 "$work"/acq-old/*.E01; do
  [ -e "$img" ] || continue
  name=$(basename "$img")
  case $img in "$work"/acq-old/*) name=e01-$name ;; esac
  for v in old new; do
    bin=$old; [ $v = new ] && bin=$new
    "$bin" carve "$img" -o "$work/$v/$name" >/dev/null 2>&1 || true
  done
  # Artefact files byte for byte; reports after normalisation.
  if ! diff -r -q -x '*.jsonl' -x '*.json' -x '*.xml' -x '*.csv' "$work/old/$name" "$work/new/$name"; then
    status=1
  fi
  for f in $(cd "$work/old/$name" && find . -name '*.jsonl' -o -name '*.json' -o -name '*.xml' -o -name '*.csv'); do
    if ! diff <(norm "$work/old/$name/$f") <(norm "$work/new/$name/$f") >"$work/d" 2>&1; then
      echo "DIFFERS: $name/$f"; head -20 "$work/d"; status=1
    fi
  done
  echo "carve $name: $(find "$work/new/$name" -type f | wc -l) files compared"
done
[ $status = 0 ] && echo "IDENTICAL (apart from name, version, timings and paths)" || echo "OUTPUTS DIFFER"
exit $status
