"""Feature vectors ([N, D] tensors, tabular data) through `landscape local`: a TorchScript MLP
with BatchNorm1d, a 1-D random-direction line and a first-layer-cached 2-D plane, against the
losses and accuracies PyTorch computes at θ + α·dx (+ β·dy) with the written directions; and
regression targets with --loss regression (losses, Hessian, training); token ids (int64 inputs).

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
    ok &= regression(binary, work)
    ok &= token_ids(binary, work)
    return 0 if ok else 1


def worst_along_line(net, surface, loss_of):
    """The largest relative difference between a 1-D surface's train_loss and loss_of() with the net's
    parameters at θ + α·dx (dx from the surface's direction file), over the surface's α; the parameters
    are θ again afterwards."""
    with h5py.File(surface, "r") as f:
        xs, loss = np.array(f["xcoordinates"]), np.array(f["train_loss"]).ravel()
    params = list(net.parameters())
    with h5py.File(surface[:-3] + ".dirs.h5", "r") as f:
        dx = [torch.tensor(np.array(f["xdirection"][str(i)])) for i in range(len(params))]
    base = [p.detach().clone() for p in params]
    worst = 0.0
    with torch.no_grad():
        for i, a in enumerate(xs):
            for p, p0, u in zip(params, base, dx):
                p.copy_(p0 + a * u)
            want = loss_of()
            worst = max(worst, abs(loss[i] - want) / max(1.0, want))
        for p, p0 in zip(params, base):
            p.copy_(p0)
    return worst


class Bag(nn.Module):
    """Token ids through an embedding, averaged: integer inputs must reach the model as int64."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.emb(x).mean(1))


def token_ids(binary, work):
    torch.manual_seed(11)
    x = torch.randint(0, 50, (64, 10))
    y = (x[:, 0] > 25).long()
    torch.save({"images": x, "labels": y}, f"{work}/tok.pt")
    net = Bag().eval()
    torch.jit.save(torch.jit.script(net), f"{work}/bag.pt")
    out = f"{work}/tok.h5"
    r = subprocess.run([binary, "local", "--model", f"{work}/bag.pt", "--data", f"{work}/tok.pt", "--x", "-1:1:5",
                        "--threads", "1", "--progress", "quiet", "--overwrite", "--out", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("token ids failed:", r.stderr)
        return False
    worst = worst_along_line(net, out, lambda: F.cross_entropy(net(x), y).item())
    print(f"token ids: worst relative loss difference {worst:.2e}")
    # Integer inputs are not normalized.
    r = subprocess.run([binary, "local", "--model", f"{work}/bag.pt", "--data", f"{work}/tok.pt", "--normalize",
                        "0.5/0.2", "--x", "0:0:1", "--out", f"{work}/no_tok.h5"], capture_output=True, text=True)
    return worst < 1e-5 and r.returncode == 2 and "--normalize none" in r.stderr


def regression(binary, work):
    """--loss regression: float targets [N] (one output) and [N, 3] (three), the loss F.mse_loss of the
    outputs, no accuracy; the Hessian of that loss at the centre against autograd's; train's SGD steps
    against torch.optim."""
    ok = True
    torch.manual_seed(7)
    x = torch.randn(80, 5)
    for k in (1, 3):
        w_true = torch.randn(5, k)
        t = x @ w_true + 0.1 * torch.randn(80, k)
        t = t[:, 0] if k == 1 else t
        torch.save({"images": x, "labels": t}, f"{work}/reg{k}.pt")
        net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, k))
        torch.jit.save(torch.jit.script(net), f"{work}/reg{k}.pt.model")
        out = f"{work}/reg{k}.h5"
        cmd = [binary, "local", "--model", f"{work}/reg{k}.pt.model", "--data", f"{work}/reg{k}.pt", "--loss",
               "regression", "--x", "-1:1:5", "--hessian", "--threads", "1", "--progress", "quiet", "--overwrite",
               "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"regression k={k} failed:", r.stderr)
            return False
        with h5py.File(out, "r") as f:
            xs = np.array(f["xcoordinates"])
            has_acc = "train_acc" in f
            min_eig, max_eig = np.array(f["min_eig"]).ravel(), np.array(f["max_eig"]).ravel()
        worst = worst_along_line(net, out, lambda: F.mse_loss(net(x).reshape(t.shape), t).item())
        # The Hessian at the centre over the weights with dim > 1 (the project's definition).
        w1, w2 = net[0].weight.detach().clone(), net[2].weight.detach().clone()
        n1 = w1.numel()

        def loss_of(flat):
            h = torch.tanh(x @ flat[:n1].reshape(w1.shape).T + net[0].bias.detach())
            o = h @ flat[n1:].reshape(w2.shape).T + net[2].bias.detach()
            return F.mse_loss(o.reshape(t.shape), t)
        hess = torch.autograd.functional.hessian(loss_of, torch.cat([w1.ravel(), w2.ravel()]).double().float())
        eig = torch.linalg.eigvalsh(hess.double())
        centre = len(xs) // 2
        eig_ok = (abs(max_eig[centre] - eig[-1].item()) <= 1e-3 * abs(eig[-1].item())
                  and abs(min_eig[centre] - eig[0].item()) <= 1e-3 * abs(eig[-1].item()))
        print(f"regression k={k}: worst relative loss difference {worst:.2e}, accuracy written: {has_acc}, "
              f"Hessian extremes {min_eig[centre]:.5g} {max_eig[centre]:.5g} (autograd {eig[0].item():.5g} "
              f"{eig[-1].item():.5g})")
        ok &= worst < 1e-5 and not has_acc and eig_ok
    # Training on the targets: three full-batch SGD steps as torch.optim.
    start = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    torch.jit.save(torch.jit.script(start), f"{work}/reg_start.pt")
    r = subprocess.run([binary, "train", "--arch", f"{work}/reg_start.pt", "--data", f"{work}/reg3.pt", "--loss",
                        "regression", "--epochs", "3", "--batch-size", "80", "--lr", "0.05", "--lr-decay", "1",
                        "--weight-decay", "0", "--augment", "none", "--eval-samples", "-1", "--threads", "1",
                        "--out", f"{work}/reg_train"], capture_output=True, text=True)
    if r.returncode != 0:
        print("regression training failed:", r.stderr)
        return False
    t3 = torch.load(f"{work}/reg3.pt")["labels"]
    opt = torch.optim.SGD(start.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(start(x), t3).backward()
        opt.step()
    ours = torch.jit.load(f"{work}/reg_train/model_3.pt").state_dict()
    diff = max((ours[k] - v).abs().max().item() for k, v in start.state_dict().items())
    print(f"regression training: largest difference to torch.optim {diff:.2e}")
    ok &= diff < 1e-5
    # A built-in MLP on feature vectors, trained on three targets: three outputs, and it evaluates.
    r = subprocess.run([binary, "train", "--arch", "mlp", "--data", f"{work}/reg3.pt", "--loss", "regression",
                        "--epochs", "2", "--eval-samples", "-1", "--threads", "1", "--out", f"{work}/reg_mlp"],
                       capture_output=True, text=True)
    ok &= r.returncode == 0
    if r.returncode == 0:
        outs = torch.jit.load(f"{work}/reg_mlp/model_2.pt").eval()(x)
        ok &= tuple(outs.shape) == (80, 3)
    else:
        print("training the built-in MLP on targets failed:", r.stderr)
    r = subprocess.run([binary, "train", "--arch", "mlp", "--data", f"{work}/reg3.pt", "--epochs", "1",
                        "--out", f"{work}/reg_no"], capture_output=True, text=True)
    ok &= r.returncode == 2 and "--loss regression" in r.stderr
    # Float targets with a classification loss are refused, naming the fix.
    r = subprocess.run([binary, "local", "--model", f"{work}/reg1.pt.model", "--data", f"{work}/reg1.pt", "--x",
                        "0:0:1", "--out", f"{work}/no.h5"], capture_output=True, text=True)
    ok &= r.returncode == 2 and "--loss regression" in r.stderr
    return ok


if __name__ == "__main__":
    sys.exit(main())
