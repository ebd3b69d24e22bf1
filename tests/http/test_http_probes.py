"""The HTTP probes the Kubernetes manifests use: /healthz (alive: the process answers) and /readyz (ready:
200 only while Redis answers, 503 otherwise). A server of its own with a Redis of its own, which the test
stops and starts again (the session's cluster keeps its Redis)."""
import http.client
import os
import shutil

from conftest import SERVER, Proc, free_port, wait_for


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def start_redis(d, port, starts=0):
    """A redis-server on `port` logging into d/redis.log, after `starts` earlier runs logged there."""
    r = Proc([shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", str(port),
              "--dir", d, "--save", "", "--appendonly", "no"], os.path.join(d, "redis.log"))
    wait_for(lambda: r.text().count("Ready to accept connections") > starts, 20, "redis-server")
    return r


def test_readyz_follows_redis_and_healthz_does_not(tmp_path):
    d = str(tmp_path)
    redis_port, http_port = free_port(), free_port()
    redis = start_redis(d, redis_port)
    server = Proc([SERVER, "--listen", f"127.0.0.1:{free_port()}", "--redis", f"redis://127.0.0.1:{redis_port}",
                   "--http", f"127.0.0.1:{http_port}"], os.path.join(d, "server.log"))
    try:
        wait_for(lambda: "listening on" in server.text(), 30, "landscape-server")
        wait_for(lambda: get(http_port, "/readyz")[0] == 200, 30, "/readyz 200 with redis up")
        assert get(http_port, "/readyz") == (200, "ok\n")
        redis.stop()
        wait_for(lambda: get(http_port, "/readyz")[0] == 503, 60, "/readyz 503 with redis down")
        assert get(http_port, "/readyz") == (503, "redis unreachable\n"), server.text()
        assert get(http_port, "/healthz") == (200, "ok\n")  # alive: not restarted for Redis's sake
        redis = start_redis(d, redis_port, starts=1)
        wait_for(lambda: get(http_port, "/readyz")[0] == 200, 60, "/readyz 200 with redis back")
        assert server.p.poll() is None, server.text()
    finally:
        server.stop()
        redis.stop()
    assert server.p.returncode == 0, server.text()
