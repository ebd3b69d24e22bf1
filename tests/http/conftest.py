"""Fixtures of the HTTP API and web UI tests: a private redis-server, landscape-server with --http and a
tokens file (tenants alice and bob), one landscape-worker, and a small CNN exported by the CLI. Python's
standard library only (urllib, http.client); real processes of the build tree on free loopback ports.

Environment (set by ctest): LANDSCAPE_BUILD_DIR, the build tree (default: <repository>/build)."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("LANDSCAPE_BUILD_DIR") or os.path.join(REPO, "build")
CLI = os.path.join(BUILD, "client", "landscape")
SERVER = os.path.join(BUILD, "server", "landscape-server")
WORKER = os.path.join(BUILD, "worker", "landscape-worker")
ALICE = "alice-token-0123456789"
BOB = "bob-token-9876543210"


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
        self.log = log
        self._f = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self._f, stderr=subprocess.STDOUT, env=env)

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._f.close()


class Cluster:
    def __init__(self, d):
        self.dir = d
        self.redis_port, self.port, self.http_port = free_port(), free_port(), free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}"
        self.redis = Proc([shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1", "--port",
                           str(self.redis_port), "--dir", d, "--save", "", "--appendonly", "no"],
                          os.path.join(d, "redis.log"))
        wait_for(lambda: "Ready to accept connections" in self.redis.text(), 20, "redis-server")
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write(f"{ALICE} alice\n{BOB} bob\n")
        self.server_argv = [SERVER, "--listen", self.addr, "--redis", self.redis_url, "--tokens", tokens,
                            "--http", f"127.0.0.1:{self.http_port}", "--allow-path-root", d,
                            "--max-samples", "5000", "--drain", "5"]
        self.server, self.starts, self.workers = None, 0, []
        self.start_server()
        self.model = os.path.join(d, "m.pt")
        r = subprocess.run([CLI, "export-arch", "--arch", "cnn", "--input", "1x28x28", "--seed", "3", "--out",
                            self.model], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    def start_server(self):
        self.server = Proc(self.server_argv, os.path.join(self.dir, "server.log"))
        n = self.starts
        wait_for(lambda: self.server.text().count("listening on") > n, 30, "landscape-server")
        self.starts += 1

    def restart_server(self):
        self.server.stop()
        self.start_server()

    def start_worker(self, name="w0"):
        w = Proc([WORKER, "--redis", self.redis_url, "--threads", "1", "--name", name, "--cache",
                  os.path.join(self.dir, "cache-" + name), "--poll-ms", "100", "--claim-idle-ms", "1500"],
                 os.path.join(self.dir, name + ".log"))
        wait_for(lambda: "worker started" in w.text(), 30, "landscape-worker " + name)
        self.workers.append(w)
        return w

    def stop(self):
        for w in self.workers:
            w.stop()
        self.server.stop()
        self.redis.stop()

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

    def logs(self):
        return "\n".join(f"--- {p.log}\n{p.text()[-3000:]}" for p in [self.server, *self.workers])


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
