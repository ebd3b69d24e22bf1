"""The web UI in a real browser (Debian's chromium, headless, driven through the DevTools protocol): a job
page opened before any worker runs reaches SUCCEEDED by itself, its heat map and 3-D canvas are not blank,
and a hostile name and label show as text."""
import json
import os
import time

import pytest

from cdp import VARIANCE_JS, Browser, chromium_path, poll
from conftest import ALICE, BUILD

HOSTILE = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>'\"javascript:alert(1)"


@pytest.fixture
def browser(cluster):
    if not chromium_path():
        pytest.skip("chromium is not installed (scripts/install-deps.sh installs it)")
    b = Browser(f"http://127.0.0.1:{cluster.http_port}/")
    yield b
    b.close()


def test_job_page_fills_in_and_escapes(cluster, browser):
    for w in cluster.workers:
        w.stop()
    cluster.workers = []
    job = cluster.submit(ALICE, x="-1:1:15", y="-1:1:15", labels=[f"evil={HOSTILE}"], name=HOSTILE, tile=5)
    poll(browser, "document.readyState === 'complete' && location.protocol", lambda v: v == "http:")
    browser.evaluate(f"sessionStorage.setItem('landscape.token', {json.dumps(ALICE)}); "
                     f"location.href = '/jobs/{job}'; true")
    state_js = "document.getElementById('state').textContent"
    assert poll(browser, state_js, lambda v: bool(v)) == "QUEUED"
    cluster.start_worker("wb")
    state = poll(browser, state_js, lambda v: v in ("SUCCEEDED", "FAILED"), timeout=120)
    assert state == "SUCCEEDED", cluster.logs()
    time.sleep(0.5)  # the last frame
    page = browser.evaluate("""({
      title: document.getElementById('jobtitle').textContent,
      labels: [...document.querySelectorAll('#labels .label')].map(e => e.textContent),
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('main img').length,
      pwned: window.__pwned === undefined ? 0 : window.__pwned,
      progress: document.getElementById('progress').textContent,
      gl: !!document.querySelector('#surface3d canvas'),
    })""")
    assert page["title"] == HOSTILE + " · " + job
    assert page["labels"] == ["evil=" + HOSTILE]
    assert page["scripts"] == 2 and page["imgs"] == 0 and page["pwned"] == 0, page
    assert page["progress"] == "225 / 225 points"
    assert page["gl"], "no WebGL canvas: the 3-D view did not start"
    heat = browser.evaluate(f"({VARIANCE_JS})('#heat')")
    surface = browser.evaluate(f"({VARIANCE_JS})('#surface3d canvas')")
    assert heat > 20 and surface > 20, (heat, surface)
    # Every point of the map is computed: no grey (200, 200, 200) cell left at the centre.
    centre = browser.evaluate("Array.from(document.getElementById('heat').getContext('2d').getImageData(240, 240, 1, 1).data)")
    assert centre[:3] != [200, 200, 200]
    # The HDF5 download button fetches surface.h5 with the token and saves it as <id>.h5.
    browser.evaluate("""window.__dl = null; const made = URL.createObjectURL;
      URL.createObjectURL = (b) => { window.__blob = b; return made(b); };
      HTMLAnchorElement.prototype.click = function () { window.__dl = this.download; };
      document.querySelector('[data-dl="surface.h5"]').click(); true""")
    assert poll(browser, "window.__dl", lambda v: bool(v)) == job + ".h5"
    magic = browser.evaluate("window.__blob.slice(0, 4).text().then(t => [window.__blob.size, t.slice(1)])")
    assert magic[1] == "HDF" and magic[0] > 1000, magic
    # The jobs table shows the hostile label as text too.
    browser.evaluate("location.href = '/'; true")
    cells = poll(browser, "[...document.querySelectorAll('#jobrows .label')].map(e => e.textContent)",
                 lambda v: bool(v))
    assert "evil=" + HOSTILE in cells
    assert browser.evaluate("window.__pwned === undefined")
    browser.evaluate(f"location.href = '/jobs/{job}'; true")  # a finished job opened afresh draws at once
    assert poll(browser, f"({VARIANCE_JS})('#surface3d canvas')", lambda v: v is not None and v > 20) > 20
    shot = browser.screenshot()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    out = os.path.join(BUILD, "tests", "http")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dashboard.png"), "wb") as f:
        f.write(shot)
