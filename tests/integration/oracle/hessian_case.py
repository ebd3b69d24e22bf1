"""Hessian eigenvalue maps against closed forms and autograd.

1. A linear softmax classifier (no bias) with cross-entropy: its Hessian with
   respect to vec(W) is known in closed form,
       H = (1/N) Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ x_i x_iᵀ,
   computed here with numpy at every grid point; `landscape local --hessian`
   must give min_eig/max_eig equal to 1e-4 (relative to max |λ|).
2. A small CNN with BatchNorm (eval mode) and MSE: the full Hessian over the
   tensors with dim > 1 from torch.autograd.functional.hessian in float64.

Usage: hessian_case.py LANDSCAPE_BINARY WORK_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Linear(nn.Module):
    def __init__(self, d, c):
        super().__init__()
        self.fc = nn.Linear(d, c, bias=False)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3 * 2 * 2, 3)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(x, 1))


def closed_form_linear(W, X, y):
    n, d = X.shape
    c = W.shape[0]
    logits = X @ W.T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    H = np.zeros((c * d, c * d))
    for i in range(n):
        A = np.diag(p[i]) - np.outer(p[i], p[i])
        H += np.kron(A, np.outer(X[i], X[i]))
    return H / n


def run(binary, args):
    print(" ".join(args), flush=True)
    r = subprocess.run([binary] + args)
    if r.returncode != 0:
        raise SystemExit(f"landscape exited with {r.returncode}")


def check(name, got, want, scale, tol=1e-4):
    ok = abs(got - want) <= tol * scale
    print(f"{name}: landscape {got:.10g} expected {want:.10g} {'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(1)
    ok = True

    # 1. Linear model, closed form.
    n, d, c = 80, 9, 4
    X = torch.randn(n, 1, 3, 3)
    y = torch.randint(0, c, (n,))
    lin = Linear(d, c)
    with torch.no_grad():
        lin.fc.weight.mul_(3.0)
    torch.jit.save(torch.jit.script(lin), f"{work}/linear.pt")
    torch.save({"images": X, "labels": y}, f"{work}/linear_data.pt")
    run(binary, ["local", "--model", f"{work}/linear.pt", "--data", f"{work}/linear_data.pt", "--hessian",
                 "--hessian-tol", "1e-8", "--x", "-0.5:0.5:3", "--y", "0:1:2", "--threads", "1", "--progress",
                 "quiet", "--overwrite", "--out", f"{work}/linear_hess.h5", "--dir-out", f"{work}/linear_hess.dirs.h5",
                 "--batch-size", "32"])
    with h5py.File(f"{work}/linear_hess.h5", "r") as s, h5py.File(f"{work}/linear_hess.dirs.h5", "r") as dfile:
        xs, ys = np.array(s["xcoordinates"]), np.array(s["ycoordinates"])
        mins, maxs = np.array(s["min_eig"]), np.array(s["max_eig"])
        assert mins.shape == (len(ys), len(xs)) and s["min_eig"].dtype == np.float64
        dx = np.array(dfile["xdirection"]["0"], dtype=np.float64)
        dy = np.array(dfile["ydirection"]["0"], dtype=np.float64)
    W0 = lin.fc.weight.detach().double().numpy()
    Xn = X.reshape(n, -1).double().numpy()
    for iy, b in enumerate(ys):
        for ix, a in enumerate(xs):
            W = (W0.astype(np.float32) + (dx.astype(np.float32) * a + dy.astype(np.float32) * b)).astype(np.float64)
            ev = np.linalg.eigvalsh(closed_form_linear(W, Xn, y.numpy()))
            scale = max(abs(ev[0]), abs(ev[-1]))
            ok &= check(f"linear max_eig ({a}, {b})", maxs[iy, ix], ev[-1], scale)
            ok &= check(f"linear min_eig ({a}, {b})", mins[iy, ix], ev[0], scale)

    # 2. CNN with BatchNorm, MSE, float64 autograd Hessian.
    net = TinyCNN()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.2, 0.2)
        net.bn.running_var.uniform_(0.5, 1.5)
    net.eval()
    Xc = torch.randn(48, 1, 4, 4)
    yc = torch.randint(0, 3, (48,))
    torch.jit.save(torch.jit.script(net), f"{work}/cnn.pt")
    torch.save({"images": Xc, "labels": yc}, f"{work}/cnn_data.pt")
    run(binary, ["local", "--model", f"{work}/cnn.pt", "--data", f"{work}/cnn_data.pt", "--hessian", "--loss", "mse",
                 "--hessian-tol", "1e-8", "--x", "0:0:1", "--threads", "1", "--progress", "quiet", "--overwrite",
                 "--out", f"{work}/cnn_hess.h5", "--dir-out", f"{work}/cnn_hess.dirs.h5", "--batch-size", "16"])
    with h5py.File(f"{work}/cnn_hess.h5", "r") as s:
        got_min, got_max = float(np.array(s["min_eig"])[0]), float(np.array(s["max_eig"])[0])
    net64 = TinyCNN().double()
    net64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in net.state_dict().items()})
    net64.eval()
    names = [k for k, p in net64.named_parameters() if p.dim() > 1]
    base = {k: p.detach().clone() for k, p in net64.named_parameters()}
    shapes = [base[k].shape for k in names]
    sizes = [base[k].numel() for k in names]

    def loss_of(flat):
        params = dict(base)
        off = 0
        for k, shp, sz in zip(names, shapes, sizes):
            params[k] = flat[off:off + sz].view(shp)
            off += sz
        buffers = {k: v for k, v in net64.named_buffers()}
        out = torch.func.functional_call(net64, {**params, **buffers}, (Xc.double(),)) \
            if hasattr(torch, "func") else torch.nn.utils.stateless.functional_call(net64, {**params, **buffers},
                                                                                     (Xc.double(),))
        return F.mse_loss(F.softmax(out, 1), F.one_hot(yc, 3).double())

    flat0 = torch.cat([base[k].reshape(-1) for k in names])
    H = torch.autograd.functional.hessian(loss_of, flat0).numpy()
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))
    scale = max(abs(ev[0]), abs(ev[-1]))
    ok &= check("cnn+bn mse max_eig", got_max, ev[-1], scale)
    ok &= check("cnn+bn mse min_eig", got_min, ev[0], scale)

    # 3. The two leading eigenvectors as a direction file (hessian --dir-out): autograd's, up to sign,
    # in the weight tensors with dim > 1, zero in the others (bias, BatchNorm).
    run(binary, ["hessian", "--model", f"{work}/cnn.pt", "--data", f"{work}/cnn_data.pt", "--loss", "mse",
                 "--hessian-tol", "1e-10", "--top-k", "2", "--trace-samples", "0", "--threads", "1",
                 "--dir-out", f"{work}/cnn_eig.dirs.h5"])
    w, v = np.linalg.eigh(0.5 * (H + H.T))
    pnames = [k for k, _ in net64.named_parameters()]
    with h5py.File(f"{work}/cnn_eig.dirs.h5", "r") as f:
        for axis, col in (("xdirection", -1), ("ydirection", -2)):
            tensors = [np.array(f[axis][str(i)], dtype=np.float64) for i in range(len(pnames))]
            got = np.concatenate([t.ravel() for t, k in zip(tensors, pnames) if k in names])
            zeros = all(not t.any() for t, k in zip(tensors, pnames) if k not in names)
            want = v[:, col]
            err = min(np.abs(got - want).max(), np.abs(got + want).max())
            print(f"eigenvector {axis}: max |landscape - numpy| = {err:.3g} (up to sign), other tensors zero: {zeros}")
            ok &= err < 1e-3 and zeros and abs(np.linalg.norm(got) - 1) < 1e-5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
