#!/usr/bin/env bash
# `make demo`: the whole chain on locally generated sample evidence, in queue order, headless.
# Generates three small disk images (phone, laptop, USB stick) with synthetic media and chat
# databases, registers six devices across three cases in a fresh embedded queue, runs a worker,
# records midway that a suspect lives with children, runs the worker until the queue is empty, and
# prints the processing order with reasons, the safeguarding alert, and what was found per device.
set -euo pipefail
cd "$(dirname "$0")/.."
SAFEHOLD=${SAFEHOLD:-build/release/tools/safehold}
SAFEHOLD=$(realpath "$SAFEHOLD")
OUT=${DEMO_OUT:-demo-out}
rm -rf "$OUT"
mkdir -p "$OUT/sources"
OUT=$(realpath "$OUT")
DB="$OUT/queue.db"
q() { "$SAFEHOLD" queue "$@" --db "$DB" --user demo-manager; }
start=$(date +%s)

echo "== Generating sample evidence (real encoders, synthetic content only)"
tools/sample_evidence.sh "$OUT/samples" >/dev/null
# Six seized devices; each has its own source image (copies of the three kinds).
cp "$OUT/samples/laptop.raw" "$OUT/sources/C-LT-2.raw"
cp "$OUT/samples/usb.raw" "$OUT/sources/C-USB-2.raw"
cp "$OUT/samples/phone.raw" "$OUT/sources/A-PH-1.raw"
cp "$OUT/samples/laptop.raw" "$OUT/sources/A-LT-1.raw"
cp "$OUT/samples/usb.raw" "$OUT/sources/B-USB-1.raw"
cp "$OUT/samples/phone.raw" "$OUT/sources/B-PH-2.raw"

echo "== Registering three cases, three suspects, six devices"
"$SAFEHOLD" queue init --db "$DB" >/dev/null
q case add OP-CHARLIE --risk very-high --offence "indecent images" --officer "DC One" >/dev/null
q case add OP-ALPHA --risk high --offence "indecent images" --officer "DC Two" >/dev/null
q case add OP-BRAVO --risk medium --offence "indecent images" --officer "DC Three" >/dev/null
q suspect add SUS-C1 --case OP-CHARLIE --children no --access-to-children no >/dev/null
q suspect add SUS-A1 --case OP-ALPHA --children no --access-to-children no >/dev/null
q suspect add SUS-B1 --case OP-BRAVO --children unknown --access-to-children unknown >/dev/null
q device add C-LT-2 --suspect SUS-C1 --class computer --source "$OUT/sources/C-LT-2.raw" >/dev/null
q device add C-USB-2 --suspect SUS-C1 --class removable --source "$OUT/sources/C-USB-2.raw" >/dev/null
q device add A-PH-1 --suspect SUS-A1 --class phone --source "$OUT/sources/A-PH-1.raw" >/dev/null
q device add A-LT-1 --suspect SUS-A1 --class computer --source "$OUT/sources/A-LT-1.raw" >/dev/null
q device add B-USB-1 --suspect SUS-B1 --class removable --source "$OUT/sources/B-USB-1.raw" >/dev/null
q device add B-PH-2 --suspect SUS-B1 --class phone --source "$OUT/sources/B-PH-2.raw" >/dev/null
echo
echo "Queue at intake:"
q list
echo

jobs="$OUT/jobs.jsonl"
echo "== Worker 'demo-station' takes the first four jobs"
"$SAFEHOLD" work --db "$DB" --station demo-station --evidence-dir "$OUT/evidence" --max-jobs 4 --exit-when-empty \
  --json >>"$jobs" 2>"$OUT/work.log"
echo
echo "== Midway: a home visit finds that suspect SUS-B1 lives with two children"
q suspect set SUS-B1 --children yes --children-count 2 --age-bands "0-4,5-11" \
  --reason "Home visit by the case officer found two children living with the suspect"
echo
echo "Safeguarding alerts (referral to children's social care due within 24 hours):"
q alerts
echo
echo "Queue now:"
q list
echo
echo "== The worker goes on until the queue is empty"
"$SAFEHOLD" work --db "$DB" --station demo-station --evidence-dir "$OUT/evidence" --exit-when-empty \
  --json >>"$jobs" 2>>"$OUT/work.log"
echo
python3 - "$jobs" "$OUT" <<'PY'
import json, sys, os
jobs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
print("== Processing order (each device is imaged, then carved)")
print(f"{'#':>2}  {'job':<8} {'exhibit':<8} {'case':<11} {'tier':<5} {'risk':<10} {'class':<10} result")
for i, j in enumerate(jobs, 1):
    why = "tier 0: suspect lives with / has access to children" if j["tier"] == 0 else f"risk {j['risk']}, {j['class']}"
    print(f"{i:>2}  {j['job']:<8} {j['exhibit']:<8} {j['case']:<11} {j['tier']:<5} {j['risk']:<10} {j['class']:<10} "
          f"{'ok' if j['ok'] else 'FAILED ' + j['error']}   ({why})")
print()
print("== What was found, per device")
print(f"{'exhibit':<8} {'image MD5':<33} {'artefacts':>9} {'messages':>8}  by type / reports")
acq = {j["exhibit"]: j for j in jobs if j["job"] == "acquire" and j["ok"]}
for j in jobs:
    if j["job"] != "carve" or not j["ok"]:
        continue
    r = j["result"]
    a = acq.get(j["exhibit"], {}).get("result", {})
    types = ", ".join(f"{k} {v}" for k, v in sorted(r.get("by_type", {}).items()))
    print(f"{j['exhibit']:<8} {a.get('md5', '?'):<33} {r['artefacts']:>9} {r['messages']:>8}  {types}")
    # Only the reports this device has (messages.* only where chats were found).
    folder = os.path.dirname(r["report"])
    names = [n for n in ("report.html", "report.jsonl", "messages.jsonl", "messages.csv",
                         "dfxml.xml", "summary.json")
             if os.path.exists(os.path.join(folder, n))
             and (not n.startswith("messages.") or r.get("messages", 0) > 0)]
    print(f"{'':<8} reports: {folder}/{{{', '.join(names)}}}")
failed = [j for j in jobs if not j["ok"]]
sys.exit(1 if failed else 0)
PY
echo
echo "Audit chain:"
q audit --verify
echo
echo "Demo finished in $(( $(date +%s) - start )) s. Evidence and reports are under $OUT/evidence (0700)."
