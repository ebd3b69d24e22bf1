"""Fixtures of the Python package's tests: a private redis-server, landscape-server and two workers (real
processes from the build tree, free loopback ports), Fashion-MNIST samples and small torch models.

Environment (set by ctest): LANDSCAPE_BUILD_DIR, the build tree (default: <repository>/build);
LANDSCAPE_DATA_DIR or /usr/share/datasets for Fashion-MNIST."""
import gzip
import os
import shutil
import sys
import tempfile

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import cluster as support  # noqa: E402  (tests/support/cluster.py: the processes, shared with tests/http)
from cluster import BUILD, CLI, REPO, SERVER, WORKER, Proc, free_port, wait_for  # noqa: E402,F401


class Cluster(support.Cluster):
    """redis-server, landscape-server (optionally with a tokens file) and `workers` workers (w0, w1, ...)."""

    def __init__(self, workdir, workers=2, tokens=None):
        super().__init__(workdir, server_flags=["--tokens", tokens] if tokens else [])
        for i in range(workers):
            self.start_worker(f"w{i}")


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="landscape-pytest-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(workdir):
    for b in (CLI, SERVER, WORKER):
        if not os.access(b, os.X_OK):
            if os.environ.get("LANDSCAPE_BUILD_DIR"):  # run by ctest: the build must have them
                pytest.fail(f"{b} is not built")
            pytest.skip(f"{b} is not built")
    c = Cluster(tempfile.mkdtemp(dir=workdir, prefix="cluster-"))
    yield c
    c.stop()


@pytest.fixture(scope="session")
def client(cluster):
    import landscape
    return landscape.connect(cluster.addr, timeout=60)


def read_idx(path, count):
    with gzip.open(path, "rb") as f:
        magic = int.from_bytes(f.read(4), "big")
        dims = [int.from_bytes(f.read(4), "big") for _ in range(magic & 0xFF)]
        n = min(count, dims[0])
        per = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        return np.frombuffer(f.read(n * per), dtype=np.uint8).reshape([n, *dims[1:]])


@pytest.fixture(scope="session")
def fmnist():
    """300 Fashion-MNIST training samples: float images [N, 1, 28, 28] in [0, 1], int64 labels."""
    root = os.path.join(os.environ.get("LANDSCAPE_DATA_DIR") or "/usr/share/datasets", "fashion-mnist")
    images = read_idx(os.path.join(root, "train-images-idx3-ubyte.gz"), 300)
    labels = read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz"), 300)
    return (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1),
            torch.from_numpy(labels.astype(np.int64)))


class MLP(torch.nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, hidden)
        self.fc2 = torch.nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def make_mlp(seed, hidden=32):
    torch.manual_seed(seed)
    return MLP(hidden)
