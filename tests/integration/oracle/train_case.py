"""`landscape train` against torch.optim: the same start model (TorchScript, BatchNorm in
train mode), the same full batch, three steps of SGD with Nesterov momentum and of Adam, both
with L2 weight decay. Every parameter and buffer of the last checkpoint must be PyTorch's.

Usage: train_case.py LANDSCAPE_BINARY WORK_DIR
"""
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

from pca_case import Net  # the small CNN with BatchNorm of the PCA oracle (this directory)


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(4)
    x, y = torch.randn(32, 1, 6, 6), torch.randint(0, 3, (32,))
    torch.save({"images": x, "labels": y}, f"{work}/data.pt")
    start = Net()
    torch.jit.save(torch.jit.script(start), f"{work}/start.pt")
    steps, lr, wd = 3, 0.05, 1e-3
    optimizers = {
        "sgd": lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd),
        "adam": lambda p: torch.optim.Adam(p, lr=lr, weight_decay=wd),
    }
    ok = True
    for name, make in optimizers.items():
        out = f"{work}/{name}"
        cmd = [binary, "train", "--arch", f"{work}/start.pt", "--data", f"{work}/data.pt", "--epochs", str(steps),
               "--batch-size", "32", "--lr", str(lr), "--lr-decay", "1", "--weight-decay", str(wd), "--optimizer",
               name, "--augment", "none", "--eval-samples", "-1", "--threads", "1", "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(name, "train failed:", r.stderr)
            ok = False
            continue
        net = Net()
        net.load_state_dict(start.state_dict())
        net.train()
        opt = make(net.parameters())
        for _ in range(steps):  # one full batch per epoch: the shuffle changes nothing but summation order
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        ours = torch.jit.load(f"{out}/model_{steps}.pt").state_dict()
        worst = 0.0
        for k, v in net.state_dict().items():
            if v.dtype.is_floating_point:
                worst = max(worst, (ours[k] - v).abs().max().item())
            elif not torch.equal(ours[k], v):
                worst = float("inf")
        moved = max((ours[k] - v).abs().max().item() for k, v in start.state_dict().items() if v.dtype.is_floating_point)
        # 2e-3 of one step: float summation order is all that may differ. (Adam divides by the gradient's
        # own scale, so the conv bias, whose gradient through BatchNorm is rounding noise, moves by ~1e-5.)
        good = worst < 2e-3 * lr and moved > 1e-2
        print(f"{name}: largest difference to torch.optim {worst:.2e} (the parameters moved up to {moved:.3f}): "
              f"{'match' if good else 'DIFFER'}")
        ok &= good
    # A bad optimizer name is a usage error.
    r = subprocess.run([binary, "train", "--arch", f"{work}/start.pt", "--data", f"{work}/data.pt", "--optimizer",
                        "rmsprop", "--out", f"{work}/bad"], capture_output=True, text=True)
    ok &= r.returncode == 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
