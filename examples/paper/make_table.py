"""Summarizes examples/paper/run.sh's outputs as a Markdown table."""
import json
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]


def load(name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def test_error(run):
    log = load(os.path.join(run, "train.json"))["log"]
    accs = [e["test_acc"] for e in log if e["test_acc"] >= 0]
    return 100.0 - accs[-1] if accs else float("nan")


def roughness(h5):
    """Fraction of the grid's interior points that are not on a convex-looking slope:
    the share of points where the discrete 2-D Laplacian of the loss is negative."""
    with h5py.File(os.path.join(out, h5), "r") as f:
        z = np.array(f["train_loss"])
    lap = z[1:-1, :-2] + z[1:-1, 2:] + z[:-2, 1:-1] + z[2:, 1:-1] - 4 * z[1:-1, 1:-1]
    return float((lap < 0).mean())


def scalar(summary, key):
    # The summary nests the scalar names: "train_loss.basin_area@0.5" is scalars.train_loss.basin_area."0.5".
    v = summary.get("scalars", {})
    parts = key.split("@")[0].split(".") + key.split("@")[1:]
    for part in parts:
        v = v.get(part) if isinstance(v, dict) else None
    if v is None:
        v = summary.get(key)
    return v


print("### (a) Skip connections\n")
print("| model | test error % | centre loss | max loss on the grid | loss increase at r=0.5 | "
      "non-convex share | λmax | λmin/λmax |")
print("|---|---|---|---|---|---|---|---|")
for arch in ("resnet20", "resnet20_noshort", "resnet56", "resnet56_noshort"):
    s = load(f"{arch}.json")
    m = s["metrics"]["train_loss"]
    inc = scalar(s, "max_loss_increase@0.5")
    h = load(f"{arch}_hessian.json")
    print(f"| {arch} | {test_error(arch):.2f} | {m.get('centre', float('nan')):.4f} | {m['max']:.4g} | "
          f"{inc if inc is None else round(inc, 4)} | {roughness(arch + '.h5'):.2f} | {h['lambda_max']:.4g} | "
          f"{h['lambda_min'] / h['lambda_max']:.3f} |")

print("\n### (b) Small vs large batch (CNN, weight decay 5e-4)\n")
print("| batch | test error % | train loss at the minimizer | loss increase at x=±0.5 (filter-normalized) |")
print("|---|---|---|---|")
for bs in (128, 4096):
    with h5py.File(os.path.join(out, f"curve_bs{bs}.h5"), "r") as f:
        x = np.array(f["xcoordinates"])
        y = np.array(f["train_loss"])
    c = y[np.argmin(np.abs(x))]
    inc = max(np.interp(-0.5, x, y), np.interp(0.5, x, y)) - c
    print(f"| {bs} | {test_error(f'cnn_bs{bs}'):.2f} | {c:.4f} | {inc:.4f} |")

print("\n### (c) PCA trajectory\n")
with h5py.File(os.path.join(out, "traj.dirs.h5"), "r") as f:
    r = np.array(f["explained_variance_ratio_"])
with h5py.File(os.path.join(out, "traj.proj.h5"), "r") as f:
    rel = np.array(f["relative_distance"]) if "relative_distance" in f else None
print(f"Explained variance: PC1 {100 * r[0]:.2f} %, PC2 {100 * r[1]:.2f} % (together {100 * (r[0] + r[1]):.2f} %).")
if rel is not None:
    print(f"Checkpoints' distance from the plane, relative to their distance from the final model: "
          f"median {100 * np.median(rel[:-1]):.1f} %, max {100 * rel[:-1].max():.1f} %.")
