"""The landscape package against a real redis-server, landscape-server and two workers: modules and tensors
in, numpy surfaces out, equal to `landscape local` on the same model saved as TorchScript."""
import os
import signal
import subprocess

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import landscape
from conftest import CLI, make_mlp

GRID = dict(x=(-1, 1, 5), y=(-1, 1, 5))


def trained_mlp(images, labels, seed=0, steps=30):
    """A small MLP after `steps` full-batch SGD steps (a minimum-ish point, so the surface has a bowl)."""
    m = make_mlp(seed)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(images), labels).backward()
        opt.step()
    return m


@pytest.fixture(scope="module")
def model(fmnist):
    return trained_mlp(*fmnist)


@pytest.fixture(scope="module")
def surface2d(client, model, fmnist):
    return client.submit(model, data=fmnist, max_samples=300, **GRID).wait(progress=False).surface()


def cli_local(workdir, model, data, args):
    """`landscape local` with --threads 1 (the workers' setting) on `model` saved as TorchScript by hand."""
    mpath = os.path.join(workdir, f"ref-{os.getpid()}-{id(model)}.pt")
    torch.jit.script(model).save(mpath)
    dpath = os.path.join(workdir, f"ref-data-{id(data)}.pt")
    torch.save({"images": data[0], "labels": data[1]}, dpath)
    out = os.path.join(workdir, f"ref-{len(os.listdir(workdir))}.h5")
    r = subprocess.run([CLI, "local", "--model", mpath, "--data", dpath, "--threads", "1", "--progress", "quiet",
                        "--out", out, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return landscape.load(out)


def assert_same(a, b):
    np.testing.assert_array_equal(a.x, b.x)
    if b.y is None:
        assert a.y is None
    else:
        np.testing.assert_array_equal(a.y, b.y)
    assert a.metrics == b.metrics
    assert a.done.all() and b.done.all()
    for m in b.metrics:
        np.testing.assert_allclose(a[m], b[m], rtol=1e-6, atol=0, err_msg=m)


def test_module_and_tensors_equal_cli_local_2d(surface2d, model, fmnist, workdir):
    s = surface2d
    assert s.shape == (5, 5) and s["train_loss"].shape == (5, 5)
    assert s.metrics == ["train_loss", "train_acc"]
    ref = cli_local(workdir, model, fmnist, ["--max-samples", "300", "--x=-1:1:5", "--y=-1:1:5"])
    assert_same(s, ref)
    # The trained point is the centre: its loss is the model's own, computed here by PyTorch.
    with torch.no_grad():
        own = torch.nn.functional.cross_entropy(model(fmnist[0]), fmnist[1]).item()
    assert s["train_loss"][2, 2] == pytest.approx(own, rel=1e-5)
    assert s["train_loss"][2, 2] < s["train_loss"][0, 0]


def test_dataloader_gives_the_surface_of_its_tensors(client, model, fmnist, surface2d):
    loader = DataLoader(TensorDataset(*fmnist), batch_size=64, shuffle=False)
    s = client.submit(model, data=loader, max_samples=300, **GRID).wait(progress=False).surface()
    assert_same(s, surface2d)
    ds = TensorDataset(*fmnist)
    s2 = client.submit(model, data=ds, max_samples=300, **GRID).wait(progress=False).surface()
    assert_same(s2, surface2d)


def test_1d_service_equals_landscape_local(client, model, fmnist):
    job = client.submit(model, data=fmnist, x=(-0.5, 0.5, 7), y=None, max_samples=300)
    s = job.wait(progress=False).surface()
    assert s.y is None and s["train_loss"].shape == (7,)
    loc = landscape.local(model, data=fmnist, x=(-0.5, 0.5, 7), max_samples=300, threads=1)
    assert_same(s, loc)
    assert job.state == "SUCCEEDED"
    p = job.progress
    assert (p.done, p.total) == (7, 7)


def test_model2_model3_as_modules(client, model, fmnist):
    images, labels = fmnist
    m2 = trained_mlp(images, labels, seed=1)
    m3 = trained_mlp(images, labels, seed=2, steps=5)
    s = client.submit(model, data=fmnist, model2=m2, model3=m3, x=(0, 1, 3), y=(0, 1, 3), max_samples=300,
                      normalize="none", xnorm="none", ynorm="none", xignore="none", yignore="none"
                      ).wait(progress=False).surface()
    with torch.no_grad():
        loss = [torch.nn.functional.cross_entropy(m(images), labels).item() for m in (model, m2, m3)]
    z = s["train_loss"]
    assert z[0, 0] == pytest.approx(loss[0], rel=1e-5)  # (x, y) = (0, 0): model
    assert z[0, 2] == pytest.approx(loss[1], rel=1e-5)  # (1, 0): model2
    assert z[2, 0] == pytest.approx(loss[2], rel=1e-5)  # (0, 1): model3


def test_events_resume_across_a_server_restart(client, cluster, model, fmnist):
    job = client.submit(model, data=fmnist, x=(-1, 1, 9), y=(-1, 1, 9), tile_size=3, max_samples=300)
    covered = np.zeros(81, dtype=int)
    states, restarted = [], False
    for ev in job.events():
        if ev.tile:
            covered[ev.tile["begin"]:ev.tile["end"]] += 1
            if not restarted:
                cluster.restart_server()
                restarted = True
        if ev.state:
            states.append(ev.state)
    assert restarted
    assert states[-1] == "SUCCEEDED", cluster.logs()
    np.testing.assert_array_equal(covered, np.ones(81, dtype=int))  # every tile once: nothing missed or repeated
    s = job.surface()
    assert s.done.all()
    for m in s.metrics:  # the values the events carried are the surface's
        assert np.isfinite(s[m]).all()


def test_partial_surface_while_running_then_cancel(client, cluster, model, fmnist):
    job = client.submit(model, data=fmnist, x=(-1, 1, 15), y=(-1, 1, 15), tile_size=1, max_samples=300)
    stopped = False
    try:
        for ev in job.events():
            if ev.tile:
                for w in cluster.workers:
                    w.p.send_signal(signal.SIGSTOP)
                stopped = True
                break
        assert stopped, "the job ended before its first tile event"
        part = job.surface(partial=True)
        assert job.state == "RUNNING"
        assert part.partial and 1 <= part.done.sum() < 225
        assert np.isnan(part["train_loss"][~part.done]).all()
        assert np.isfinite(part["train_loss"][part.done]).all()
        job.cancel()
    finally:
        for w in cluster.workers:
            w.p.send_signal(signal.SIGCONT)
    with pytest.raises(landscape.Cancelled):
        job.wait(progress=False)
    assert job.state == "CANCELLED"
    assert any(j.name == job.name for j in client.jobs(state="CANCELLED"))


def test_to_h5_in_the_reference_layout(surface2d, tmp_path):
    path = surface2d.to_h5(tmp_path / "s.h5")
    with h5py.File(path, "r") as f:
        for name in ("xcoordinates", "ycoordinates", "train_loss", "train_acc", "dir_file"):
            assert name in f, name
        assert f["train_loss"].shape == (5, 5)
        np.testing.assert_array_equal(f["xcoordinates"][()], surface2d.x)
        np.testing.assert_array_equal(f["train_loss"][()], surface2d["train_loss"])
        dir_file = f["dir_file"][()].decode()
    assert dir_file == str(tmp_path / "s.dirs.h5")
    with h5py.File(dir_file, "r") as d:  # the reference's direction layout: xdirection/0, ydirection/0, ...
        assert "xdirection" in d and "ydirection" in d
    back = landscape.load(path)
    assert_same(back, surface2d)


def test_jobs_list_and_labels(client, model, fmnist):
    job = client.submit(model, data=fmnist, x=(-1, 1, 3), max_samples=100, labels={"run": "pytest-labels"},
                        request_id="pytest-labels-1")
    again = client.submit(model, data=fmnist, x=(-1, 1, 3), max_samples=100, labels={"run": "pytest-labels"},
                          request_id="pytest-labels-1")
    assert again.name == job.name  # idempotent on request_id
    assert job.priority == 0
    urgent = client.submit(model, data=fmnist, x=(-1, 1, 2), max_samples=100, priority=9)
    assert urgent.priority == 9 and client.job(urgent.name).priority == 9
    with pytest.raises(ValueError, match="priority"):
        client.submit(model, data=fmnist, x=(-1, 1, 2), priority=101)
    names = [j.name for j in client.jobs(label={"run": "pytest-labels"})]
    assert names == [job.name]
    assert client.job(job.name).name == job.name
    job.wait(progress=False)
    urgent.wait(progress=False)


def test_plots_draw_every_kind(surface2d, client, model, fmnist):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for kind in ("contour", "filled", "heat", "3d"):
        ax = surface2d.plot(kind)
        assert ax.figure is not None, kind
    with pytest.raises(landscape.InvalidArgument):
        surface2d.plot("1d")
    with pytest.raises(landscape.InvalidArgument):
        surface2d.plot("pie")
    line = client.submit(model, data=fmnist, x=(-1, 1, 3), max_samples=100).surface()
    ax = line.plot("1d", metric="train_acc")
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), line["train_acc"])
    plt.close("all")


def test_spec_options_mean_the_same_on_the_service_and_local(client, model, fmnist):
    opts = dict(x=(-0.5, 1, 4), y=(-1, 0.5, 3), seed=7, xnorm="layer", ynorm="weight", xignore="none",
                dir_type="states", loss="mse", max_samples=200, subset_seed=3, batch_size=50, labels={"k": "v"})
    s = client.submit(model, data=fmnist, **opts).surface()
    loc = landscape.local(model, data=fmnist, threads=1, **opts)
    assert_same(s, loc)
    d = s.spec["directions"]
    assert (d["seed"], d["x"]["norm"], d["y"]["norm"], d["type"]) == ("7", "NORM_LAYER", "NORM_WEIGHT",
                                                                      "DIR_TYPE_STATES")
    assert s.spec["labels"] == {"k": "v"} and s.attributes["label_k"] == "v"
    # Another seed is another surface: the option reaches the computation.
    other = landscape.local(model, data=fmnist, threads=1, **dict(opts, seed=8))
    assert not np.allclose(other["train_loss"], loc["train_loss"])
