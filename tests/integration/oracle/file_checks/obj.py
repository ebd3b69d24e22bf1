"""Checks a Wavefront OBJ written by `landscape export` against the surface.

usage: obj.py FILE.obj SURFACE.h5 METRIC"""
import sys

import h5py
import numpy as np


def main(path, surface, metric):
    v, faces = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("v "):
                v.append([float(t) for t in line.split()[1:]])
            elif line.startswith("f "):
                faces.append([int(t) for t in line.split()[1:]])
    v = np.array(v)
    with h5py.File(surface, "r") as f:
        x, y, Z = f["xcoordinates"][:], f["ycoordinates"][:], np.array(f[metric][:])
    nx, ny = len(x), len(y)
    assert v.shape == (nx * ny, 3), v.shape
    X, Y = np.meshgrid(x, y)
    assert np.allclose(v[:, 0], X.ravel()) and np.allclose(v[:, 1], Y.ravel())
    assert np.allclose(v[:, 2], Z.ravel()), "z = metric in row = y order"
    assert len(faces) == (nx - 1) * (ny - 1), len(faces)
    for a, b, c, d in faces:
        assert 1 <= a and d <= nx * ny and b == a + 1 and c == a + nx + 1 and d == a + nx
    print("ok: obj", len(v), "vertices", len(faces), "faces")


if __name__ == "__main__":
    main(*sys.argv[1:4])
