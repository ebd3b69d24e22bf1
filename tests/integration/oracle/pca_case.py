"""PCA trajectory directions and projections against numpy's SVD.

Trains a small CNN with BatchNorm for a few SGD steps, saving checkpoints as
TorchScript archives and (every other one) as state dicts, then runs
`landscape local --checkpoints ...` and checks, independently:
 - the two directions equal the top-2 right singular vectors of the centred
   matrix of rows θ_i − θ_final (≤1-D entries zeroed with biasbn), with
   sklearn's sign convention, and the explained-variance ratios;
 - every checkpoint's coordinates (least squares in the plane), its distance
   from the plane, its true loss and the loss at its projection.

Usage: pca_case.py LANDSCAPE_BINARY WORK_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(x, 1))


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(2)
    X = torch.randn(64, 1, 6, 6)
    y = torch.randint(0, 3, (64,))
    torch.save({"images": X, "labels": y}, f"{work}/data.pt")
    net = Net()
    torch.jit.save(torch.jit.script(net), f"{work}/arch.pt")
    opt = torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.9, weight_decay=5e-4)
    ckpts = []
    for step in range(8):
        if step > 0:
            net.train()
            for _ in range(3):
                opt.zero_grad()
                F.cross_entropy(net(X), y).backward()
                opt.step()
        net.eval()
        if step % 2 == 0:
            path = f"{work}/model_{step}.pt"
            torch.jit.save(torch.jit.script(net), path)
        else:
            path = f"{work}/model_{step}.t7"
            torch.save({"state_dict": net.state_dict(), "epoch": step}, path)
        ckpts.append(path)
    final = ckpts[-1]

    out = f"{work}/pca.h5"
    cmd = [binary, "local", "--model", final, "--arch", f"{work}/arch.pt", "--data", f"{work}/data.pt",
           "--checkpoints", *ckpts, "--pca-ignore", "biasbn", "--x", "-1:1:3", "--y", "-1:1:3",
           "--threads", "1", "--progress", "quiet", "--overwrite", "--out", out, "--dir-out", f"{work}/pca.dirs.h5"]
    print(" ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        return 1

    def params(path):
        if path.endswith(".pt"):
            m = torch.jit.load(path)
        else:
            m = torch.jit.load(f"{work}/arch.pt")
            m.load_state_dict(torch.load(path)["state_dict"])
        m.eval()
        return m, [p.detach().double().numpy() for p in m.parameters()]

    final_model, final_params = params(final)
    shapes = [p.shape for p in final_params]
    small = np.concatenate([np.full(p.size, p.ndim <= 1) for p in final_params])
    rows = []
    for c in ckpts:
        _, ps = params(c)
        rows.append(np.concatenate([(a - b).ravel() for a, b in zip(ps, final_params)]))
    D = np.array(rows)
    Dz = D.copy()
    Dz[:, small] = 0.0
    Dc = Dz - Dz.mean(axis=0)
    U, S, Vt = np.linalg.svd(Dc, full_matrices=False)
    signs = np.sign(U[np.argmax(np.abs(U), axis=0), range(U.shape[1])])
    Vt = Vt * signs[:, None]
    ratio = (S ** 2) / (S ** 2).sum()
    pcs = Vt[:2].copy()
    pcs[:, small] = 0.0

    ok = True
    with h5py.File(f"{work}/pca.dirs.h5", "r") as f:
        got = [np.concatenate([np.array(f[g][str(i)]).ravel() for i in range(len(shapes))])
               for g in ("xdirection", "ydirection")]
        got_ratio = np.array(f["explained_variance_ratio_"])
        for name in ("explained_variance_ratio_", "singular_values_", "explained_variance_"):
            assert f[name].dtype == np.float64 and f[name].shape == (2,), name
    for k in range(2):
        err = np.abs(got[k] - pcs[k]).max()
        print(f"PC{k + 1}: max |landscape - numpy| = {err:.3g}; explained variance ratio "
              f"{got_ratio[k]:.6f} vs {ratio[k]:.6f}")
        ok &= err < 1e-4 and abs(got_ratio[k] - ratio[k]) < 1e-6

    # Projection: least squares in the plane of the stored (float32) directions.
    A = np.stack([got[0].astype(np.float32).astype(np.float64), got[1].astype(np.float32).astype(np.float64)], 1)
    coef, *_ = np.linalg.lstsq(A, D.T, rcond=None)
    dist = np.linalg.norm(D.T - A @ coef, axis=0)
    with h5py.File(f"{work}/pca.proj.h5", "r") as p:
        px, py = np.array(p["proj_xcoord"]), np.array(p["proj_ycoord"])
        pdist = np.array(p["distance_from_plane"])
        loss_true, loss_proj = np.array(p["loss_true"]), np.array(p["loss_projected"])
    scale = np.abs(coef).max()
    ok &= np.allclose(px, coef[0], atol=1e-5 * scale) and np.allclose(py, coef[1], atol=1e-5 * scale)
    ok &= np.allclose(pdist, dist, atol=1e-4 * max(1e-12, np.linalg.norm(D, axis=1).max()))
    print("projection x:", np.round(px, 4), "expected", np.round(coef[0], 4))
    print("distance from plane:", np.round(pdist, 5), "expected", np.round(dist, 5))

    # The true loss of each checkpoint, and the loss at its projection.
    def ce(m):
        with torch.no_grad():
            return F.cross_entropy(m(X), y).item()
    for i, c in enumerate(ckpts):
        m, _ = params(c)
        t = ce(m)
        ok &= abs(loss_true[i] - t) <= 1e-5 * max(1.0, abs(t))
        proj_model, base = params(final)
        with torch.no_grad():
            for prm, w, sx, sy in zip(proj_model.parameters(), base,
                                      np.split(got[0].astype(np.float32), np.cumsum([s.size for s in base])[:-1]),
                                      np.split(got[1].astype(np.float32), np.cumsum([s.size for s in base])[:-1])):
                change = torch.tensor(sx.reshape(w.shape)) * px[i] + torch.tensor(sy.reshape(w.shape)) * py[i]
                prm.copy_(torch.tensor(w, dtype=torch.float32) + change)
        tp = ce(proj_model)
        print(f"checkpoint {i}: loss {loss_true[i]:.6f} (expected {t:.6f}), at its projection "
              f"{loss_proj[i]:.6f} (expected {tp:.6f})")
        ok &= abs(loss_proj[i] - tp) <= 1e-4 * max(1.0, abs(tp))

    # The same checkpoints projected onto a given plane (the reference's plot_trajectory --dir_file):
    # filter-normalized random directions from `local` (neither unit nor orthogonal), least squares.
    cmd = [binary, "local", "--model", final, "--arch", f"{work}/arch.pt", "--data", f"{work}/data.pt",
           "--x", "-1:1:2", "--y", "-1:1:2", "--seed", "5", "--threads", "1", "--progress", "quiet", "--overwrite",
           "--out", f"{work}/random.h5", "--dir-out", f"{work}/random.dirs.h5"]
    if subprocess.run(cmd).returncode != 0:
        return 1
    cmd = [binary, "trajectory", "--model", final, "--arch", f"{work}/arch.pt", "--data", f"{work}/data.pt",
           "--checkpoints", *ckpts, "--dir-file", f"{work}/random.dirs.h5", "--threads", "1", "--out", f"{work}/onto"]
    print(" ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        return 1
    with h5py.File(f"{work}/random.dirs.h5", "r") as f:
        R = np.stack([np.concatenate([np.array(f[g][str(i)], dtype=np.float64).ravel() for i in range(len(shapes))])
                      for g in ("xdirection", "ydirection")], 1)
    coef, *_ = np.linalg.lstsq(R, D.T, rcond=None)
    dist = np.linalg.norm(D.T - R @ coef, axis=0)
    with h5py.File(f"{work}/onto.proj.h5", "r") as p:
        qx, qy, qdist = np.array(p["proj_xcoord"]), np.array(p["proj_ycoord"]), np.array(p["distance_from_plane"])
        q_loss_true = np.array(p["loss_true"])
    scale = np.abs(coef).max()
    onto_ok = (np.allclose(qx, coef[0], atol=1e-5 * scale) and np.allclose(qy, coef[1], atol=1e-5 * scale)
               and np.allclose(qdist, dist, atol=1e-4 * np.linalg.norm(D, axis=1).max())
               and np.allclose(q_loss_true, loss_true, rtol=1e-6))
    print("onto random directions: x", np.round(qx, 4), "expected", np.round(coef[0], 4),
          "match" if onto_ok else "DIFFER")
    ok &= onto_ok
    ok &= not os.path.exists(f"{work}/onto.dirs.h5")  # the directions are the given file
    # Elsewhere, checkpoints and a direction file together are refused.
    r = subprocess.run([binary, "local", "--model", final, "--arch", f"{work}/arch.pt", "--data", f"{work}/data.pt",
                        "--checkpoints", *ckpts, "--dir-file", f"{work}/random.dirs.h5", "--x", "0:1:2",
                        "--out", f"{work}/no.h5"], capture_output=True, text=True)
    ok &= r.returncode == 2 and "landscape trajectory" in r.stderr
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
