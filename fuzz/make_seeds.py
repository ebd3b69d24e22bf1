#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into OUT/<target>/ (small files, made at test time).

torch.save files in both formats (python3-torch), IDX and CIFAR-10 files raw and gzipped, spec JSON,
v1.JobSpec messages (protoc --encode, when protoc and the .proto are found), and descriptions for the
HDF5 targets (their input drives HDF5's API; see fuzz/hdf5_fuzzer.cc), plus the caps' worst cases:
a gzip bomb, an IDX header declaring gigabytes, a pickle declaring 10^12 elements.
Usage: make_seeds.py OUT
"""
import collections
import gzip
import io
import json
import os
import random
import struct
import subprocess
import sys
import zipfile

OUT = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(7)


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def torch_seeds():
    try:
        import torch
    except ImportError:
        print("make_seeds: python3-torch missing: no torch.save seeds", file=sys.stderr)
        return
    g = torch.Generator().manual_seed(1)
    state = collections.OrderedDict()
    state["conv.weight"] = torch.randn(2, 1, 3, 3, generator=g)
    state["conv.bias"] = torch.randn(2, generator=g)
    state["fc.weight"] = torch.randn(3, 4, generator=g).double()
    state["bn.num_batches_tracked"] = torch.tensor(5)
    state["mask"] = torch.tensor([True, False])
    state["half"] = torch.randn(3, generator=g).half()
    base = torch.arange(12, dtype=torch.float32)
    objects = {
        "state": state,
        "nested": {"state_dict": state, "epoch": 3, "lr": 0.1, "name": "net", "list": [1, (2, 3)], "none": None},
        "view": {"a": base[2:8].view(2, 3), "t": base.view(3, 4).t(), "e": torch.zeros(0)},
        "data": {"images": torch.randint(0, 255, (4, 2, 2), dtype=torch.uint8, generator=g),
                 "labels": torch.tensor([0, 1, 2, 1])},
    }
    for name, obj in objects.items():
        for legacy in (False, True):
            buf = io.BytesIO()
            torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
            data = buf.getvalue()
            put("fuzz_torch_save", f"{name}{'_legacy' if legacy else ''}.pt", data)
            if not legacy:
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    pkl = [n for n in z.namelist() if n.endswith("data.pkl")][0]
                    put("fuzz_unpickle", f"{name}.pkl", z.read(pkl))
    # The cap's worst case: a storage declaring 10^12 float elements.
    pid = b"(X\x07\x00\x00\x00storagec" + b"torch\nFloatStorage\n" + b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpu" + \
          b"\x8a\x05" + (10**12).to_bytes(5, "little") + b"tQ."
    put("fuzz_unpickle", "huge_storage.pkl", b"\x80\x02" + pid)


def idx(magic_rank, dims, payload, gz):
    data = struct.pack(">I", 0x800 | magic_rank) + b"".join(struct.pack(">I", d) for d in dims) + payload
    return gzip.compress(data, mtime=0) if gz else data


def idx_seeds():
    for gz in (False, True):
        sfx = ".gz" if gz else ""
        # The first byte picks the rank (odd: images of rank 3) and how many items are read.
        put("fuzz_idx", f"images{sfx}", b"\x07" + idx(3, [3, 4, 5], bytes(range(60)), gz))
        put("fuzz_idx", f"labels{sfx}", b"\x06" + idx(1, [5], bytes([0, 1, 2, 3, 9]), gz))
        put("fuzz_idx", f"truncated{sfx}", b"\x07" + idx(3, [30, 2, 2], bytes(12), gz))
    put("fuzz_idx", "huge_header.gz", b"\x01" + idx(3, [60000, 0xFFFF, 0xFFFF], b"", True))
    put("fuzz_idx", "huge_count.gz", b"\x01" + idx(3, [0xFFFFFFFF, 28, 28], bytes(784), True))
    for gz in (False, True):
        recs = b"".join(bytes([i % 10]) + bytes(rng.randrange(256) for _ in range(3072)) for i in range(2))
        put("fuzz_cifar", f"batch{'.gz' if gz else ''}.bin", gzip.compress(recs, mtime=0) if gz else recs)
    put("fuzz_cifar", "bad_label.bin", bytes([10]) + bytes(3072))
    # A gzip bomb: 17 MiB of zeros in ~17 KB, past the fuzzer's 16 MiB cap.
    put("fuzz_cifar", "bomb.gz", gzip.compress(bytes(17 << 20), compresslevel=9, mtime=0))


SPECS = [
    {"model": {"model": "zoo:mlp"}, "data": {"source": "synthetic:blobs", "max_samples": 64},
     "grid": {"x": {"min": -1, "max": 1, "num": 5}}},
    {"model": {"model": "sha256:" + "ab" * 32, "arch": "resnet56", "model2": "m2.pt", "model3": "m3.pt"},
     "data": {"source": "cifar10:/data/cifar", "split": "both", "max_samples": 1000, "subset_seed": 5,
              "batch_size": 64, "normalize": "0.5,0.5,0.5/0.2,0.2,0.2"},
     "loss": "crossentropy",
     "directions": {"kind": "target", "type": "weights", "x": {"norm": "filter", "ignore": "biasbn"},
                    "y": {"norm": "layer", "ignore": "none"}, "seed": 123, "same_dir": False},
     "grid": {"x": {"min": -1, "max": 1, "num": 11}, "y": {"min": -0.5, "max": 0.5, "num": 3}},
     "hessian": {"enabled": True, "max_samples": 100, "tolerance": 0.001, "max_iterations": 50},
     "compute_loss": True, "labels": {"commit": "abc"}, "tile_size": 16, "name": "seed"},
    {"model": {"model": "a.pt", "checkpoints": ["c1.pt", "c2.pt", "c3.pt"]}, "data": {"source": "fashion-mnist"},
     "loss": "mse", "directions": {"kind": "pca", "pca_ignore": "biasbn", "file": ""},
     "grid": {"x": {"min": -2, "max": 2, "num": 4}, "y": {"min": -2, "max": 2, "num": 4}}},
    {"model": {"model": "a.pt"}, "data": {"source": "tensor:d.pt", "normalize": "none"},
     "loss": "regression", "directions": {"kind": "file", "file": "dirs.h5"}, "grid": {"x": {"min": 0, "max": 0, "num": 1}}},
]

PROTOS = [
    'model { model: "zoo:mlp" } data { source: "synthetic:blobs" max_samples: 64 } grid { x { min: -1 max: 1 num: 5 } }',
    'model { model: "a.pt" arch: "resnet56" model2: "b.pt" model3: "c.pt" } '
    'data { source: "cifar10:/d" split: SPLIT_BOTH max_samples: 100 subset_seed: 3 batch_size: 32 normalize: "none" } '
    'loss: LOSS_MSE directions { kind: DIRECTION_KIND_TARGET type: DIR_TYPE_WEIGHTS x { norm: NORM_FILTER ignore: IGNORE_BIASBN } '
    'y { norm: NORM_LAYER ignore: IGNORE_NONE } seed: 9 same_dir: false } '
    'grid { x { min: -1 max: 1 num: 11 } y { min: -1 max: 1 num: 11 } } '
    'hessian { enabled: true max_samples: 10 tolerance: 0.01 max_iterations: 20 } compute_loss: false '
    'labels { key: "ci" value: "1" } tile_size: 8 display_name: "seed"',
    'model { model: "a.pt" checkpoints: "1.pt" checkpoints: "2.pt" checkpoints: "3.pt" } data { source: "fashion-mnist" } '
    'directions { kind: DIRECTION_KIND_PCA pca_ignore: IGNORE_BIASBN } grid { x { min: -1 max: 1 num: 3 } y { min: -1 max: 1 num: 3 } }',
]


def spec_seeds():
    for i, s in enumerate(SPECS):
        put("fuzz_spec_json", f"spec{i}.json", json.dumps(s).encode())
    put("fuzz_spec_json", "deep.json", b"[" * 5000 + b"]" * 5000)
    proto = os.path.join(HERE, "..", "proto")
    for i, text in enumerate(PROTOS):
        try:
            out = subprocess.run(["protoc", "--encode=landscape.v1.JobSpec", "-I", proto, "landscape/v1/landscape.proto"],
                                 input=text.encode(), capture_output=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"make_seeds: protoc --encode failed ({e}): no proto seeds", file=sys.stderr)
            return
        put("fuzz_proto_spec", f"spec{i}.bin", out)


def hdf5_seeds():
    # Random descriptions: the fuzzer's FuzzedDataProvider turns any bytes into some file.
    for target in ("fuzz_hdf5_direction", "fuzz_hdf5_surface"):
        for i in range(8):
            put(target, f"random{i}", bytes(rng.randrange(256) for _ in range(rng.randrange(16, 400))))


torch_seeds()
idx_seeds()
spec_seeds()
hdf5_seeds()
print(f"make_seeds: seeds in {OUT}")
