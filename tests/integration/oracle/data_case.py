"""Data-set readers against independent decoding.

1. CIFAR-10 binary batches (made up here: data_batch_1..5.bin, test_batch.bin)
   give the same surface as a tensor file holding the same images decoded and
   normalized here with the reference's mean/std.
2. IDX files read gunzipped (idx:DIR) and gzipped (Debian's fashion-mnist)
   give the same surface; custom normalization equals the built-in one.
3. A seeded subset is reproducible and differs from another seed's.

Usage: data_case.py LANDSCAPE_BINARY WORK_DIR
"""
import gzip
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import torch

MEAN = np.array([125.3, 123.0, 113.9]) / 255
STD = np.array([63.0, 62.1, 66.7]) / 255


def run(binary, args):
    if args[0] == "local":
        args = args + ["--threads", "1", "--progress", "quiet", "--overwrite"]
    r = subprocess.run([binary] + args)
    if r.returncode != 0:
        raise SystemExit(f"landscape {' '.join(args)} exited with {r.returncode}")


def values(path, names=("train_loss", "train_acc")):
    with h5py.File(path, "r") as f:
        return {n: np.array(f[n]) for n in names if n in f}


def same(a, b, rtol=0.0):
    return all(np.allclose(a[k], b[k], rtol=rtol, atol=0) for k in a) and a.keys() == b.keys()


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    ok = True
    rng = np.random.default_rng(0)

    # 1. CIFAR-10 binary.
    cifar = os.path.join(work, "cifar")
    os.makedirs(cifar, exist_ok=True)
    decoded = {}
    for name, n in [(f"data_batch_{i}.bin", 7) for i in range(1, 6)] + [("test_batch.bin", 5)]:
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(os.path.join(cifar, name), "wb") as f:
            f.write(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
        decoded[name] = (labels, pixels)
    def to_tensors(names):
        labels = np.concatenate([decoded[n][0] for n in names])
        x = np.concatenate([decoded[n][1] for n in names]).reshape(-1, 3, 32, 32) / 255.0
        x = (x - MEAN[None, :, None, None]) / STD[None, :, None, None]
        return {"images": torch.tensor(x, dtype=torch.float32), "labels": torch.tensor(labels, dtype=torch.long)}
    torch.save({"train": to_tensors([f"data_batch_{i}.bin" for i in range(1, 6)]),
                "test": to_tensors(["test_batch.bin"])}, os.path.join(work, "cifar_ref.pt"))
    run(binary, ["export-arch", "--arch", "cnn", "--input", "3x32x32", "--out", os.path.join(work, "rgb.pt")])
    common = ["local", "--model", os.path.join(work, "rgb.pt"), "--split", "both", "--x", "-1:1:3", "--y", "0:1:2"]
    run(binary, common + ["--data", "cifar10:" + cifar, "--out", os.path.join(work, "cifar.h5")])
    run(binary, common + ["--data", os.path.join(work, "cifar_ref.pt"), "--dir-file", os.path.join(work, "cifar.dirs.h5"),
                          "--out", os.path.join(work, "cifar_ref.h5")])
    names = ("train_loss", "train_acc", "test_loss", "test_acc")
    a, b = values(os.path.join(work, "cifar.h5"), names), values(os.path.join(work, "cifar_ref.h5"), names)
    c_ok = same(a, b, rtol=1e-5)
    print("cifar10 binary vs decoded tensors:", "equal" if c_ok else f"DIFFER\n{a}\n{b}")
    ok &= c_ok

    # 2. IDX gunzipped vs gzipped, and normalization.
    root = os.environ.get("LANDSCAPE_DATA_DIR", "/usr/share/datasets")
    idx = os.path.join(work, "idx")
    os.makedirs(idx, exist_ok=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(os.path.join(root, "fashion-mnist", name + ".gz")) as src, open(os.path.join(idx, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    run(binary, ["export-arch", "--arch", "mlp", "--input", "1x28x28", "--out", os.path.join(work, "mlp.pt")])
    base = ["local", "--model", os.path.join(work, "mlp.pt"), "--split", "test", "--max-samples", "50", "--x", "-1:1:3"]
    run(binary, base + ["--data", "fashion-mnist", "--normalize", "none", "--out", os.path.join(work, "gz.h5")])
    run(binary, base + ["--data", "idx:" + idx, "--out", os.path.join(work, "raw.h5")])  # idx: auto = [0, 1]
    i_ok = same(values(os.path.join(work, "gz.h5")), values(os.path.join(work, "raw.h5")))
    print("IDX gzipped vs gunzipped:", "equal" if i_ok else "DIFFER")
    run(binary, base + ["--data", "fashion-mnist", "--out", os.path.join(work, "auto.h5")])
    run(binary, base + ["--data", "idx:" + idx, "--normalize", "0.2860/0.3530", "--out", os.path.join(work, "custom.h5")])
    n_ok = same(values(os.path.join(work, "auto.h5")), values(os.path.join(work, "custom.h5")))
    print("built-in vs custom normalization:", "equal" if n_ok else "DIFFER")
    ok &= i_ok and n_ok

    # 3. Seeded subsets.
    sub = ["local", "--model", os.path.join(work, "mlp.pt"), "--data", "fashion-mnist", "--max-samples", "40",
           "--x", "-1:1:3", "--seed", "1"]
    run(binary, sub + ["--subset-seed", "3", "--out", os.path.join(work, "s3a.h5")])
    run(binary, sub + ["--subset-seed", "3", "--out", os.path.join(work, "s3b.h5")])
    run(binary, sub + ["--subset-seed", "4", "--out", os.path.join(work, "s4.h5")])
    run(binary, sub + ["--out", os.path.join(work, "first.h5")])
    s3a, s3b = values(os.path.join(work, "s3a.h5")), values(os.path.join(work, "s3b.h5"))
    s4, first = values(os.path.join(work, "s4.h5")), values(os.path.join(work, "first.h5"))
    s_ok = same(s3a, s3b) and not same(s3a, s4) and not same(s3a, first)
    # 40 samples: every accuracy is a multiple of 2.5 %.
    s_ok &= bool(np.allclose(np.round(s3a["train_acc"] / 2.5) * 2.5, s3a["train_acc"]))
    print("seeded subsets:", "reproducible and distinct" if s_ok else "WRONG")
    ok &= s_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
