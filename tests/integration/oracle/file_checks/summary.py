"""Recomputes the JSON summary's numbers from the HDF5 file with numpy, with no
code shared with landscape, and compares.

usage: summary.py SUMMARY.json SURFACE.h5

Definitions (io/include/landscape/io/summary.h): values of points not done
(point_done = 0) are ignored; the centre is the grid point nearest 0 on each
axis; L.max_increase@r / L.mean_increase@r are max / mean of L - L(centre) over
finite points with sqrt(x^2 + y^2) <= r (1 + 1e-9); the basin below L(centre) + e
is the 4-connected component of the centre among finite points with
L <= L(centre) + e, its area the sum of trapezoid cell widths products, its
fraction that area over (xmax - xmin)(ymax - ymin)."""
import json
import math
import re
import sys

import h5py
import numpy as np


def widths(c):
    c = np.asarray(c, dtype=float)
    if len(c) < 2:
        return np.zeros(len(c))
    left = np.concatenate([[c[0]], c[:-1]])
    right = np.concatenate([c[1:], [c[-1]]])
    return 0.5 * (right - left)


NUMBER = re.compile(r"^-?[0-9.]+(e[-+]?[0-9]+)?$")  # a radius or epsilon as ScalarNumber writes it


def flat_scalars(nested, prefix=""):
    """The summary's nested scalars by their flat names: {"train_loss": {"basin_area": {"0.5": v}}}
    -> {"train_loss.basin_area@0.5": v} (a numeric last part follows '@', the others '.')."""
    out = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            out.update(flat_scalars(value, prefix + key + "."))
            continue
        if NUMBER.match(key):
            out[prefix[:-1] + "@" + key] = value
        else:
            out[prefix + key] = value
    return out


def main(summary_path, surface_path):
    with open(summary_path) as f:
        summary = json.load(f)
    # Nested: no key at any level holds a '.'-separated name part or an '@' (numbers "0.5" aside).
    def keys(d):
        for k, v in d.items():
            yield k
            if isinstance(v, dict):
                yield from keys(v)
    for k in keys(summary["scalars"]):
        assert "@" not in k and ("." not in k or NUMBER.match(k)), "not nested: %r" % k
    sc = flat_scalars(summary["scalars"])
    checked = 0

    def close(name, want):
        nonlocal checked
        got = sc.get(name, "absent")
        if want is None or (isinstance(want, float) and not math.isfinite(want)):
            assert got is None, "%s: want null, got %r" % (name, got)
        else:
            assert got is not None and got != "absent", "%s: want %r, got %r" % (name, want, got)
            assert abs(got - want) <= 1e-9 * max(1.0, abs(want)), "%s: want %r, got %r" % (name, want, got)
        checked += 1

    with h5py.File(surface_path, "r") as f:
        x = f["xcoordinates"][:]
        two_d = "ycoordinates" in f
        y = f["ycoordinates"][:] if two_d else np.array([0.0])
        shape = (len(y), len(x))
        done = np.array(f["point_done"][:]).reshape(shape).astype(bool)
        metrics = {}
        for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
            if name in f:
                metrics[name] = np.array(f[name][:], dtype=float).reshape(shape)
    for split in ("train", "test"):
        if split + "_acc" in metrics:
            metrics[split + "_err"] = 100.0 - metrics[split + "_acc"]

    X, Y = np.meshgrid(x, y)
    cy, cx = int(np.argmin(np.abs(y))), int(np.argmin(np.abs(x)))
    close("points", float(len(x) * len(y)))
    close("points_done", float(done.sum()))
    nan_total = 0
    for name, Z in metrics.items():
        Zd = np.where(done, Z, np.nan)
        finite = np.isfinite(Zd)
        nan = int((done & ~np.isfinite(Z)).sum())
        close(name + ".nan", float(nan))
        if not name.endswith("_err"):
            nan_total += nan
        lo = np.where(finite, Zd, np.inf)
        hi = np.where(finite, Zd, -np.inf)
        iy, ix = np.unravel_index(np.argmin(lo), shape)
        close(name + ".min", float(lo[iy, ix]))
        close(name + ".min_x", float(x[ix]))
        if two_d:
            close(name + ".min_y", float(y[iy]))
        iy, ix = np.unravel_index(np.argmax(hi), shape)
        close(name + ".max", float(hi[iy, ix]))
        close(name + ".max_x", float(x[ix]))
        centre = Zd[cy, cx]
        close(name + ".centre", float(centre) if np.isfinite(centre) else None)
        if not name.endswith("_loss"):
            continue
        dist = np.sqrt(X**2 + Y**2)
        for key in sc:
            if key.startswith(name + ".max_increase@"):
                r = float(key.split("@")[1])
                inside = finite & (dist <= r * (1 + 1e-9))
                if not np.isfinite(centre) or not inside.any():
                    close(key, None)
                    close(name + ".mean_increase@" + key.split("@")[1], None)
                    continue
                inc = Zd[inside] - centre
                close(key, float(inc.max()))
                close(name + ".mean_increase@" + key.split("@")[1], float(inc.mean()))
            if key.startswith(name + ".basin_area@"):
                e = float(key.split("@")[1])
                if not np.isfinite(centre):
                    close(key, None)
                    continue
                ok = finite & (Zd <= centre + e)
                seen = np.zeros(shape, bool)
                stack = [(cy, cx)]
                seen[cy, cx] = True
                while stack:
                    i, j = stack.pop()
                    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                        a, b = i + di, j + dj
                        if 0 <= a < shape[0] and 0 <= b < shape[1] and ok[a, b] and not seen[a, b]:
                            seen[a, b] = True
                            stack.append((a, b))
                wy = widths(y) if two_d else np.array([1.0])
                area = float((np.outer(wy, widths(x)) * seen).sum())
                total = (x[-1] - x[0]) * ((y[-1] - y[0]) if two_d else 1.0)
                close(key, area)
                close(name + ".basin_fraction@" + key.split("@")[1], area / total)
    close("nan", float(nan_total))
    primary = "train_loss" if "train_loss" in metrics else "test_loss"
    for key, value in sc.items():
        if key.startswith("max_loss_increase@"):
            close(key, sc[primary + ".max_increase@" + key.split("@")[1]])
        if key.startswith("basin_area@"):
            close(key, sc[primary + "." + key])
    assert checked > 40, "too few scalars checked: %d" % checked
    # The nested JSON agrees with the flat scalars.
    for r, v in summary["sharpness"][primary]["loss_increase_within_radius"].items():
        assert v["max_increase"] == sc[primary + ".max_increase@" + r]
    print("ok: summary", checked, "scalars")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
