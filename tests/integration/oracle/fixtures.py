"""Test fixtures made with Debian's python3-torch: a small CNN with BatchNorm
(TorchScript), a second trained copy, a state-dict checkpoint, and a data file.

Usage: fixtures.py OUT_DIR
"""
import collections
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 3 * 3, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


def train_a_little(net, images, labels, steps, lr):
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    net.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(net(images), labels)
        loss.backward()
        opt.step()
    net.eval()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    n, classes = 96, 5
    labels = torch.arange(n) % classes
    # Images with a class-dependent pattern, so training means something.
    images = torch.randn(n, 1, 12, 12) * 0.5
    for c in range(classes):
        images[labels == c, 0, c * 2:(c * 2 + 2), :] += 1.5
    torch.save({"images": images, "labels": labels}, os.path.join(out, "data.pt"))

    net = SmallCNN(classes)
    train_a_little(net, images, labels, steps=15, lr=0.05)
    torch.jit.save(torch.jit.script(net), os.path.join(out, "model.pt"))
    # A bare OrderedDict state dict (what model.state_dict() gives) and a
    # reference-style checkpoint dict {"state_dict": ..., "acc": ..., "epoch": ...}.
    torch.save(net.state_dict(), os.path.join(out, "state_dict.pt"))
    torch.save({"state_dict": net.state_dict(), "acc": 91.5, "epoch": 3},
               os.path.join(out, "checkpoint.t7"))

    net2 = SmallCNN(classes)
    net2.load_state_dict(net.state_dict())
    train_a_little(net2, images, labels, steps=10, lr=0.1)
    torch.jit.save(torch.jit.script(net2), os.path.join(out, "model2.pt"))

    # The architecture alone, freshly initialized (for --arch with state dicts).
    torch.jit.save(torch.jit.script(SmallCNN(classes)), os.path.join(out, "arch.pt"))

    # Train and test splits in one file (--split both).
    test_images = torch.randn(40, 1, 12, 12) * 0.5
    test_labels = torch.arange(40) % classes
    torch.save({"train": {"images": images, "labels": labels}, "test": {"images": test_images, "labels": test_labels}},
               os.path.join(out, "splits.pt"))
    torch.save({"images": test_images, "labels": test_labels}, os.path.join(out, "test_only.pt"))

    # Data that do not fit the model (3 channels).
    torch.save({"images": torch.randn(8, 3, 12, 12), "labels": torch.zeros(8, dtype=torch.long)},
               os.path.join(out, "wrong_shape.pt"))


if __name__ == "__main__":
    main()
