#!/usr/bin/env bash
# Benchmark of `safehold carve` against its peers, in one run on one generated disk:
#   safehold carve on the E01   vs   tsk_recover -e on each partition + photorec free-space carving
#   on each partition of the raw image.
# Recall is counted by exact SHA-256 against the files the generator put on the disk, per type.
# usage: bench/carve.sh [SCALE]   (SCALE 14 gives a ~1 GiB disk with ~320 media files; needs root
# for the NTFS partition), or bench/carve.sh realistic [MIB] for bench/make_realistic_disk.py's disk
# (camera-sized media, free space full of old files; 4096 MiB by default, up to 32768; needs root).
# SAFEHOLD=path/to/safehold (default build/release/tools/safehold). KEEP=1 keeps the work folder;
# REUSE=1 WORK=that-folder times again on its disk without regenerating it. ROUNDS=N (default 1)
# runs the three tools N times, interleaved, and reports the median round.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-14}
MIB=${2:-4096}
ROUNDS=${ROUNDS:-1}
SAFEHOLD=${SAFEHOLD:-build/release/tools/safehold}
WORK=${WORK:-$(mktemp -d /tmp/safehold-bench-carve-XXXXXX)}
FIX=${SAFEHOLD_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
echo "work folder: $WORK"
chat=()
[ -d "$FIX/chat" ] && chat=(--chat-fixtures "$FIX/chat")
if [ -n "${REUSE:-}" ] && [ -f "$WORK/disk.E01" ] && [ -f "$WORK/gen/truth.json" ]; then
  # REUSE=1 WORK=folder: time again on a disk a previous run kept (KEEP=1), without regenerating it.
  rm -rf "$WORK/safehold" "$WORK/tsk" "$WORK/photorec" "$WORK"/t.safehold* "$WORK"/t.tsk* "$WORK"/t.photorec*
else
  if [ "$SCALE" = realistic ]; then
    python3 bench/make_realistic_disk.py "$WORK/gen" --size-mib "$MIB" "${chat[@]}"
  else
    python3 tests/carve/make_disk.py "$WORK/gen" --scale "$SCALE" "${chat[@]}"
  fi
  ewfacquire -u -q -t "$WORK/disk" -f encase6 -c fast -b 64 -C bench -D disk -E 1 -e bench -N none \
    "$WORK/gen/disk.raw" >/dev/null
fi
DISK=$WORK/gen/disk.raw
echo "disk: $(du -h --apparent-size "$DISK" | cut -f1) raw, $(du -h "$WORK/disk.E01" | cut -f1) E01; $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$WORK/gen/truth.json") files"
sync

# tm FILE CMD...: appends "wall user sys" seconds of CMD to FILE.
tm() { local out=$1; shift; /usr/bin/time -f "%e %U %S" -a -o "$out" "$@"; }

starts=$(sfdisk -d "$DISK" | sed -n 's/.*start= *\([0-9]*\).*/\1/p')
n=$(echo "$starts" | wc -w)
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/safehold" "$WORK/tsk" "$WORK/photorec"
  echo "round $r: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  tm "$WORK/t.safehold.$r" "$SAFEHOLD" carve "$WORK/disk.E01" -o "$WORK/safehold" --json >/dev/null
  i=0
  for s in $starts; do
    i=$((i + 1))
    tm "$WORK/t.tsk.$r" tsk_recover -e -o "$s" "$DISK" "$WORK/tsk/p$i" >/dev/null 2>&1 || true
  done
  mkdir -p "$WORK/photorec"
  for p in $(seq 1 "$n"); do
    (cd "$WORK" && tm "$WORK/t.photorec.$r" photorec /log /d "$WORK/photorec/p$p" /cmd "$DISK" \
       "$p,options,paranoid,fileopt,everything,enable,freespace,search" >/dev/null 2>&1) || true
  done
done

python3 - "$WORK" "$ROUNDS" <<'PY'
import hashlib, json, os, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def times(name, r):
    w = c = 0.0
    for line in open(os.path.join(work, "t.%s.%d" % (name, r))):
        p = line.split()
        if len(p) == 3:
            w += float(p[0]); c += float(p[1]) + float(p[2])
    return w, c
per_round = []
for r in range(1, rounds + 1):
    v, t, p = times("safehold", r), times("tsk", r), times("photorec", r)
    per_round.append((v[0] / max(t[0] + p[0], 1e-9), v, t, p))
    print("round %d: safehold %.2fs | tsk_recover %.2fs + photorec %.2fs | ratio %.2f" % (r, v[0], t[0], p[0], per_round[-1][0]))
# The median round by wall-clock ratio.
_, (safehold_s, safehold_c), (tsk_s, tsk_c), (pr_s, pr_c) = sorted(per_round)[(rounds - 1) // 2]
truth = [t for t in json.load(open(os.path.join(work, "gen", "truth.json"))) if t["expect"] != "damaged"]
want = {t["sha256"]: t["type"] for t in truth}
thumbs = {t["thumbnail"] for t in truth if t.get("thumbnail")}

def hashes(folder):
    out = []
    for root, _, files in os.walk(folder):
        for f in files:
            if f.endswith((".xml", ".log")) or f.startswith("report"):
                continue
            p = os.path.join(root, f)
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            out.append(h.hexdigest())
    return out

vig = [json.loads(l) for l in open(os.path.join(work, "safehold", "report.jsonl"))]
vig_h = [a["sha256"] for a in vig if a["parent"] is None]
tsk_h = hashes(os.path.join(work, "tsk"))
pr_h = hashes(os.path.join(work, "photorec"))
types = sorted(set(want.values()))
def recall(hs, ty):
    s = set(hs)
    return sum(1 for h, t in want.items() if t == ty and h in s)
print("| type | files | safehold | tsk_recover -e | photorec | union of peers |")
print("|---|---|---|---|---|---|")
tot = {"v": 0, "t": 0, "p": 0, "u": 0}
ok = True
for ty in types:
    n = sum(1 for t in want.values() if t == ty)
    v, t_, p = recall(vig_h, ty), recall(tsk_h, ty), recall(pr_h, ty)
    u = recall(set(tsk_h) | set(pr_h), ty)
    tot["v"] += v; tot["t"] += t_; tot["p"] += p; tot["u"] += u
    ok &= v >= u
    print("| %s | %d | %d | %d | %d | %d |" % (ty, n, v, t_, p, u))
print("| **all** | %d | %d | %d | %d | %d |" % (len(want), tot["v"], tot["t"], tot["p"], tot["u"]))
false_v = sum(1 for h in vig_h if h not in want)
false_p = sum(1 for h in pr_h if h not in want)
false_t = sum(1 for h in tsk_h if h not in want)
print()
print("outputs matching no file put on the disk: safehold %d (of %d), photorec %d (of %d), tsk_recover %d (of %d, every file incl. non-media)"
      % (false_v, len(vig_h), false_p, len(pr_h), false_t, len(tsk_h)))
print("wall time: safehold %.2fs (E01) | tsk_recover %.2fs + photorec %.2fs = %.2fs (raw) | ratio safehold/peers %.2f"
      % (safehold_s, tsk_s, pr_s, tsk_s + pr_s, safehold_s / max(tsk_s + pr_s, 1e-9)))
print("cpu time (user+sys): safehold %.2fs | tsk_recover %.2fs + photorec %.2fs = %.2fs | ratio %.2f"
      % (safehold_c, tsk_c, pr_c, tsk_c + pr_c, safehold_c / max(tsk_c + pr_c, 1e-9)))
print("targets: recall >= union for every type: %s; false outputs <= photorec's: %s; time <= half: %s"
      % ("yes" if ok else "NO", "yes" if false_v <= false_p else "NO", "yes" if safehold_s <= (tsk_s + pr_s) / 2 else "NO"))
PY
[ -n "${KEEP:-}" ] || rm -rf "$WORK"
