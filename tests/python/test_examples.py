"""examples/python/quickstart.py with tiny sizes against the test cluster (and with --local), and the
notebook's cells: the same steps, valid Python that runs in order."""
import ast
import json
import os
import subprocess
import sys

import numpy as np

import landscape
from conftest import REPO

EXAMPLES = os.path.join(REPO, "examples", "python")
TINY = ["--samples", "200", "--eval-samples", "150", "--epochs", "1", "--grid", "5"]


def run_quickstart(args, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("DISPLAY", None)
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "quickstart.py"), *TINY, "--out", str(tmp_path),
                        *args], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for f in ("contour.png", "3d.png", "surface.h5"):
        assert os.path.getsize(tmp_path / f) > 0, f
    return landscape.load(tmp_path / "surface.h5")


def test_quickstart_against_the_service(cluster, tmp_path):
    s = run_quickstart(["--server", cluster.addr], tmp_path)
    assert s.shape == (5, 5) and s.done.all()
    assert os.path.isfile(tmp_path / "surface.dirs.h5")
    # The trained model sits at a lower loss than the corners of the plane.
    z = s["train_loss"]
    assert z[2, 2] < np.min([z[0, 0], z[0, 4], z[4, 0], z[4, 4]])


def test_quickstart_local(tmp_path):
    s = run_quickstart(["--local"], tmp_path)
    assert s.shape == (5, 5) and s.done.all()


def test_notebook_has_the_scripts_steps():
    nb = json.load(open(os.path.join(EXAMPLES, "quickstart.ipynb")))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    tree = ast.parse(code)  # valid Python
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"read_idx", "fashion_mnist", "SmallCNN", "train"} <= defined
    for step in ("landscape.connect(SERVER).submit(model", "job.wait(progress=True)", 'plot("contour"',
                 'plot("3d"', "to_h5("):
        assert step in code, step
