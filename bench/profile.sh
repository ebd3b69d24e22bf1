#!/usr/bin/env bash
# Where a point's time goes on CPUs: runs `landscape local` with oneDNN's verbose log and breaks the
# evaluation phase down by primitive (convolution, sum, eltwise, reorder, ...), then rates every
# convolution shape in GFLOP/s per core against the machine's measured float32 FMA peak
# (landscape-bench-peak). Needs LibTorch built with oneDNN (Debian's is).
# Usage: bench/profile.sh [ARCH|MODEL.pt=resnet20] [SAMPLES=4096] [THREADS=cores] [BATCH=32] [POINTS=5] [landscape local options...]
#   e.g. bench/profile.sh resnet20 4096 2 64 5 --precision bf16 --channels-last
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-resnet20}
SAMPLES=${2:-4096}
THREADS=${3:-$(nproc)}
BATCH=${4:-32}
POINTS=${5:-5}
shift $(( $# < 5 ? $# : 5 ))
BUILD=${LANDSCAPE_BUILD_DIR:-build}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PY=/usr/bin/python3
if [[ $MODEL != *.pt ]]; then
  "$BUILD/client/landscape" export-arch --arch "$MODEL" --input 1x28x28 --out "$OUT/model.pt" >/dev/null
  MODEL="$OUT/model.pt"
fi
"$BUILD/bench/landscape-bench-peak" --threads "$THREADS" --json "$OUT/peak.json" >/dev/null
ONEDNN_VERBOSE=1 ONEDNN_VERBOSE_TIMESTAMP=1 "$BUILD/client/landscape" local --model "$MODEL" \
  --data fashion-mnist --max-samples "$SAMPLES" --x "-1:1:$POINTS" --batch-size "$BATCH" --threads "$THREADS" \
  --out "$OUT/surface.h5" --json "$OUT/summary.json" "$@" >"$OUT/log.txt" 2>&1 ||
  { cat "$OUT/log.txt" | grep -v '^onednn_verbose' >&2; exit 1; }
grep -v '^onednn_verbose' "$OUT/log.txt" | grep -E 'points evaluated|set up in' || true
$PY - "$OUT" "$THREADS" <<'PYEOF'
import collections, json, re, sys
out, threads = sys.argv[1], int(sys.argv[2])
peak = json.load(open(f"{out}/peak.json"))
summary = json.load(open(f"{out}/summary.json"))
log = open(f"{out}/log.txt").read().splitlines()
m = re.search(r"split over (\d+) single-threaded lanes", "\n".join(log))
lanes = int(m.group(1)) if m else 1
per_primitive = 1 if lanes > 1 else threads  # threads inside one primitive
# onednn_verbose,<timestamp ms>,exec,cpu,<primitive>,<impl>,<prop>,<mds>,<attrs>,<aux>,<problem>,<ms>
rows = [l.split(",") for l in log if l.startswith("onednn_verbose,") and ",exec,cpu," in l]
rows = [(float(r[1]), r[4], r[5], r[-2], float(r[-1]), r[7]) for r in rows]  # ..., memory descriptors
evaluate_ms = summary["timings_s"]["evaluate"] * 1000
end = max(r[0] for r in rows)
window = [r for r in rows if r[0] >= end - evaluate_ms]  # the evaluation phase: its last `evaluate` ms
busy = sum(r[4] for r in window)
print(f"evaluation: {summary['points']} points in {evaluate_ms / 1000:.2f} s; {lanes} lane(s) x "
      f"{per_primitive} thread(s) per primitive; oneDNN primitives busy {100 * busy / (evaluate_ms * lanes):.0f} % "
      f"of that time (the rest: LibTorch's own operators, the loss, dispatch, the weights of each point)")
kinds = collections.Counter()
for r in window:
    kinds[f"{r[1]} ({r[2]})"] += r[4]
print("oneDNN time by primitive:")
for k, ms in kinds.most_common():
    print(f"  {k:<36} {100 * ms / busy:5.1f} %")
bf16 = any("src_bf16" in r[5] for r in window if r[1] == "convolution")
core_peak = (peak["bf16_gflops"] if bf16 and peak["bf16_gflops"] else peak["fp32_gflops"]) / threads
flops, ms = collections.Counter(), collections.Counter()
for r in window:
    if r[1] != "convolution":
        continue
    g = lambda k: int(re.search(k + r"(\d+)", r[3]).group(1))
    key = f"{g('ic'):>3}->{g('oc'):<3} {g('kh')}x{g('kw')} /{g('sh')} out {g('oh')}x{g('ow')}"
    flops[key] += 2 * g("mb") * g("ic") * g("oc") * g("oh") * g("ow") * g("kh") * g("kw")
    ms[key] += r[4]
kind = "bfloat16 dot-product" if bf16 and peak["bf16_gflops"] else "float32 FMA"
print(f"convolutions, GFLOP/s per core against the {kind} peak per core ({core_peak:.0f} GFLOP/s, "
      f"measured with {threads} threads busy):")
for k in sorted(ms, key=lambda k: -ms[k]):
    rate = flops[k] / ms[k] / 1e6 / per_primitive
    print(f"  {k:<28} {100 * ms[k] / busy:5.1f} % of oneDNN time  {rate:6.1f} GFLOP/s  {100 * rate / core_peak:5.1f} %")
if ms:
    rate = sum(flops.values()) / sum(ms.values()) / 1e6 / per_primitive
    print(f"  all convolutions: {rate:.1f} GFLOP/s per core = {100 * rate / core_peak:.1f} % of the peak")
PYEOF
