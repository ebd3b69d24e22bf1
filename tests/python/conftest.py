"""Fixtures of the Python package's tests: a private redis-server, landscape-server and two workers (real
processes from the build tree, free loopback ports), Fashion-MNIST samples and small torch models.

Environment (set by ctest): LANDSCAPE_BUILD_DIR, the build tree (default: <repository>/build);
LANDSCAPE_DATA_DIR or /usr/share/datasets for Fashion-MNIST."""
import gzip
import os
import shutil
import socket
import subprocess
import tempfile
import time

import numpy as np
import pytest
import torch

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("LANDSCAPE_BUILD_DIR") or os.path.join(REPO, "build")
CLI = os.path.join(BUILD, "client", "landscape")
SERVER = os.path.join(BUILD, "server", "landscape-server")
WORKER = os.path.join(BUILD, "worker", "landscape-worker")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Proc:
    """A process logging into a file; stopped with SIGTERM (then SIGKILL after 30 s)."""

    def __init__(self, argv, log, env=None):
        self.argv, self.log = argv, log
        self._f = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self._f, stderr=subprocess.STDOUT, env=env)

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._f.close()


class Cluster:
    """redis-server, landscape-server (optionally with a tokens file) and `workers` workers."""

    def __init__(self, workdir, workers=2, tokens=None):
        self.dir = workdir
        self.redis_port, self.port = free_port(), free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}"
        self.redis = Proc([shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1", "--port",
                           str(self.redis_port), "--dir", workdir, "--save", "", "--appendonly", "no"],
                          os.path.join(workdir, "redis.log"))
        wait_for(lambda: "Ready to accept connections" in self.redis.text(), 20, "redis-server")
        self.server_argv = [SERVER, "--listen", self.addr, "--redis", self.redis_url]
        if tokens:
            self.server_argv += ["--tokens", tokens]
        self.server = None
        self.server_starts = 0
        self.start_server()
        self.workers = [self.start_worker(f"w{i}") for i in range(workers)]

    def start_server(self):
        self.server = Proc(self.server_argv, os.path.join(self.dir, "server.log"))
        n = self.server_starts
        wait_for(lambda: self.server.text().count("listening on") > n, 30, "landscape-server")
        self.server_starts += 1

    def restart_server(self):
        self.server.stop()
        self.start_server()

    def start_worker(self, name):
        w = Proc([WORKER, "--redis", self.redis_url, "--threads", "1", "--name", name, "--cache",
                  os.path.join(self.dir, "cache-" + name), "--poll-ms", "200", "--claim-idle-ms", "1500"],
                 os.path.join(self.dir, name + ".log"))
        wait_for(lambda: "worker started" in w.text(), 30, "landscape-worker " + name)
        return w

    def stop(self):
        for w in self.workers:
            w.stop()
        self.server.stop()
        self.redis.stop()

    def logs(self):
        return "\n".join(f"--- {p.log}\n{p.text()[-3000:]}" for p in [self.server, *self.workers])


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
