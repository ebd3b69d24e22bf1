"""`landscape report` as a CI page, opened from file:// in a real browser (Debian's chromium, headless,
through the DevTools protocol): no console error and no request beyond the file, the gates and key numbers
before the pictures, a viewport tag, images that fit a phone-width window, and an interactive 3-D view
(three.js inline) whose canvas shows the surface (not blank). Hostile labels and titles stay text."""
import json
import os
import subprocess

import numpy as np
import pytest

from cdp import VARIANCE_JS, Browser, chromium_path, poll
from conftest import CLI

HOSTILE = "</script><script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"


def write_bowl(path, h5py):
    """A 21 x 17 bowl (train_loss, train_acc) in our surface layout; its highest point, (-1, 1), not computed
    (holding the reference's sentinel -1)."""
    x, y = np.linspace(-1, 1, 21), np.linspace(-1, 1, 17)
    xx, yy = np.meshgrid(x, y)  # [ny, nx], row = y
    loss = (xx - 0.3) ** 2 + 3 * (yy + 0.1) ** 2 + 1
    done = np.ones_like(loss, dtype=np.uint8)
    done[16, 0] = 0
    loss[16, 0] = -1
    with h5py.File(path, "w") as f:
        f["xcoordinates"], f["ycoordinates"] = x, y
        f["train_loss"], f["train_acc"] = loss, 100 - 10 * loss
        f["point_done"] = done
        f["dir_file"] = ""


@pytest.fixture
def report(tmp_path):
    h5py = pytest.importorskip("h5py", reason="python3-h5py is not installed (scripts/install-deps.sh installs it)")
    if not os.access(CLI, os.X_OK):
        pytest.skip(f"{CLI} is not built")
    h5 = str(tmp_path / "bowl.h5")
    write_bowl(h5, h5py)
    out = str(tmp_path / "report.html")
    r = subprocess.run([CLI, "report", h5, "--out", out, "--fail-if", "nan>0", "--fail-if", "train_loss.min>0.5",
                        "--label", "evil=" + HOSTILE, "--title", HOSTILE], capture_output=True, text=True)
    assert r.returncode == 4, r.stderr  # the second gate fails: exit code 4, and the page says so
    return out


def open_page(path, width):
    b = Browser("about:blank", width=width, height=900)
    b.call("Runtime.enable")
    b.call("Log.enable")
    b.call("Page.navigate", url="file://" + path)
    poll(b, "document.readyState", lambda v: v == "complete")
    return b


@pytest.mark.skipif(not chromium_path(), reason="chromium is not installed (scripts/install-deps.sh installs it)")
def test_report_is_a_ci_page_with_a_3d_view(report):
    b = open_page(report, 1200)
    try:
        gl = poll(b, "!!document.querySelector('#surface3d canvas')", bool, timeout=30)
        assert gl, ("no 3-D canvas", b.errors())
        variance = b.evaluate(f"({VARIANCE_JS})('#surface3d canvas')")
        assert variance > 20, variance  # the surface, not a blank canvas
        page = b.evaluate("""(() => {
          const order = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
          const gates = document.getElementById('gates'), numbers = document.getElementById('numbers');
          const view = document.getElementById('surface3d'), img = document.querySelector('img');
          const firstPicture = view || img;
          return {
            viewport: (document.querySelector('meta[name=viewport]') || {}).content || '',
            gatesFirst: !!gates && !!firstPicture && order(gates, numbers) && order(numbers, firstPicture) &&
                        (!img || order(gates, img)),
            gatesText: gates ? gates.textContent : '',
            results: [...document.querySelectorAll('#gates + table td:last-child')].map(td => td.textContent),
            range: document.getElementById('surface3d-range').textContent,
            title: document.querySelector('h1').textContent,
            pwned: window.__pwned === undefined ? 0 : window.__pwned,
            remote: performance.getEntriesByType('resource').map(e => e.name).filter(n => !/^(data|blob|file):/.test(n)),
          }; })()""")
        assert page["viewport"].startswith("width=device-width"), page
        assert page["gatesFirst"], page
        assert page["gatesText"] == "Gates: 1 FAILED" and page["results"] == ["pass", "FAIL"], page
        assert page["title"] == HOSTILE and page["pwned"] == 0, page
        assert page["remote"] == [], page
        # The bowl's minimum 1 + 3 * 0.025^2 (at x = 0.3, y = -0.125); its maximum among the computed points
        # 1.1^2 + 3 * 1.1^2 + 1 = 6.07 (at x = -0.9, y = 1): the corner (-1, 1) and its -1 are left out.
        assert page["range"] == "train loss: 1.002 (purple, low) to 6.070 (yellow, high)", page
        assert b.errors() == []
    finally:
        b.close()


@pytest.mark.skipif(not chromium_path(), reason="chromium is not installed (scripts/install-deps.sh installs it)")
def test_report_fits_a_phone_width_window(report):
    b = open_page(report, 390)
    try:
        poll(b, "!!document.querySelector('#surface3d canvas')", bool, timeout=30)
        fit = b.evaluate("""({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          widest: Math.max(...[...document.querySelectorAll('img, canvas')].map(e => e.getBoundingClientRect().right)),
          images: document.querySelectorAll('img').length })""")
        assert fit["scroll"] <= fit["inner"] and fit["widest"] <= fit["inner"], fit
        assert b.errors() == []
    finally:
        b.close()
