"""A straightforward PyTorch loop in the style of the reference code
(tomgoldstein/loss-landscape plot_surface.py + evaluation.py), for comparison
with the engine in the same environment, model, data and grid:
per point, set the weights (p.data = w + d * step), then iterate a DataLoader
in eval mode under no_grad, summing loss.item() * batch size.

Usage: reference_loop.py --model M.pt --dirs D.h5 --samples N [--batch 128]
                         [--threads T] [--points P] [--workers 0] [--json F]
Uses Debian's python3-torch (/usr/bin/python3) and h5py; Fashion-MNIST from
/usr/share/datasets/fashion-mnist, normalized as landscape does.
"""
import argparse
import gzip
import json
import os
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def load_fashion(n, root):
    with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(root, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    x = (torch.tensor(images, dtype=torch.float32) / 255.0 - 0.2860) / 0.3530
    return x, torch.tensor(labels, dtype=torch.long)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dirs", required=True)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--points", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--data-root", default=os.environ.get("LANDSCAPE_DATA_DIR", "/usr/share/datasets") +
                    "/fashion-mnist")
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    net = torch.jit.load(args.model)
    net.eval()
    x, y = load_fashion(args.samples, args.data_root)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch, shuffle=False, num_workers=args.workers)
    with h5py.File(args.dirs, "r") as f:
        dx = [torch.tensor(np.array(f["xdirection"][str(i)])) for i in range(len(f["xdirection"]))]
        dy = [torch.tensor(np.array(f["ydirection"][str(i)])) for i in range(len(f["ydirection"]))]
    weights = [p.data.clone() for p in net.parameters()]

    times = []
    coords = np.linspace(-1, 1, max(2, args.points))
    for i in range(args.points + 1):  # the first point warms up
        a, b = coords[i % len(coords)], 0.25
        t0 = time.perf_counter()
        for p, w, d0, d1 in zip(net.parameters(), weights, dx, dy):
            p.data = w + (d0 * a + d1 * b).type(w.dtype)
        total, correct = 0.0, 0
        with torch.no_grad():
            for inputs, targets in loader:
                outputs = net(inputs)
                loss = F.cross_entropy(outputs, targets)
                total += loss.item() * len(targets)
                correct += (outputs.argmax(1) == targets).sum().item()
        if i > 0:
            times.append(time.perf_counter() - t0)
    med = sorted(times)[len(times) // 2]
    rate = len(y) / med
    print(f"reference_loop: {rate:.1f} point-samples/s (median of {len(times)} points, {med:.3f} s each)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"bench": "reference_loop", "samples": len(y), "threads": args.threads,
                       "point_samples_per_s": rate, "seconds_per_point": med}, f)


if __name__ == "__main__":
    main()
