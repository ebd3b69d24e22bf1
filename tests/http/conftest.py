"""Fixtures of the HTTP API and web UI tests: a private redis-server, landscape-server with --http and a
tokens file (tenants alice and bob), one landscape-worker, and a small CNN exported by the CLI. Python's
standard library only (urllib, http.client); real processes of the build tree on free loopback ports.

Environment (set by ctest): LANDSCAPE_BUILD_DIR, the build tree (default: <repository>/build)."""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import cluster as support  # noqa: E402  (tests/support/cluster.py: the processes, shared with tests/python)
from cluster import BUILD, CLI, REPO, SERVER, WORKER, Proc, free_port, wait_for  # noqa: E402,F401

ALICE = "alice-token-0123456789"
BOB = "bob-token-9876543210"


class Cluster(support.Cluster):
    """The server with --http, the tokens file of alice and bob, paths allowed in the cluster's directory, and
    a CNN exported by the CLI (`model`); workers poll every 100 ms."""

    def __init__(self, d):
        self.http_port = free_port()
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write(f"{ALICE} alice\n{BOB} bob\n")
        super().__init__(d, poll_ms=100,
                         server_flags=["--tokens", tokens, "--http", f"127.0.0.1:{self.http_port}",
                                       "--allow-path-root", d, "--max-samples", "5000", "--drain", "5"])
        self.model = os.path.join(d, "m.pt")
        r = subprocess.run([CLI, "export-arch", "--arch", "cnn", "--input", "1x28x28", "--seed", "3", "--out",
                            self.model], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    # --- HTTP ------------------------------------------------------------------------------------------
    def request(self, method, path, token=ALICE, body=None, headers=None, timeout=30):
        """(status, headers, body bytes) of one request; never raises for an HTTP error status."""
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def json(self, method, path, token=ALICE, body=None, expect=200, **kw):
        status, hdrs, data = self.request(method, path, token, body, **kw)
        assert status == expect, (status, data[:500])
        assert hdrs.get("Content-Type", "").startswith("application/json"), hdrs
        return json.loads(data)

    def submit(self, token=ALICE, x="-1:1:5", y="-1:1:5", labels=(), name="", tile=None):
        """Submits with the CLI (over gRPC); the job id."""
        argv = [CLI, "submit", "--server", self.addr, "--model", self.model, "--data", "synthetic:32:1x28x28",
                "--x", x]
        if y:
            argv += ["--y", y]
        for l in labels:
            argv += ["--label", l]
        if name:
            argv += ["--name", name]
        if tile:
            argv += ["--tile-size", str(tile)]
        env = dict(os.environ, LANDSCAPE_TOKEN=token)
        r = subprocess.run(argv, capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip().split("/")[-1]

    def wait_state(self, job_id, states=("SUCCEEDED",), token=ALICE, timeout=120):
        box = {}

        def done():
            box["j"] = self.json("GET", f"/api/v1/jobs/{job_id}", token)
            return box["j"]["state"] in states
        wait_for(done, timeout, f"job {job_id} in {states}")
        return box["j"]


@pytest.fixture(scope="session")
def cluster():
    for b in (CLI, SERVER, WORKER):
        if not os.access(b, os.X_OK):
            pytest.skip(f"{b} is not built")
    d = tempfile.mkdtemp(prefix="landscape-http-")
    c = Cluster(d)
    yield c
    c.stop()
    shutil.rmtree(d, ignore_errors=True)
