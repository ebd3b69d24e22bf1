"""Parses a .vtp written by `landscape export` with a real XML parser and checks
it against the surface file read with h5py.

usage: vtp.py FILE.vtp SURFACE.h5 METRIC [--zmax Z] [--log] [--interp N] [--label KEY=VALUE]...
Without --interp every value is checked; with it, the corners and every point
that falls on an original grid node (N - 1 a multiple of the original n - 1)."""
import argparse
import xml.etree.ElementTree as ET

import h5py
import numpy as np


def numbers(elem, dtype=float):
    text = (elem.text or "").split()
    return np.array([dtype(t) for t in text])


def string_array(elem):
    codes = [int(t) for t in (elem.text or "").split()]
    assert codes and codes[-1] == 0, "a VTK string ends with 0"
    return bytes(codes[:-1]).decode("utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vtp")
    ap.add_argument("surface")
    ap.add_argument("metric")
    ap.add_argument("--zmax", type=float, default=0)
    ap.add_argument("--log", action="store_true")
    ap.add_argument("--interp", type=int, default=0)
    ap.add_argument("--label", action="append", default=[])
    a = ap.parse_args()

    root = ET.parse(a.vtp).getroot()
    assert root.tag == "VTKFile" and root.get("type") == "PolyData", root.attrib
    piece = root.find("PolyData/Piece")
    npoints, npolys = int(piece.get("NumberOfPoints")), int(piece.get("NumberOfPolys"))

    with h5py.File(a.surface, "r") as f:
        x, y = f["xcoordinates"][:], f["ycoordinates"][:]
        name = a.metric
        if name.endswith("_err"):
            Z = 100.0 - f[name[:-4] + "_acc"][:]
        else:
            Z = np.array(f[name][:])
    nx, ny = len(x), len(y)
    mx, my = (a.interp, a.interp) if a.interp else (nx, ny)
    assert npoints == mx * my, (npoints, mx, my)
    assert npolys == (mx - 1) * (my - 1), (npolys, mx, my)

    def transform(z):
        z = np.array(z, dtype=float)
        if a.zmax > 0:
            z = np.minimum(z, a.zmax)
        if a.log:
            z = np.log(z + 0.1)
        return z

    pts = numbers(piece.find("Points/DataArray")).reshape(-1, 3)
    arrays = {d.get("Name"): d for d in piece.findall("PointData/DataArray")}
    zvalue = numbers(arrays["zvalue"])
    valid = numbers(arrays["valid"], int)
    assert len(pts) == npoints and len(zvalue) == npoints and valid.sum() == npoints
    assert np.allclose(pts[:, 2], zvalue, atol=0)
    if a.interp:
        X, Y = np.meshgrid(np.linspace(x[0], x[-1], mx), np.linspace(y[0], y[-1], my))
        assert np.allclose(pts[:, 0], X.ravel(), atol=1e-12) and np.allclose(pts[:, 1], Y.ravel(), atol=1e-12)
        zs = zvalue.reshape(my, mx)
        sx, sy = (mx - 1) // (nx - 1), (my - 1) // (ny - 1)
        assert (mx - 1) % (nx - 1) == 0 and (my - 1) % (ny - 1) == 0, "choose N so nodes coincide"
        assert np.allclose(zs[::sy, ::sx], transform(Z), atol=1e-9), "resampling must pass through the data"
    else:
        X, Y = np.meshgrid(x, y)
        assert np.allclose(pts[:, 0], X.ravel(), atol=0) and np.allclose(pts[:, 1], Y.ravel(), atol=0)
        assert np.allclose(zvalue, transform(Z).ravel(), rtol=1e-15, atol=1e-15), "zvalue != metric (row = y)"

    conn = numbers(piece.find("Polys/DataArray[@Name='connectivity']"), int).reshape(-1, 4)
    offsets = numbers(piece.find("Polys/DataArray[@Name='offsets']"), int)
    assert len(conn) == npolys and list(offsets) == [4 * (i + 1) for i in range(npolys)]
    k = (np.arange(my - 1)[:, None] * mx + np.arange(mx - 1)[None, :]).ravel()
    assert (conn == np.stack([k, k + 1, k + mx + 1, k + mx], axis=1)).all(), "quads (k, k+1, k+nx+1, k+nx)"
    cell = numbers(piece.find("CellData/DataArray"))
    assert np.allclose(cell, zvalue[conn].mean(axis=1), atol=1e-12), "averaged zvalue"

    fields = {d.get("Name"): string_array(d) for d in root.findall("PolyData/FieldData/DataArray")}
    for kv in a.label:
        key, value = kv.split("=", 1)
        assert fields.get("label_" + key) == value, (key, fields)
    assert fields["metric"].startswith(a.metric), fields["metric"]
    print("ok: vtp", a.vtp, npoints, "points", npolys, "quads")


if __name__ == "__main__":
    main()
