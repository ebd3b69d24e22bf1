"""An independent computation of loss surfaces with the reference's semantics
(tomgoldstein/loss-landscape: net_plotter.set_weights/set_states and
evaluation.eval_loss), written here from its description, using python3-torch
and h5py. It reads the direction file landscape wrote (or any file in the
reference's layout) and compares its surface with landscape's surface file.

Usage: oracle.py --model M.pt --data D.pt --dirs DIRS.h5 --surface SURF.h5
                 --dir-type weights|states --loss crossentropy|mse [--batch-size B]
                 [--rtol 1e-5] [--acc-atol 0]
Exits 0 when every value matches, 1 otherwise (with a report).
"""
import argparse
import copy
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def load_direction(group):
    return [torch.tensor(np.array(group[str(i)])) for i in range(len(group.keys()))]


def set_weights(net, weights, dx, dy, a, b):
    for p, w, d0, d1 in zip(net.parameters(), weights, dx, dy if dy is not None else dx):
        change = d0 * a + (d1 * b if dy is not None else 0)
        p.data = w + torch.as_tensor(change).type(w.dtype)


def set_states(net, states, dx, dy, a, b):
    new_states = copy.deepcopy(states)
    for (k, v), d0, d1 in zip(new_states.items(), dx, dy if dy is not None else dx):
        change = d0.float() * a + (d1.float() * b if dy is not None else 0)
        v.add_(torch.as_tensor(change).type(v.dtype))
    net.load_state_dict(new_states)


def evaluate(net, images, labels, loss_name, batch_size):
    net.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(labels), batch_size):
            x, y = images[s:s + batch_size], labels[s:s + batch_size]
            out = net(x)
            if loss_name == "crossentropy":
                loss = F.cross_entropy(out, y)
            else:
                onehot = F.one_hot(y, out.shape[1]).float()
                loss = F.mse_loss(F.softmax(out, dim=1), onehot)
            total += loss.item() * len(y)
            correct += (out.argmax(1) == y).sum().item()
    return total / len(labels), 100.0 * correct / len(labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dirs", required=True)
    ap.add_argument("--surface", required=True)
    ap.add_argument("--dir-type", required=True)
    ap.add_argument("--loss", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--acc-atol", type=float, default=0.0,
                    help="accuracy tolerance in percentage points (reduced precision flips a few samples)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    net = torch.jit.load(args.model)
    net.eval()
    data = torch.load(args.data)
    images, labels = data["images"].float(), data["labels"].long()

    with h5py.File(args.dirs, "r") as f:
        dx = load_direction(f["xdirection"])
        dy = load_direction(f["ydirection"]) if "ydirection" in f else None

    # The reference's layout and dtypes.
    with h5py.File(args.surface, "r") as s:
        xs = np.array(s["xcoordinates"])
        ys = np.array(s["ycoordinates"]) if "ycoordinates" in s else None
        assert s["xcoordinates"].dtype == np.float64
        ours = {}
        for name in ("train_loss", "train_acc"):
            ours[name] = np.array(s[name])
            assert s[name].dtype == np.float64, name
            expected_shape = (len(ys), len(xs)) if ys is not None else (len(xs),)
            assert ours[name].shape == expected_shape, (name, ours[name].shape, expected_shape)
        assert isinstance(s["dir_file"][()], (bytes, str))
    if ys is not None and dy is None:
        print("oracle: the surface is 2-D but the direction file has no ydirection")
        return 1

    weights = [p.data.clone() for p in net.parameters()]
    states = copy.deepcopy(net.state_dict())
    expected_count = len(weights) if args.dir_type == "weights" else len(states)
    if len(dx) != expected_count:
        print(f"oracle: {len(dx)} direction tensors, model has {expected_count} ({args.dir_type})")
        return 1

    failures = 0
    rows = [0.0] if ys is None else ys
    for iy, b in enumerate(rows):
        for ix, a in enumerate(xs):
            if args.dir_type == "weights":
                set_weights(net, weights, dx, dy if ys is not None else None, a, b)
            else:
                set_states(net, states, dx, dy if ys is not None else None, a, b)
            loss, acc = evaluate(net, images, labels, args.loss, args.batch_size)
            idx = (iy, ix) if ys is not None else (ix,)
            for name, ref in (("train_loss", loss), ("train_acc", acc)):
                got = ours[name][idx]
                atol = 1e-9 + (args.acc_atol if name == "train_acc" else 0.0)
                if not np.isclose(got, ref, rtol=args.rtol, atol=atol):
                    failures += 1
                    print(f"oracle: {name} at x={a} y={b}: landscape {got!r} oracle {ref!r}")
    n = len(xs) * len(rows)
    print(f"oracle: {n - failures}/{n} points agree (rtol {args.rtol}, accuracy within {args.acc_atol} points, "
          f"{args.dir_type}, {args.loss})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
