"""The engine's own oneDNN primitives on a ResNet (Winograd 3x3 convolutions, ReLUs and residual
additions fused into them) against the independent oracle (oracle.py): a zoo ResNet-20 for 1x16x16
inputs whose BatchNorm statistics are not the identity, 2-D random directions, every point within
rtol 1e-5 of PyTorch's float32 forward pass (Winograd rounds differently, by ~1e-6 of a layer's output);
then the same in bfloat16, within bf16's rounding (rtol 2e-2).

Usage: onednn_resnet_case.py LANDSCAPE_BINARY WORK_DIR
"""
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    binary, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "resnet20.pt")
    subprocess.run([binary, "export-arch", "--arch", "resnet20", "--input", "1x16x16", "--classes", "4",
                    "--out", model], check=True, stdout=subprocess.DEVNULL)
    # Non-trivial BatchNorm statistics (folded into the convolutions by freezing): a few batches in train mode.
    torch.manual_seed(5)
    net = torch.jit.load(model)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(32, 1, 16, 16) * 1.5 + 0.3)
    net.eval()
    net.save(model)
    images = torch.randn(70, 1, 16, 16)
    labels = torch.randint(0, 4, (70,))
    data = os.path.join(work, "data.pt")
    torch.save({"images": images, "labels": labels}, data)

    # float32 (Winograd where this CPU has it), then bfloat16 (direct convolutions in bf16) against the same
    # float32 oracle within bf16's rounding.
    for precision, oracle_flags in (("fp32", []), ("bf16", ["--rtol", "2e-2", "--acc-atol", "2"])):
        surface = os.path.join(work, f"surface_{precision}.h5")
        dirs = os.path.join(work, f"surface_{precision}.dirs.h5")
        cmd = [binary, "local", "--model", model, "--data", data, "--batch-size", "32", "--threads", "2",
               "--onednn", "on", "--precision", precision, "--x", "-1:1:3", "--y", "-1:1:3", "--progress", "quiet",
               "--overwrite", "--out", surface, "--dir-out", dirs]
        print(" ".join(cmd), flush=True)
        r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(r.stderr)
        if r.returncode != 0:
            print(f"landscape exited with {r.returncode}")
            return 1
        if f"own oneDNN primitives (BatchNorm folded, Winograd convolutions, fused ReLUs and additions), {precision}," \
                not in r.stderr:
            print(f"the points were not evaluated on the engine's oneDNN primitives in {precision}")
            return 1
        # What the primitives took: every block's addition and ReLU fused.
        if "with 19 ReLUs and 9 residual additions fused" not in r.stderr:
            print("the ReLUs and residual additions were not all fused")
            return 1
        r = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "--model", model, "--data", data,
                            "--dirs", dirs, "--surface", surface, "--dir-type", "weights", "--loss", "crossentropy",
                            "--batch-size", "32"] + oracle_flags)
        if r.returncode != 0:
            return r.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
