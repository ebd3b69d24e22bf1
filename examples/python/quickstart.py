#!/usr/bin/env python3
"""Quickstart: train a small CNN on Fashion-MNIST in PyTorch, send it to the landscape service (or compute
it here with `landscape local`), watch the progress bar, plot contour and 3-D pictures, save the HDF5.

    eval "$(deploy/local/launch.sh start)"      # a server and two workers on this machine
    PYTHONPATH=client/python:build/python python3 examples/python/quickstart.py --out quickstart
    python3 examples/python/quickstart.py --local --out quickstart   # no server

The defaults train for about a minute on two cores; --samples/--epochs/--grid make it smaller.
examples/python/quickstart.ipynb has the same cells."""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import landscape

# %% [1] Fashion-MNIST from Debian's dataset-fashion-mnist (or $LANDSCAPE_DATA_DIR/fashion-mnist)


def read_idx(path, count):
    """The first `count` records of a gzipped IDX file as a uint8 array."""
    with gzip.open(path, "rb") as f:
        magic = int.from_bytes(f.read(4), "big")
        dims = [int.from_bytes(f.read(4), "big") for _ in range(magic & 0xFF)]
        n = min(count, dims[0])
        per = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        return np.frombuffer(f.read(n * per), dtype=np.uint8).reshape([n, *dims[1:]])


def fashion_mnist(count):
    """(images [N, 1, 28, 28] float in [0, 1], labels [N] int64) of the training set's first `count`."""
    root = os.path.join(os.environ.get("LANDSCAPE_DATA_DIR", "/usr/share/datasets"), "fashion-mnist")
    images = read_idx(os.path.join(root, "train-images-idx3-ubyte.gz"), count)
    labels = read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz"), count)
    return torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


# %% [2] A small CNN, trained with SGD


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def train(images, labels, epochs, batch=64, seed=0):
    torch.manual_seed(seed)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(epochs):
        perm = torch.randperm(len(images))
        for i in range(0, len(images), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}")
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=None, help="host:port (default: $LANDSCAPE_SERVER)")
    ap.add_argument("--local", action="store_true", help="compute with `landscape local`, no server")
    ap.add_argument("--samples", type=int, default=6000, help="training samples")
    ap.add_argument("--eval-samples", type=int, default=1000, help="of those, the ones the surface evaluates")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--grid", type=int, default=21, help="points per axis")
    ap.add_argument("--out", default="quickstart", help="folder of the pictures and the HDF5 file")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    images, labels = fashion_mnist(args.samples)
    model = train(images, labels, args.epochs)

    # %% [3] The surface: submitted as an nn.Module with its data as tensors; a progress bar while it runs
    n = min(args.eval_samples, args.samples)
    spec = dict(data=(images[:n], labels[:n]), x=(-1, 1, args.grid), y=(-1, 1, args.grid))
    if args.local:
        surface = landscape.local(model, **spec)
    else:
        job = landscape.connect(args.server).submit(model, **spec)
        print("submitted", job.name)
        surface = job.wait(progress=True).surface()
    print(surface)
    print("loss at the trained model:", surface["train_loss"][args.grid // 2, args.grid // 2])

    # %% [4] Pictures and the HDF5 file (the reference's layout: its plot scripts read it)
    import matplotlib
    if not os.environ.get("DISPLAY"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    surface.plot("contour").figure.savefig(os.path.join(args.out, "contour.png"), dpi=120)
    surface.plot("3d").figure.savefig(os.path.join(args.out, "3d.png"), dpi=120)
    plt.close("all")
    print("wrote", surface.to_h5(os.path.join(args.out, "surface.h5")))


if __name__ == "__main__":
    main()
