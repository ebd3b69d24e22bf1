"""Writes the torch.save files torch_save_python_test reads, with Debian's python3-torch, and
what they hold as an independent expectation.

usage: torch_save_writer.py OUT_DIR

OUT_DIR/zip.pt        torch.save(OBJ) (the zip format, the default)
OUT_DIR/legacy.pt     torch.save(OBJ, _use_new_zipfile_serialization=False)
OUT_DIR/data.pkl      zip.pt's pickle, and OUT_DIR/records/<key> its storages' bytes
OUT_DIR/expected.json OBJ as a typed tree (below): every number and tensor byte exact
OUT_DIR/legacy.json   {"first_storage_at": offset of the first storage's element count in legacy.pt,
                       "first_storage_numel": that count}

Typed tree: {"t": "none"}, {"t": "bool", "v": true}, {"t": "int", "v": "<decimal>"},
{"t": "float", "bits": "<IEEE-754 double, 16 hex digits, big-endian>"}, {"t": "str", "v": "..."},
{"t": "opaque", "v": "<callable>"} (bytes: protocol 2 pickles them as a call of _codecs.encode,
which the reader never calls), {"t": "list"|"tuple", "items": [...]},
{"t": "dict", "items": [[key, value], ...]} (insertion order),
{"t": "tensor", "dtype": "float32", "shape": [...], "stride": [...], "offset": n,
 "hex": "<the tensor's elements in row-major order, little-endian, as tensor.contiguous() holds them>"}.
"""
import collections
import json
import os
import pickletools
import struct
import sys
import zipfile

import torch


def build():
    g = torch.Generator().manual_seed(7)
    base = torch.randn(4, 6, generator=g)
    state = collections.OrderedDict()
    state["conv.weight"] = torch.randn(2, 3, 3, 3, generator=g)  # float32
    state["conv.bias"] = torch.randn(2, generator=g, dtype=torch.float64)
    state["bn.num_batches_tracked"] = torch.tensor(12345678901, dtype=torch.int64)  # a scalar tensor
    state["mask"] = torch.tensor([[True, False, True], [False, False, True]])
    state["ids"] = torch.tensor([-(2 ** 63), -1, 0, 1, 2 ** 63 - 1], dtype=torch.int64)
    state["small_ints"] = torch.tensor([-128, -1, 0, 127], dtype=torch.int8)
    state["bytes_u8"] = torch.tensor([0, 1, 254, 255], dtype=torch.uint8)
    state["int32"] = torch.tensor([[-(2 ** 31)], [2 ** 31 - 1]], dtype=torch.int32)
    state["half"] = torch.tensor([1.5, -0.0, 65504.0], dtype=torch.float16)
    state["base"] = base
    state["view"] = base[1:, 1::2].t()  # non-contiguous, offset 7, shares base's storage
    state["empty"] = torch.zeros(0, 3)
    state["special"] = torch.tensor([float("inf"), float("-inf"), float("nan"), 1e-45, -0.0])
    meta = {
        "epoch": 3,
        "big": 2 ** 40 + 5,
        "negative": -70000,
        "lr": 0.1,
        "tiny": 5e-324,
        "minus_zero": -0.0,
        "name": "résumé ∆ 😀",
        "raw": b"\x00\xffab",
        "flags": [True, False, None],
        "shape": (3, 32, 32),
        "nested": collections.OrderedDict([("a", [1, (2.5, "x"), {"b": []}]), ("empty", ())]),
    }
    return {"state_dict": state, "meta": meta, "list_of_tensors": [torch.arange(5), torch.ones(2, 2, dtype=torch.float64)]}


def tensor_tree(t):
    c = t.contiguous()
    raw = c.reshape(-1).view(torch.uint8).numpy().tobytes() if c.numel() else b""
    return {"t": "tensor", "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
            "stride": list(t.stride()), "offset": t.storage_offset(), "hex": raw.hex()}


def tree(v):
    if v is None:
        return {"t": "none"}
    if isinstance(v, bool):
        return {"t": "bool", "v": v}
    if isinstance(v, int):
        return {"t": "int", "v": str(v)}
    if isinstance(v, float):
        return {"t": "float", "bits": struct.pack(">d", v).hex()}
    if isinstance(v, str):
        return {"t": "str", "v": v}
    if isinstance(v, bytes):
        return {"t": "opaque", "v": "_codecs.encode"}
    if isinstance(v, torch.Tensor):
        return tensor_tree(v)
    if isinstance(v, list):
        return {"t": "list", "items": [tree(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": "tuple", "items": [tree(x) for x in v]}
    if isinstance(v, dict):
        return {"t": "dict", "items": [[tree(k), tree(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def legacy_layout(path):
    """Where legacy.pt's storages start: after its five pickles (magic, version, sys_info, object,
    storage keys), each storage is its element count (int64, little-endian), then its bytes."""
    with open(path, "rb") as f:
        b = f.read()
    pos = 0
    for _ in range(5):
        for op, _arg, at in pickletools.genops(b[pos:]):
            if op.name == "STOP":
                pos += at + 1
                break
    return {"first_storage_at": pos, "first_storage_numel": struct.unpack("<q", b[pos:pos + 8])[0]}


def main():
    out = sys.argv[1]
    obj = build()
    torch.save(obj, os.path.join(out, "zip.pt"))
    torch.save(obj, os.path.join(out, "legacy.pt"), _use_new_zipfile_serialization=False)
    os.makedirs(os.path.join(out, "records"), exist_ok=True)
    with zipfile.ZipFile(os.path.join(out, "zip.pt")) as z:
        for name in z.namelist():
            parts = name.split("/")
            if parts[-1] == "data.pkl":
                with open(os.path.join(out, "data.pkl"), "wb") as f:
                    f.write(z.read(name))
            elif len(parts) == 3 and parts[1] == "data":
                with open(os.path.join(out, "records", parts[2]), "wb") as f:
                    f.write(z.read(name))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(tree(obj), f)
    with open(os.path.join(out, "legacy.json"), "w") as f:
        json.dump(legacy_layout(os.path.join(out, "legacy.pt")), f)


if __name__ == "__main__":
    main()
