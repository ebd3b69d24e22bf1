"""The JSON API and Server-Sent Events of landscape-server --http, against real processes (conftest.py):
auth and tenant isolation on every route, SSE resume with Last-Event-ID across a server restart, partial
surfaces, limits, and malformed requests answered with 4xx JSON errors while the server keeps serving."""
import http.client
import json
import math
import time

from conftest import ALICE, BOB, wait_for

HOSTILE = "<script>alert(1)</script>\"'&javascript:alert(2)"


def sse(cluster, job_id, last_event_id=None, stop_after=None, token=ALICE):
    """The frames of one SSE connection as (id, event, data dict), until the server ends it or
    `stop_after` frames were read (then the connection is dropped)."""
    c = http.client.HTTPConnection("127.0.0.1", cluster.http_port, timeout=60)
    h = {"Authorization": "Bearer " + token}
    if last_event_id:
        h["Last-Event-ID"] = last_event_id
    c.request("GET", f"/api/v1/jobs/{job_id}/events", headers=h)
    r = c.getresponse()
    assert r.status == 200, r.read()
    assert r.getheader("Content-Type").startswith("text/event-stream")
    frames, cur = [], {}
    while stop_after is None or len(frames) < stop_after:
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if line == "":
            if "event" in cur:
                frames.append((cur.get("id"), cur["event"], json.loads(cur.get("data", "{}"))))
            cur = {}
            continue
        if line.startswith(":"):
            continue
        k, _, v = line.partition(": ")
        cur[k] = v
    c.close()
    return frames


def test_auth_and_tenant_isolation_on_every_route(cluster):
    if not cluster.workers:
        cluster.start_worker()
    job = cluster.submit(ALICE, labels=["team=vision"], name="alice job")
    cluster.wait_state(job)
    routes = [("GET", f"/api/v1/jobs/{job}"), ("GET", f"/api/v1/jobs/{job}/surface"),
              ("GET", f"/api/v1/jobs/{job}/surface.csv"), ("GET", f"/api/v1/jobs/{job}/surface.h5"),
              ("GET", f"/api/v1/jobs/{job}/events"),
              ("POST", f"/api/v1/jobs/{job}:cancel")]
    for method, path in routes + [("GET", "/api/v1/jobs"), ("POST", "/api/v1/jobs")]:
        for token in (None, "wrong-token-000000", ALICE[:-1]):
            e = cluster.json(method, path, token, expect=401)["error"]
            assert e["code"] == "UNAUTHENTICATED", (path, e)
        s, _, body = cluster.request(method, path, None, headers={"Authorization": "Basic " + ALICE})
        assert s == 401, (path, body)
    # Bob sees none of Alice's job, as if it did not exist.
    for method, path in routes:
        e = cluster.json(method, path, BOB, expect=404)["error"]
        assert e["code"] == "NOT_FOUND", (path, e)
    assert job not in [j["id"] for j in cluster.json("GET", "/api/v1/jobs", BOB)["jobs"]]
    mine = cluster.json("GET", "/api/v1/jobs", ALICE)["jobs"]
    assert job in [j["id"] for j in mine]
    # Filters: state and label.
    assert [j["id"] for j in cluster.json("GET", "/api/v1/jobs?label=team%3Dvision")["jobs"]] == [job]
    assert cluster.json("GET", "/api/v1/jobs?label=team%3Dother")["jobs"] == []
    assert job in [j["id"] for j in cluster.json("GET", "/api/v1/jobs?state=SUCCEEDED")["jobs"]]
    assert cluster.json("GET", "/api/v1/jobs?state=FAILED")["jobs"] == []
    # Alice can cancel her finished job: the answer is the job, unchanged (final states stay).
    j = cluster.json("POST", f"/api/v1/jobs/{job}:cancel", ALICE)
    assert j["state"] == "SUCCEEDED"


def test_pages(cluster):
    ids = {cluster.submit(ALICE, x="-1:1:2", y="", labels=["page=yes"]) for _ in range(3)}
    seen, token = [], ""
    for _ in range(5):
        page = cluster.json("GET", f"/api/v1/jobs?label=page%3Dyes&page_size=2&page_token={token}")
        assert len(page["jobs"]) <= 2
        seen += [j["id"] for j in page["jobs"]]
        token = page["next_page_token"]
        if not token:
            break
    assert sorted(seen) == sorted(ids)


def test_job_and_surface_match_the_events(cluster):
    if not cluster.workers:
        cluster.start_worker()
    job = cluster.submit(ALICE, labels=[f"evil={HOSTILE}"], name=HOSTILE, tile=3)
    final = cluster.wait_state(job)
    assert final["labels"]["evil"] == HOSTILE and final["name"] == HOSTILE
    assert final["points_done"] == final["points_total"] == 25 and final["metrics"]
    s = cluster.json("GET", f"/api/v1/jobs/{job}/surface")
    assert s["complete"] and s["done"] == [1] * 25
    assert s["axes"]["x"] == [-1, -0.5, 0, 0.5, 1] and s["axes"]["y"] == [-1, -0.5, 0, 0.5, 1]
    # The same values arrive as tile events (every point once), and as CSV rows.
    frames = sse(cluster, job)
    assert frames[-1][1] == "end" and frames[-2][2]["state"] == "SUCCEEDED"
    got = {m: [None] * 25 for m in final["metrics"]}
    for _, ev, d in frames:
        if ev == "tile":
            for m, vals in d["values"].items():
                for i, v in enumerate(vals):
                    assert got[m][d["begin"] + i] is None
                    got[m][d["begin"] + i] = v
    assert got == s["metrics"]
    status, hdrs, csv = cluster.request("GET", f"/api/v1/jobs/{job}/surface.csv")
    assert status == 200 and hdrs["Content-Type"].startswith("text/csv")
    rows = csv.decode().strip().split("\n")
    assert rows[0] == "ix,iy,alpha,beta," + ",".join(s["metrics"].keys()) and len(rows) == 26
    for row in rows[1:]:
        f = row.split(",")
        k = int(f[1]) * 5 + int(f[0])
        assert float(f[2]) == s["axes"]["x"][int(f[0])] and float(f[3]) == s["axes"]["y"][int(f[1])]
        for m, v in zip(s["metrics"].keys(), f[4:]):
            assert math.isclose(float(v), s["metrics"][m][k], rel_tol=0, abs_tol=0) or (
                math.isnan(float(v)) and s["metrics"][m][k] is None)


def test_sse_resumes_with_last_event_id_across_a_server_restart(cluster):
    if not cluster.workers:
        cluster.start_worker()
    job = cluster.submit(ALICE, x="-1:1:4", y="-1:1:3", tile=2)
    cluster.wait_state(job)
    everything = sse(cluster, job)
    first = sse(cluster, job, stop_after=3)
    assert first == everything[:3]
    cluster.restart_server()
    rest = sse(cluster, job, last_event_id=first[-1][0])
    assert first + rest == everything  # nothing lost, nothing twice, in order
    ids = [f[0] for f in everything if f[0]]
    assert len(set(ids)) == len(ids)
    # After the last event: only the end.
    assert sse(cluster, job, last_event_id=ids[-1]) == [(None, "end", {})]


def test_watch_a_running_job_and_partial_surfaces(cluster):
    """Without a worker the job waits: the surface is empty, then fills in as a worker starts."""
    for w in cluster.workers:
        w.stop()
    cluster.workers = []
    job = cluster.submit(ALICE, x="-1:1:12", y="-1:1:12", tile=1)
    s = cluster.json("GET", f"/api/v1/jobs/{job}/surface")
    assert s["job"]["state"] == "QUEUED" and not s["complete"] and s["points_done"] == 0
    cluster.start_worker("w1")
    partial_seen = False
    while True:
        s = cluster.json("GET", f"/api/v1/jobs/{job}/surface")
        done = sum(s["done"]) if s["done"] else 0
        assert done == s["points_done"]
        for m, vals in s["metrics"].items():
            for k, v in enumerate(vals):
                assert (v is not None) == bool(s["done"] and s["done"][k]), (m, k)
        if 0 < done < 144:
            partial_seen = True
            assert not s["complete"]
        if s["job"]["state"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.02)
    assert s["job"]["state"] == "SUCCEEDED" and s["complete"], cluster.logs()
    assert partial_seen


def test_limits_and_submit_over_http(cluster):
    base = cluster.json("GET", "/api/v1/jobs?page_size=1")["jobs"][0]["spec"]
    over = json.loads(json.dumps(base))
    over["data"]["max_samples"] = 5001
    e = cluster.json("POST", "/api/v1/jobs", body=json.dumps(over), expect=429)["error"]  # RESOURCE_EXHAUSTED
    assert e["code"] == "RESOURCE_EXHAUSTED" and e["field"] == "data.max_samples" and "--max-samples" in e["message"], e
    bad = json.loads(json.dumps(base))
    bad["grid"]["x"]["num"] = 0
    e = cluster.json("POST", "/api/v1/jobs", body=json.dumps(bad), expect=400)["error"]
    assert e["field"].startswith("grid.x"), e
    ok = json.loads(json.dumps(base))
    ok["labels"] = {"via": "http"}
    j = cluster.json("POST", "/api/v1/jobs?request_id=r-1", body=json.dumps(ok), expect=201)
    again = cluster.json("POST", "/api/v1/jobs?request_id=r-1", body=json.dumps(ok), expect=200)
    assert again["id"] == j["id"] and j["labels"] == {"via": "http"} and j["priority"] == 0
    urgent = cluster.json("POST", "/api/v1/jobs?priority=7", body=json.dumps(ok), expect=201)
    assert urgent["priority"] == 7 and urgent["id"] != j["id"]
    for bad_priority in ("101", "-101", "abc", "", "1.5"):
        e = cluster.json("POST", "/api/v1/jobs?priority=" + bad_priority, body=json.dumps(ok), expect=400)["error"]
        assert e["field"] == "priority" and "[-100, 100]" in e["message"], (bad_priority, e)
    # Alice's uploaded model is hers: Bob's spec naming it is refused as if it did not exist.
    e = cluster.json("POST", "/api/v1/jobs", BOB, body=json.dumps(ok), expect=404)["error"]
    assert e["field"] == "model.model", e
    # Alice's new job is not Bob's.
    cluster.json("GET", f"/api/v1/jobs/{j['id']}", BOB, expect=404)


def test_malformed_requests_get_json_errors(cluster):
    cases = [
        ("GET", "/api/v1/jobs/bad$id", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/jobs/" + "a" * 65, None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/jobs/nosuchjob", None, 404, "NOT_FOUND"),
        ("GET", "/api/v1/jobs/nosuchjob/surface", None, 404, "NOT_FOUND"),
        ("GET", "/api/v1/jobs?state=BOGUS", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/jobs?page_size=abc", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/jobs?page_size=-1", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/jobs?label=novalue", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/jobs?page_token=%00%ff", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/nothing", None, 404, "NOT_FOUND"),
        ("GET", "/api/v1/jobs?x=" + "y" * 20000, None, 414, None),
        ("POST", "/api/v1/jobs", b"{not json", 400, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/jobs", b"[]", 400, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/jobs", json.dumps({"bogus": 1}).encode(), 400, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/jobs", b"\xff\xfe" * 10, 400, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/jobs", b"x" * (65 << 10), 413, None),
        ("DELETE", "/api/v1/jobs", None, 405, None),
    ]
    for method, path, body, status, code in cases:
        s, hdrs, data = cluster.request(method, path, ALICE, body)
        if status == 405:
            assert 400 <= s < 500, (path, s)
            continue
        assert s == status, (method, path[:80], s, data[:300])
        assert hdrs.get("Content-Type", "").startswith("application/json"), (path[:80], hdrs)
        e = json.loads(data)["error"]
        assert e["message"], e
        if code:
            assert e["code"] == code, (path[:80], e)
    # A bad Last-Event-ID names the header.
    job = cluster.json("GET", "/api/v1/jobs?page_size=1")["jobs"][0]["id"]
    s, _, data = cluster.request("GET", f"/api/v1/jobs/{job}/events", headers={"Last-Event-ID": "12x-3"})
    assert s == 400 and json.loads(data)["error"]["field"] == "Last-Event-ID"
    # Still serving.
    assert cluster.request("GET", "/healthz", None)[0] == 200
    assert cluster.server.p.poll() is None, cluster.logs()


def test_cors_is_off_by_default(cluster):
    s, hdrs, _ = cluster.request("GET", "/api/v1/jobs", headers={"Origin": "https://evil.example"})
    assert s == 200 and "Access-Control-Allow-Origin" not in hdrs


def test_web_ui_is_served_with_a_content_security_policy(cluster):
    s, hdrs, body = cluster.request("GET", "/", None)
    assert s == 200 and hdrs["Content-Type"].startswith("text/html") and b"app.js" in body
    assert "script-src" in hdrs["Content-Security-Policy"] or "default-src 'self'" in hdrs["Content-Security-Policy"]
    s, _, js = cluster.request("GET", "/three.min.js", None)
    assert s == 200 and len(js) > 100000  # Debian's three.js, embedded
    s, _, page = cluster.request("GET", "/jobs/anything", None)
    assert s == 200 and page == body
    s, _, app = cluster.request("GET", "/app.js", None)
    assert s == 200 and b"innerHTML" not in app
