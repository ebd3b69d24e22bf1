"""landscape-server --http under many Server-Sent-Event watchers: N connections watch one running job
(real redis-server, server and one worker from the build tree, tests/http/conftest.py's cluster).
Prints the server's resident memory and CPU time per idle watcher, and the lag from a tile's event
(time_ms, written when the worker finished the tile) to its arrival at each watcher.

Usage: python3 bench/http_sse_bench.py [WATCHERS=200] [GRID=20]   (LANDSCAPE_BUILD_DIR: the build tree)"""
import json
import os
import re
import selectors
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "http"))
import conftest  # noqa: E402


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        rss_kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return rss_kib, cpu_s, threads


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    grid = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    c = conftest.Cluster(tempfile.mkdtemp(prefix="landscape-sse-bench-"))
    try:
        job = c.submit(conftest.ALICE, x=f"-1:1:{grid}", y=f"-1:1:{grid}", tile=1)
        pid = c.server.p.pid
        time.sleep(1)
        rss0, cpu0, th0 = proc_stats(pid)
        sel = selectors.DefaultSelector()
        bufs = {}
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", c.http_port))
            s.sendall((f"GET /api/v1/jobs/{job}/events HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: Bearer {conftest.ALICE}\r\n\r\n").encode())
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
        time.sleep(3)
        rss1, cpu1, th1 = proc_stats(pid)
        idle = 10.0
        time.sleep(idle)
        rss2, cpu2, th2 = proc_stats(pid)
        print(f"watchers={n} server rss: {rss0} KiB before, {rss1} KiB with watchers "
              f"({(rss1 - rss0) / n:.1f} KiB per watcher), threads {th0} -> {th1}")
        print(f"idle cpu with {n} watchers: {cpu2 - cpu1:.3f} s over {idle:.0f} s "
              f"({(cpu2 - cpu1) / idle / n * 1e6:.1f} us/s per watcher)")
        c.start_worker("bench")
        lags, ended, start_cpu = [], set(), proc_stats(pid)[1]
        t0 = time.time()
        while len(ended) < n and time.time() - t0 < 600:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                try:
                    data = s.recv(1 << 16)
                except BlockingIOError:
                    continue
                now_ms = time.time() * 1000
                if not data:
                    ended.add(s)
                    sel.unregister(s)
                    continue
                bufs[s] += data
                for m in re.finditer(rb"event: tile\ndata: (\{.*?\})\n", bufs[s]):
                    lags.append(now_ms - json.loads(m.group(1))["time_ms"])
                if b"event: end" in bufs[s]:
                    ended.add(s)
                    sel.unregister(s)
                    s.close()
                cut = bufs[s].rfind(b"\n\n")  # keep a partial frame for the next read
                bufs[s] = b"" if s in ended else bufs[s][cut + 2:] if cut >= 0 else bufs[s]
        run_cpu = proc_stats(pid)[1] - start_cpu
        lags.sort()
        print(f"job of {grid * grid} tiles watched by {n}: {len(lags)} tile events delivered, server cpu {run_cpu:.2f} s "
              f"over {time.time() - t0:.1f} s")
        if lags:
            print(f"tile -> watcher lag: median {statistics.median(lags):.1f} ms, "
                  f"p95 {lags[int(0.95 * (len(lags) - 1))]:.1f} ms, max {lags[-1]:.1f} ms")
    finally:
        c.stop()


if __name__ == "__main__":
    main()
