"""GET /api/v1/jobs/{id}/surface.h5: the surface file over HTTP, in the layout `landscape get --out` writes.
Read with h5py (Debian's python3-h5py, installed by scripts/install-deps.sh) and compared with the JSON
surface and with the file `landscape get` writes over gRPC; a job not finished gives its partial surface;
another tenant's job is a 404, as a missing one."""
import json
import math
import os
import subprocess

import pytest

from conftest import ALICE, BOB, CLI


def download(cluster, job, path, token=ALICE):
    status, hdrs, data = cluster.request("GET", f"/api/v1/jobs/{job}/surface.h5", token)
    assert status == 200, (status, data[:300])
    assert hdrs["Content-Type"] == "application/x-hdf5", hdrs
    assert hdrs["Content-Disposition"] == f'attachment; filename="{job}.h5"', hdrs
    assert data[:8] == b"\x89HDF\r\n\x1a\n"  # the HDF5 signature
    with open(path, "wb") as f:
        f.write(data)
    return path


def same(a, b):
    """Bit-equal doubles, NaN equal to NaN (a JSON null is NaN)."""
    a = math.nan if a is None else float(a)
    b = math.nan if b is None else float(b)
    return a == b or (math.isnan(a) and math.isnan(b))


def test_surface_h5_partial_then_complete(cluster, tmp_path):
    h5py = pytest.importorskip("h5py", reason="python3-h5py is not installed (scripts/install-deps.sh installs it)")
    for w in cluster.workers:
        w.stop()
    cluster.workers = []
    job = cluster.submit(ALICE, x="-1:1:5", y="-1:0.5:4", labels=["team=h5"], tile=3)
    # Queued: every point unfinished, with the reference's sentinels, and marked partial.
    with h5py.File(download(cluster, job, str(tmp_path / "queued.h5")), "r") as f:
        assert f.attrs["partial"] == "true" and f.attrs["job"] == "jobs/" + job
        assert f["point_done"].shape == (4, 5) and not f["point_done"][()].any()
        assert (f["train_loss"][()] == -1).all()
    cluster.start_worker("wh5")
    final = cluster.wait_state(job)
    s = cluster.json("GET", f"/api/v1/jobs/{job}/surface")
    assert s["complete"]
    with h5py.File(download(cluster, job, str(tmp_path / "done.h5")), "r") as f:
        assert f.attrs["partial"] == "false" and f.attrs["label_team"] == "h5"
        assert json.loads(f.attrs["spec"])["grid"] == final["spec"]["grid"]
        assert list(f["xcoordinates"][()]) == s["axes"]["x"] and list(f["ycoordinates"][()]) == s["axes"]["y"]
        assert list(f["point_done"][()].reshape(-1)) == s["done"] == [1] * 20
        assert sorted(s["metrics"]) == sorted(k for k in f.keys() if k in s["metrics"]) and s["metrics"]
        for m, values in s["metrics"].items():
            assert f[m].shape == (4, 5) and f[m].dtype == "float64", m
            flat = f[m][()].reshape(-1)  # row = y: flat index iy * nx + ix, as the JSON's
            assert all(same(flat[k], v) for k, v in enumerate(values)), (m, list(flat), values)


def test_surface_h5_is_what_landscape_get_writes(cluster, tmp_path):
    h5py = pytest.importorskip("h5py", reason="python3-h5py is not installed (scripts/install-deps.sh installs it)")
    if not cluster.workers:
        cluster.start_worker()
    job = cluster.submit(ALICE, x="-1:1:4", y="", labels=["kind=1d"], tile=2)
    cluster.wait_state(job)
    got = str(tmp_path / "get.h5")
    r = subprocess.run([CLI, "get", job, "--server", cluster.addr, "--out", got], capture_output=True, text=True,
                       env=dict(os.environ, LANDSCAPE_TOKEN=ALICE))
    assert r.returncode == 0, r.stderr
    with h5py.File(download(cluster, job, str(tmp_path / "http.h5")), "r") as f, h5py.File(got, "r") as g:
        assert sorted(f.keys()) == sorted(g.keys())
        for k in f.keys():
            if k == "dir_file":  # get writes the path of the direction file it downloaded; HTTP the artifact
                assert f[k][()].decode().startswith("artifact:"), f[k][()]
                continue
            assert f[k].shape == g[k].shape and f[k].dtype == g[k].dtype, k
            assert f[k][()].tobytes() == g[k][()].tobytes(), k
        assert dict(f.attrs) == dict(g.attrs)


def test_surface_h5_of_another_tenant_is_not_found(cluster):
    job = cluster.json("GET", "/api/v1/jobs?page_size=1", ALICE)["jobs"][0]["id"]
    e = cluster.json("GET", f"/api/v1/jobs/{job}/surface.h5", BOB, expect=404)["error"]
    missing = cluster.json("GET", "/api/v1/jobs/nosuchjob/surface.h5", BOB, expect=404)["error"]
    assert e["code"] == missing["code"] == "NOT_FOUND"
    assert cluster.json("GET", f"/api/v1/jobs/{job}/surface.h5", None, expect=401)["error"]["code"] == "UNAUTHENTICATED"
