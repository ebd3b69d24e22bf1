"""The built-in architectures against independent re-implementations of the
reference's CIFAR models (tomgoldstein/loss-landscape cifar10/models: ResNet_cifar
with and without shortcuts, WResNet_cifar, VGG-9, DenseNet), written here in
PyTorch: `landscape export-arch` must give the same tensors in the same order
and, with the same weights, the same outputs.

Usage: zoo_case.py LANDSCAPE_BINARY WORK_DIR
"""
import collections
import math
import os
import subprocess
import sys

import h5py
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.use_shortcut = shortcut
        self.shortcut = nn.Sequential()
        if shortcut and (stride != 1 or cin != cout):
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.use_shortcut:
            out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, depth, k=1, shortcut=True, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16 * k, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16 * k)
        layers, cin = [], 16 * k
        for stage, width in enumerate((16 * k, 32 * k, 64 * k)):
            blocks = []
            for b in range(n):
                blocks.append(Block(cin, width, 2 if stage > 0 and b == 0 else 1, shortcut))
                cin = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64 * k, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(F.avg_pool2d(out, 8).flatten(1))


class Bottleneck4(nn.Module):
    """The reference's Bottleneck (expansion 4) and Bottleneck_noshortcut (no addition, no last ReLU)."""

    def __init__(self, cin, planes, stride, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.use_shortcut = shortcut
        self.shortcut = nn.Sequential()
        if shortcut and (stride != 1 or cin != 4 * planes):
            self.shortcut = nn.Sequential(nn.Conv2d(cin, 4 * planes, 1, stride, bias=False), nn.BatchNorm2d(4 * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if not self.use_shortcut:
            return out
        return F.relu(out + self.shortcut(x))


class ImageNetResNet(nn.Module):
    """The reference's ResNet class (resnet18/34/50/101/152): 64-512 channels at CIFAR resolution."""

    def __init__(self, blocks, bottleneck, shortcut=True, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin, expansion = 64, 4 if bottleneck else 1
        for s, n in enumerate(blocks):
            planes, layers = 64 * 2 ** s, []
            for b in range(n):
                stride = 2 if s > 0 and b == 0 else 1
                layers.append(Bottleneck4(cin, planes, stride, shortcut) if bottleneck
                              else Block(cin, planes, stride, shortcut))
                cin = planes * expansion
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.linear = nn.Linear(512 * expansion, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.avg_pool2d(out, 4).flatten(1))


class VGG9(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, c, size = [], 3, 32
        for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
                size = math.ceil(size / 2)
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(c * size * size, c), nn.BatchNorm1d(c), nn.ReLU())
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        return self.classifier(self.fc(self.features(x).flatten(1)))


class Bottleneck(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        y = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return torch.cat([y, x], 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNet(nn.Module):
    """The reference's module names: conv1, dense1..4 (Sequential of bottlenecks), trans1..3, bn, linear."""

    def __init__(self, nblocks, growth, classes=10):
        super().__init__()
        planes = 2 * growth
        self.conv1 = nn.Conv2d(3, planes, 3, padding=1, bias=False)
        self.stages = []
        for s, n in enumerate(nblocks):
            blocks = []
            for _ in range(n):
                blocks.append(Bottleneck(planes, growth))
                planes += growth
            setattr(self, f"dense{s + 1}", nn.Sequential(*blocks))
            stage = [f"dense{s + 1}"]
            if s + 1 < len(nblocks):
                setattr(self, f"trans{s + 1}", Transition(planes, planes // 2))
                stage.append(f"trans{s + 1}")
                planes //= 2
            self.stages.append(stage)
        self.bn = nn.BatchNorm2d(planes)
        self.linear = nn.Linear(planes, classes)

    def forward(self, x):
        out = self.conv1(x)
        for stage in self.stages:
            for name in stage:
                out = getattr(self, name)(out)
        return self.linear(F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1))


MODELS = {
    "resnet20": lambda: ResNet(20),
    "resnet20_noshort": lambda: ResNet(20, shortcut=False),
    "resnet56": lambda: ResNet(56),
    "resnet56_noshort": lambda: ResNet(56, shortcut=False),
    "resnet110": lambda: ResNet(110),
    "wrn56_2": lambda: ResNet(56, k=2),
    "resnet18": lambda: ImageNetResNet([2, 2, 2, 2], False),
    "resnet18_noshort": lambda: ImageNetResNet([2, 2, 2, 2], False, shortcut=False),
    "resnet50": lambda: ImageNetResNet([3, 4, 6, 3], True),
    "resnet50_noshort": lambda: ImageNetResNet([3, 4, 6, 3], True, shortcut=False),
    "resnet50_16_noshort": lambda: ResNet(50, shortcut=False),
    "vgg9": VGG9,
    "densenet_cifar": lambda: DenseNet([6, 12, 24, 16], 12),
}


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    ok = True
    for name, make in MODELS.items():
        path = os.path.join(work, name + ".pt")
        r = subprocess.run([binary, "export-arch", "--arch", name, "--input", "3x32x32", "--out", path],
                           capture_output=True)
        if r.returncode != 0:
            print(name, "export failed:", r.stderr.decode())
            ok = False
            continue
        ours = torch.jit.load(path).eval()
        ref = make().eval()
        ours_sd, ref_sd = list(ours.state_dict().values()), list(ref.state_dict().values())
        shapes_ok = [tuple(t.shape) for t in ours_sd] == [tuple(t.shape) for t in ref_sd]
        params = sum(p.numel() for p in ours.parameters())
        ref_params = sum(p.numel() for p in ref.parameters())
        same_out = False
        if shapes_ok:
            with torch.no_grad():
                for dst, src in zip(ref_sd, ours_sd):
                    dst.copy_(src)
                same_out = torch.allclose(ours(x), ref(x), rtol=1e-4, atol=1e-5)
        print(f"{name}: {params} parameters (reference {ref_params}), tensors "
              f"{'match' if shapes_ok else 'DIFFER'}, outputs {'match' if same_out else 'DIFFER'}")
        ok &= shapes_ok and same_out and params == ref_params
        # The 1x28x28 variant must run too.
        r = subprocess.run([binary, "export-arch", "--arch", name, "--input", "1x28x28", "--out", path],
                           capture_output=True)
        out = torch.jit.load(path).eval()(torch.randn(2, 1, 28, 28))
        ok &= r.returncode == 0 and tuple(out.shape) == (2, 10)
    ok &= reference_checkpoints(binary, work)
    return 0 if ok else 1


def reference_checkpoints(binary, work):
    """Checkpoints of the reference's model classes (their tensor names, in a {"state_dict": ...}
    dict as its main.py saves) apply onto the exported architectures with --arch: in torch.save's zip
    format, in the legacy format of PyTorch < 1.6 (the paper's pre-trained files), and without
    BatchNorm's num_batches_tracked (PyTorch < 0.4.1). The loss at the centre must be the
    reference model's own on the same data."""
    torch.manual_seed(1)
    images, labels = torch.randn(16, 3, 32, 32), torch.arange(16) % 10
    data = os.path.join(work, "ckpt_data.pt")
    torch.save({"images": images, "labels": labels}, data)
    ok = True
    for name in ("resnet20", "resnet50", "vgg9", "densenet_cifar"):
        arch = os.path.join(work, name + "-arch.pt")
        r = subprocess.run([binary, "export-arch", "--arch", name, "--input", "3x32x32", "--out", arch],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(name, "export failed:", r.stderr)
            ok = False
            continue
        ref = MODELS[name]()
        with torch.no_grad():  # BatchNorm statistics and affine parameters that matter
            for m in ref.modules():
                if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
            linears = [m for m in ref.modules() if isinstance(m, nn.Linear)]
            linears[-1].weight.mul_(30)  # logits far from 0: a loss far from ln 10, whatever went wrong
            ref.eval()
            expected = F.cross_entropy(ref(images), labels).item()
        sd = ref.state_dict()
        old_sd = collections.OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
        variants = {
            "zip": ({"state_dict": sd, "acc": 90.0, "epoch": 10}, True),
            "legacy": ({"state_dict": sd, "acc": 90.0, "epoch": 10}, False),
            "legacy_no_counter": ({"state_dict": old_sd, "acc": 90.0, "epoch": 10}, False),
        }
        for variant, (obj, zip_format) in variants.items():
            ckpt = os.path.join(work, f"{name}-{variant}.t7")
            torch.save(obj, ckpt, _use_new_zipfile_serialization=zip_format)
            out = os.path.join(work, f"{name}-{variant}.h5")
            r = subprocess.run([binary, "local", "--model", ckpt, "--arch", arch, "--data", data, "--x", "0:0:1",
                                "--threads", "1", "--progress", "quiet", "--overwrite", "--out", out],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{name} {variant}: landscape exited with {r.returncode}: {r.stderr.strip()}")
                ok = False
                continue
            with h5py.File(out, "r") as f:
                got = float(f["train_loss"][()].ravel()[0])
            good = abs(got - expected) <= 1e-4 * max(1.0, abs(expected))
            print(f"{name} {variant}: loss {got:.6f}, reference model {expected:.6f}: {'match' if good else 'DIFFER'}")
            ok &= good
    # A checkpoint of another architecture is refused, naming the tensor.
    r = subprocess.run([binary, "local", "--model", os.path.join(work, "vgg9-zip.t7"), "--arch",
                        os.path.join(work, "resnet20-arch.pt"), "--data", data, "--x", "0:0:1", "--out",
                        os.path.join(work, "wrong.h5")], capture_output=True, text=True)
    refused = r.returncode == 2 and "the state dict lacks 'conv1.weight'" in r.stderr
    print("a VGG checkpoint on ResNet-20:", "refused" if refused else f"NOT refused as expected: {r.stderr.strip()}")
    return ok and refused


if __name__ == "__main__":
    sys.exit(main())
