#!/usr/bin/env bash
# Proves that .ci/check_layers.py fails on a forbidden include, a forbidden link, a use of
# fs/internal/ and a header cycle: copies the tree, plants one of each, and expects exactly those
# violations (exit 1). usage: .ci/check_layers_selftest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$tmp"
python3 .ci/check_layers.py "$tmp" >/dev/null || { echo "check_layers fails on the clean tree" >&2; exit 1; }
sed -i '0,/^#include "/s//#include "fs\/evidence.hpp"\n#include "/' "$tmp/scheduler/model.cpp"
echo 'target_link_libraries(safehold_carve PUBLIC safehold_server)' >>"$tmp/carve/CMakeLists.txt"
echo '#include "fs/internal/ewf_chunks.hpp"' >>"$tmp/carve/view.hpp"
echo '#include "carve/known_mark.hpp"' >>"$tmp/carve/artefact.hpp"
set +e
out=$(python3 .ci/check_layers.py "$tmp")
rc=$?
set -e
echo "$out"
[ $rc -eq 1 ] || { echo "expected exit 1, got $rc" >&2; exit 1; }
grep -q '^scheduler/model.cpp:1: includes fs/evidence.hpp: scheduler/ may not use fs/' <<<"$out" ||
  grep -q '^scheduler/model.cpp:[0-9]*: includes fs/evidence.hpp: scheduler/ may not use fs/' <<<"$out"
grep -q '^carve/CMakeLists.txt: links safehold_server: carve/ may not use server/' <<<"$out"
grep -q '^carve/view.hpp:[0-9]*: includes fs/internal/ewf_chunks.hpp: fs/internal/ is private to fs/' <<<"$out"
grep -q '^include cycle: carve/artefact.hpp -> carve/known_mark.hpp -> carve/artefact.hpp' <<<"$out"
grep -q '^check_layers: 4 violation(s)' <<<"$out"
echo "check_layers self-test: the four planted violations were reported"
