"""FLOPs of one forward pass per sample of a TorchScript model, counted by PyTorch's profiler
(convolutions, matrix products, element-wise additions and multiplications; a multiply-add counts 2).
The numerator of the "fraction of peak" numbers in bench/cpu.sh.

Usage: model_flops.py --model M.pt [--input 1x28x28]   (prints the FLOPs per sample; Debian's python3-torch)
"""
import argparse

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", default="1x28x28", help="one sample's shape, CxHxW or N")
    args = ap.parse_args()
    shape = [int(v) for v in args.input.split("x")]
    model = torch.jit.load(args.model, map_location="cpu").eval()
    batch = 4  # a few samples: per-sample counts must not depend on the batch
    x = torch.zeros([batch] + shape)
    with torch.no_grad(), torch.profiler.profile(with_flops=True) as prof:
        model(x)
    flops = sum(e.flops for e in prof.key_averages() if e.flops)
    if flops <= 0:
        raise SystemExit("model_flops.py: the profiler counted no FLOPs for this model")
    print(f"{flops / batch:.0f}")


if __name__ == "__main__":
    main()
