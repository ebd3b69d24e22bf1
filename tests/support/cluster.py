"""The service as real processes for the pytest suites (tests/python, tests/http): a redis-server of the
cluster's own, landscape-server and landscape-workers of the build tree on free loopback ports, each logging
into the cluster's directory. The conftest.py files import it (their directory's parent's support/).

Environment: LANDSCAPE_BUILD_DIR, the build tree (default: <repository>/build)."""
import os
import shutil
import socket
import subprocess
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("LANDSCAPE_BUILD_DIR") or os.path.join(REPO, "build")
CLI = os.path.join(BUILD, "client", "landscape")
SERVER = os.path.join(BUILD, "server", "landscape-server")
WORKER = os.path.join(BUILD, "worker", "landscape-worker")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    """Calls `pred` every 50 ms until it is true; AssertionError naming `what` after `timeout` seconds."""
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
    """redis-server and landscape-server (`server_flags` after --listen and --redis), started at once;
    workers started by start_worker, kept in `workers`; their logs and caches in `workdir`."""

    def __init__(self, workdir, server_flags=(), poll_ms=200):
        self.dir = workdir
        self.poll_ms = poll_ms
        self.redis_port, self.port = free_port(), free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}"
        self.redis = Proc([shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1", "--port",
                           str(self.redis_port), "--dir", workdir, "--save", "", "--appendonly", "no"],
                          os.path.join(workdir, "redis.log"))
        wait_for(lambda: "Ready to accept connections" in self.redis.text(), 20, "redis-server")
        self.server_argv = [SERVER, "--listen", self.addr, "--redis", self.redis_url, *server_flags]
        self.server, self.server_starts, self.workers = None, 0, []
        self.start_server()

    def start_server(self):
        """Starts the server; returns once it logs one more "listening on" line than before."""
        self.server = Proc(self.server_argv, os.path.join(self.dir, "server.log"))
        n = self.server_starts
        wait_for(lambda: self.server.text().count("listening on") > n, 30, "landscape-server")
        self.server_starts += 1

    def restart_server(self):
        self.server.stop()
        self.start_server()

    def start_worker(self, name="w0"):
        """Starts worker `name` (one thread, a poll every `poll_ms`, a dead worker's task reclaimed after
        1.5 s); returns it once it logs that it started."""
        w = Proc([WORKER, "--redis", self.redis_url, "--threads", "1", "--name", name, "--cache",
                  os.path.join(self.dir, "cache-" + name), "--poll-ms", str(self.poll_ms), "--claim-idle-ms", "1500"],
                 os.path.join(self.dir, name + ".log"))
        wait_for(lambda: "worker started" in w.text(), 30, "landscape-worker " + name)
        self.workers.append(w)
        return w

    def stop(self):
        for w in self.workers:
            w.stop()
        self.server.stop()
        self.redis.stop()

    def logs(self):
        return "\n".join(f"--- {p.log}\n{p.text()[-3000:]}" for p in [self.server, *self.workers])
