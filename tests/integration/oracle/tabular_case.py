"""Feature vectors ([N, D] tensors, tabular data) through `landscape local`: a TorchScript MLP
with BatchNorm1d, a 1-D random-direction line and a first-layer-cached 2-D plane, against the
losses and accuracies PyTorch computes at θ + α·dx (+ β·dy) with the written directions.

Usage: tabular_case.py LANDSCAPE_BINARY WORK_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(3)
    x = torch.randn(96, 12)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()  # 3 classes
    torch.save({"images": x, "labels": y}, f"{work}/tab.pt")
    net = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        net[1].running_mean.normal_(0, 0.2)
        net[1].running_var.uniform_(0.5, 1.5)
    net.eval()
    torch.jit.save(torch.jit.script(net), f"{work}/mlp.pt")
    ok = True
    for name, grid in (("line", ["--x", "-1:1:5"]), ("plane", ["--x", "-1:1:3", "--y", "-1:1:3", "--first-layer", "on"])):
        out = f"{work}/{name}.h5"
        cmd = [binary, "local", "--model", f"{work}/mlp.pt", "--data", f"{work}/tab.pt", *grid, "--threads", "1",
               "--progress", "quiet", "--overwrite", "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(name, "failed:", r.stderr)
            return 1
        with h5py.File(out, "r") as f:
            xs = np.array(f["xcoordinates"])
            ys = np.array(f["ycoordinates"]) if "ycoordinates" in f else np.array([0.0])
            loss = np.array(f["train_loss"]).reshape(len(ys), len(xs))
            acc = np.array(f["train_acc"]).reshape(len(ys), len(xs))
        with h5py.File(out[:-3] + ".dirs.h5", "r") as f:
            params = list(net.parameters())
            dx = [torch.tensor(np.array(f["xdirection"][str(i)])) for i in range(len(params))]
            dy = [torch.tensor(np.array(f["ydirection"][str(i)])) for i in range(len(params))] if "ydirection" in f \
                else [torch.zeros_like(p) for p in params]
        base = [p.detach().clone() for p in params]
        worst = 0.0
        for iy, b in enumerate(ys):
            for ix, a in enumerate(xs):
                with torch.no_grad():
                    for p, p0, u, v in zip(params, base, dx, dy):
                        p.copy_(p0 + a * u + b * v)
                    out_t = net(x)
                    want = F.cross_entropy(out_t, y).item()
                    want_acc = 100.0 * (out_t.argmax(1) == y).float().mean().item()
                worst = max(worst, abs(loss[iy, ix] - want) / max(1.0, abs(want)))
                ok &= abs(acc[iy, ix] - want_acc) < 1e-6
        with torch.no_grad():
            for p, p0 in zip(params, base):
                p.copy_(p0)
        print(f"{name}: worst relative loss difference {worst:.2e}")
        ok &= worst < 1e-5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
