#!/usr/bin/env bash
# CPU benchmarks of issue "speed", one run each, ratios only:
#   engine surface throughput vs the best pure forward pass (target >= 0.95), and
#   vs a straightforward PyTorch loop in the reference's style (target >= 1.5),
# for ResNet-20 and an MLP on Fashion-MNIST.
# Usage: bench/cpu.sh [SAMPLES=10000] [THREADS=cores] [POINTS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES=${1:-10000}
THREADS=${2:-$(nproc)}
POINTS=${3:-3}
BUILD=${LANDSCAPE_BUILD_DIR:-build}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PY=/usr/bin/python3
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
# The machine's measured limit: float32 FMA (and bfloat16 dot-product) rate on THREADS cores.
"$BUILD/bench/landscape-bench-peak" --threads "$THREADS" --json "$OUT/peak.json"
printf "%-15s %8s %12s %5s %14s %14s %14s %14s %9s %9s %9s %9s\n" model batch engine_path lanes fwd_plain fwd_best engine ref_loop eng/best eng/ref eng/refP loss_diff
# The third row: ResNet-20 evaluated in bfloat16 (NHWC), against the same float32 loops (run once, in
# the first row); loss_diff is its largest relative loss difference from float32 at the points measured.
for config in resnet20 mlp resnet20:bf16; do
  arch=${config%%:*}
  name=${config/:/.}
  extra=()
  [[ $config == *:bf16 ]] && extra=(--precision bf16 --channels-last)
  if [[ ! -f "$OUT/$arch.pt" ]]; then
    "$BUILD/client/landscape" export-arch --arch "$arch" --input 1x28x28 --out "$OUT/$arch.pt" >/dev/null
    $PY bench/model_flops.py --model "$OUT/$arch.pt" --input 1x28x28 >"$OUT/$arch.flops"
  fi
  "$BUILD/bench/engine_bench" --model "$OUT/$arch.pt" --samples "$SAMPLES" --threads "$THREADS" \
    --points "$POINTS" --rounds 3 --auto-batch "${extra[@]}" --dirs-out "$OUT/$name.dirs.h5" \
    --json "$OUT/$name.engine.json" >"$OUT/$name.engine.txt"
  if [[ $config != *:bf16 ]]; then
    # The reference-style loop as users run it (default OpenMP settings) and with passive waiting.
    env -u OMP_WAIT_POLICY $PY bench/reference_loop.py --model "$OUT/$arch.pt" --dirs "$OUT/$arch.dirs.h5" \
      --samples "$SAMPLES" --threads "$THREADS" --points "$POINTS" --json "$OUT/$arch.ref.json" >/dev/null
    OMP_WAIT_POLICY=PASSIVE $PY bench/reference_loop.py --model "$OUT/$arch.pt" --dirs "$OUT/$arch.dirs.h5" \
      --samples "$SAMPLES" --threads "$THREADS" --points "$POINTS" --json "$OUT/$arch.refp.json" >/dev/null
  fi
  $PY - "$arch" "$name" "$OUT" <<'PYEOF'
import json, sys
arch, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
peak = json.load(open(f"{out}/peak.json"))
flops = float(open(f"{out}/{arch}.flops").read())
e = json.load(open(f"{out}/{name}.engine.json"))
r = json.load(open(f"{out}/{arch}.ref.json"))
rp = json.load(open(f"{out}/{arch}.refp.json"))
rates = [e["forward_plain_samples_per_s"], e["forward_optimized_samples_per_s"], e["forward_reduced_samples_per_s"]]
best = max(rates)
batches = f"{e['batch']}/{e['forward_batches'][rates.index(best)]}"
eng = e["engine_point_samples_per_s"]
diff = "-" if e["loss_rel_diff_vs_fp32"] is None else f"{e['loss_rel_diff_vs_fp32']:.2g}"
print(f"{name:<15} {batches:>8} {e['engine_path']:>12} {e['lanes']:5d} {e['forward_plain_samples_per_s']:14.1f} {best:14.1f} "
      f"{eng:14.1f} {r['point_samples_per_s']:14.1f} {eng / best:9.3f} {eng / r['point_samples_per_s']:9.3f} "
      f"{eng / rp['point_samples_per_s']:9.3f} {diff:>9}")
# Against the machine's limit: the model's FLOPs per sample x samples per second, over the measured peak
# (float32 FMA; bfloat16 dot products for the bf16 row). Above 100 % = less arithmetic than the model's
# count (the cached first layer).
lim = peak["bf16_gflops"] if name.endswith("bf16") else peak["fp32_gflops"]
kind = "bf16" if name.endswith("bf16") else "fp32"
with open(f"{out}/arith.txt", "a") as f:
    gf = lambda rate: rate * flops / 1e9
    loop = "" if name.endswith("bf16") else (f"   reference loop {gf(r['point_samples_per_s']):7.1f} GFLOP/s "
                                             f"= {100 * gf(r['point_samples_per_s']) / lim:5.1f} %")
    f.write(f"{name:<15} {flops / 1e6:8.2f} MFLOP/sample   engine {gf(eng):7.1f} GFLOP/s = {100 * gf(eng) / lim:5.1f} % "
            f"of the {kind} peak {lim:.0f}   best forward {gf(best):7.1f} = {100 * gf(best) / lim:5.1f} %{loop}\n")
PYEOF
done
echo "(samples/s; engine and ref_loop in grid-point x samples per second; fwd_best = the best forward pass (frozen+optimized,"
echo " or in bf16 for the bf16 row); refP = reference loop with OMP_WAIT_POLICY=PASSIVE;"
echo " $SAMPLES Fashion-MNIST training images, $THREADS threads, $POINTS points after a warm-up; the reference loop uses"
echo " batch 128 (the reference's default); batch = the engine's / the best forward pass's, each chosen by measurement)"
echo "against the machine's measured limit (landscape-bench-peak: float32 FMA $($PY -c "import json; p=json.load(open('$OUT/peak.json')); print(f\"{p['fp32_gflops']:.0f} GFLOP/s, bfloat16 dot {p['bf16_gflops'] or 0:.0f}\")") on $THREADS threads):"
cat "$OUT/arith.txt"
