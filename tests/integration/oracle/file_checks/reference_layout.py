"""Checks that a surface file has the reference's layout (docs/design.md section 5),
the way tomgoldstein/loss-landscape's plot_2D.py, plot_1D.py and h52vtp.py read
it with h5py: names, dtypes, shapes [ny, nx] with row = y, dir_file a string.

usage: reference_layout.py SURFACE.h5 FUNCTION
FUNCTION is a Python expression in x and y (numpy arrays) that train_loss must
equal, e.g. "(x - 0.3)**2 + 3*(y + 0.1)**2 + 1"."""
import sys

import h5py
import numpy as np


def main(path, expr):
    with h5py.File(path, "r") as f:
        for name in ("xcoordinates", "train_loss", "train_acc", "dir_file"):
            assert name in f, "missing dataset %s (have %s)" % (name, list(f.keys()))
        x = f["xcoordinates"][:]
        assert x.dtype == np.float64 and x.ndim == 1, (x.dtype, x.shape)
        dir_file = f["dir_file"][()]
        assert isinstance(dir_file, (bytes, str)), type(dir_file)
        if isinstance(dir_file, bytes):
            dir_file = dir_file.decode()
        assert dir_file.endswith(".h5"), dir_file
        two_d = "ycoordinates" in f
        for name in ("train_loss", "train_acc"):
            d = f[name]
            assert d.dtype == np.float64, (name, d.dtype)
            if two_d:
                y = f["ycoordinates"][:]
                assert y.dtype == np.float64 and y.ndim == 1
                # plot_2D.py: X, Y = np.meshgrid(x, y); contour(X, Y, Z) needs Z.shape == X.shape.
                assert d.shape == (len(y), len(x)), (name, d.shape, len(y), len(x))
            else:
                assert d.shape == (len(x),), (name, d.shape)
        if two_d:
            X, Y = np.meshgrid(x, f["ycoordinates"][:])
        else:
            X, Y = x, np.zeros_like(x)
        Z = np.array(f["train_loss"][:])
        want = eval(expr, {"np": np}, {"x": X, "y": Y})
        assert np.allclose(Z, want, rtol=0, atol=1e-12), "train_loss is not f(x, y) in row = y order"
        # h52vtp.py flattens meshgrid and the values alike: point k is (X.ravel()[k], Y.ravel()[k]).
        assert np.allclose(Z.ravel(), eval(expr, {"np": np}, {"x": X.ravel(), "y": Y.ravel()}), atol=1e-12)
    print("ok: reference layout", path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
