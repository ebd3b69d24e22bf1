"""Surface: a computed loss landscape as numpy arrays, from the service, `landscape local` or an HDF5 file."""
import json
import os

import numpy as np

from .errors import InvalidArgument, LandscapeError

# The reference's value of a point not computed yet (its plot scripts skip them by value).
_UNFINISHED = {"min_eig": 1.0}


class Surface:
    """x, y (None for 1-D): numpy coordinates. metrics: names in file order (train_loss, train_acc, ...).
    surface[name]: array [ny, nx] ([nx] for 1-D) with NaN where a point is not done. done: bool mask of the
    same shape. spec: the job's spec (a dict). attributes: the file's string attributes."""

    def __init__(self, x, y, metrics, values, done, spec=None, attributes=None, dir_file="", directions=None):
        self.x = np.asarray(x, dtype=np.float64)
        self.y = None if y is None or len(y) == 0 else np.asarray(y, dtype=np.float64)
        self.metrics = list(metrics)
        self.done = np.asarray(done, dtype=bool).reshape(self.shape)
        self._values = {m: np.where(self.done, np.asarray(values[m], dtype=np.float64).reshape(self.shape), np.nan)
                        for m in self.metrics}
        self.spec = spec or {}
        self.attributes = dict(attributes or {})
        self.dir_file = dir_file
        self._directions = directions  # bytes of the direction file (service surfaces), written by to_h5

    @property
    def shape(self):
        return (len(self.x),) if self.y is None else (len(self.y), len(self.x))

    @property
    def partial(self):
        return not bool(self.done.all())

    def __getitem__(self, metric):
        if metric not in self._values:
            raise KeyError(f"no metric {metric!r} in this surface (it has {', '.join(self.metrics)})")
        return self._values[metric]

    def __contains__(self, metric):
        return metric in self._values

    def __repr__(self):
        grid = f"{len(self.x)}" if self.y is None else f"{len(self.y)}x{len(self.x)}"
        return (f"<landscape.Surface {grid} {', '.join(self.metrics)}; "
                f"{int(self.done.sum())}/{self.done.size} points done>")

    def to_h5(self, path, directions=True):
        """Writes the reference's layout (xcoordinates, ycoordinates, train_loss, ... as [ny, nx] float64, with
        -1 (1 for min_eig) where not done; point_done; dir_file) with the attributes. With `directions` and a
        service surface, its direction file goes beside it as <stem>.dirs.h5. Returns `path`."""
        import h5py
        path = os.fspath(path)
        dir_file = self.dir_file
        if directions and self._directions is not None:
            stem = path[:-3] if path.endswith(".h5") else path
            dir_file = stem + ".dirs.h5"
            with open(dir_file, "wb") as f:
                f.write(self._directions)
        tmp = path + ".tmp"
        with h5py.File(tmp, "w") as f:
            f.create_dataset("dir_file", data=dir_file or "", dtype=h5py.string_dtype())
            f.create_dataset("xcoordinates", data=self.x)
            if self.y is not None:
                f.create_dataset("ycoordinates", data=self.y)
            for m in self.metrics:
                f.create_dataset(m, data=np.where(self.done, self._values[m], _UNFINISHED.get(m, -1.0)))
            f.create_dataset("point_done", data=self.done.astype(np.uint8))
            for k, v in self.attributes.items():
                f.attrs[k] = str(v)
            if "spec" not in self.attributes and self.spec:
                f.attrs["spec"] = json.dumps(self.spec)
            f.attrs["partial"] = "true" if self.partial else "false"
        os.replace(tmp, path)
        return path

    def plot(self, kind="contour", metric="train_loss", ax=None, levels=None, **kwargs):
        """Draws `metric` with matplotlib: contour | filled | heat | 3d (2-D), 1d (1-D). Returns the axes."""
        import matplotlib.pyplot as plt
        z = self[metric]
        if self.y is None or kind == "1d":
            if self.y is not None:
                raise InvalidArgument("kind='1d' needs a 1-D surface; use contour, filled, heat or 3d", "kind")
            ax = ax or plt.figure().add_subplot()
            ax.plot(self.x, z, **kwargs)
            ax.set_xlabel("α")
            ax.set_ylabel(metric)
            return ax
        X, Y = np.meshgrid(self.x, self.y)
        if kind == "3d":
            if ax is None:
                ax = plt.figure().add_subplot(projection="3d")
            ax.plot_surface(X, Y, np.ma.masked_invalid(z), cmap=kwargs.pop("cmap", "viridis"), **kwargs)
            ax.set_zlabel(metric)
        elif kind in ("contour", "filled"):
            ax = ax or plt.figure().add_subplot()
            finite = z[np.isfinite(z)]
            if levels is None and finite.size:
                levels = np.linspace(finite.min(), finite.max(), 30)
            draw = ax.contour if kind == "contour" else ax.contourf
            cs = draw(X, Y, np.ma.masked_invalid(z), levels=levels, cmap=kwargs.pop("cmap", "summer"), **kwargs)
            if kind == "contour":
                ax.clabel(cs, inline=1, fontsize=8)
        elif kind == "heat":
            ax = ax or plt.figure().add_subplot()
            im = ax.pcolormesh(X, Y, np.ma.masked_invalid(z), shading="nearest", cmap=kwargs.pop("cmap", "viridis"),
                               **kwargs)
            ax.figure.colorbar(im, ax=ax, label=metric)
        else:
            raise InvalidArgument(f"kind={kind!r}: expected contour, filled, heat, 3d or 1d", "kind")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(metric)
        return ax


def _attr(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load(path):
    """A Surface from an HDF5 surface file (written by the CLI, by to_h5, or the reference's)."""
    try:
        import h5py
    except ImportError:
        raise LandscapeError("landscape.load needs h5py (python3-h5py)") from None
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InvalidArgument(f"{path}: no such file", "path")
    with h5py.File(path, "r") as f:
        if "xcoordinates" not in f:
            raise InvalidArgument(f"{path}: not a surface file: no 'xcoordinates' dataset", "path")
        x = f["xcoordinates"][()]
        y = f["ycoordinates"][()] if "ycoordinates" in f else None
        known = ("train_loss", "train_acc", "test_loss", "test_acc", "min_eig", "max_eig")
        metrics = [m for m in known if m in f]
        values = {m: f[m][()] for m in metrics}
        n = len(x) * (1 if y is None else len(y))
        if "point_done" in f:
            done = f["point_done"][()].astype(bool)
        else:  # the reference's files: a point is done when its loss (or max_eig) is > 0
            key = "train_loss" if "train_loss" in values else metrics[0]
            done = np.asarray(values[key]) > 0
        dir_file = _attr(f["dir_file"][()]) if "dir_file" in f else ""
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
    spec = {}
    if "spec" in attrs:
        try:
            spec = json.loads(attrs["spec"])
        except ValueError:
            spec = {}
    if np.asarray(done).size != n:
        raise InvalidArgument(f"{path}: point_done does not match the coordinates", "path")
    return Surface(x, y, metrics, values, done, spec=spec, attributes=attrs, dir_file=dir_file)
