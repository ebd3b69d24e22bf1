"""Keyword options of submit()/local() -> a landscape.v1.JobSpec, and -> `landscape local` flags.

Option names are the CLI's flags with '_' for '-' (dir_type, max_samples, ...). Values are checked only
for their Python type here; the server (or `landscape local`) validates them and names the field."""
from .errors import InvalidArgument

_LOSS = {"crossentropy": "LOSS_CROSS_ENTROPY", "cross_entropy": "LOSS_CROSS_ENTROPY", "mse": "LOSS_MSE",
         "regression": "LOSS_REGRESSION"}
_SPLIT = {"train": "SPLIT_TRAIN", "test": "SPLIT_TEST", "both": "SPLIT_BOTH"}
_DIR_TYPE = {"weights": "DIR_TYPE_WEIGHTS", "states": "DIR_TYPE_STATES"}
_NORM = {n: "NORM_" + n.upper() for n in ("filter", "layer", "weight", "dfilter", "dlayer", "none")}
_IGNORE = {"biasbn": "IGNORE_BIASBN", "none": "IGNORE_NONE"}

# Every spec option: python name -> CLI flag ("" for the ones with their own handling).
SPEC_OPTIONS = {
    "model2": "--model2", "model3": "--model3", "checkpoints": "--checkpoints", "arch": "--arch",
    "dir_type": "--dir-type", "xnorm": "--xnorm", "xignore": "--xignore", "ynorm": "--ynorm",
    "yignore": "--yignore", "same_dir": "--same-dir", "seed": "--seed", "dir_file": "--dir-file",
    "pca_ignore": "--pca-ignore", "split": "--split", "max_samples": "--max-samples",
    "subset_seed": "--subset-seed", "normalize": "--normalize", "loss": "--loss", "batch_size": "--batch-size",
    "hessian": "--hessian", "hessian_samples": "--hessian-samples", "hessian_tol": "--hessian-tol",
    "no_loss": "--no-loss", "labels": "--label", "name": "--name", "tile_size": "--tile-size",
}
# Accepted by submit() beside the spec options.
SUBMIT_ONLY = {"request_id", "priority"}


def check_options(options, allowed_extra=()):
    for k in options:
        if k not in SPEC_OPTIONS and k not in allowed_extra:
            raise InvalidArgument(f"unknown option {k}= (known: {', '.join(sorted(SPEC_OPTIONS))})", k)


def axis(value, name):
    """(min, max, num) -> a checked tuple; None stays None."""
    if value is None:
        return None
    try:
        lo, hi, num = value
        return float(lo), float(hi), int(num)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}= must be (min, max, num), got {value!r}", "grid." + name) from None


def _enum(table, value, field, pb):
    key = str(value).lower()
    if key not in table:
        raise InvalidArgument(f"{field}={value!r}: expected one of {', '.join(sorted(table))}", field)
    return pb.Value(table[key]) if hasattr(pb, "Value") else getattr(pb, table[key])


def build_spec(pb, refs, x, y, options):
    """A JobSpec message. `refs`: model/model2/model3/arch/dir_file/checkpoints/data already as refs or names."""
    s = pb.JobSpec()
    s.model.model = refs["model"]
    s.model.arch = refs.get("arch") or ""
    s.model.model2 = refs.get("model2") or ""
    s.model.model3 = refs.get("model3") or ""
    s.model.checkpoints.extend(refs.get("checkpoints") or [])
    s.data.source = refs["data"]
    o = options
    if "split" in o:
        s.data.split = _enum(_SPLIT, o["split"], "split", pb.Split)
    s.data.max_samples = int(o.get("max_samples") or 0)
    if o.get("subset_seed") is not None:
        s.data.subset_seed = int(o["subset_seed"])
    s.data.batch_size = int(o.get("batch_size") or 0)
    s.data.normalize = o.get("normalize") or ""
    if "loss" in o:
        s.loss = _enum(_LOSS, o["loss"], "loss", pb.Loss)
    d = s.directions
    if refs.get("dir_file"):
        d.kind = pb.DIRECTION_KIND_FILE
        d.file = refs["dir_file"]
    elif refs.get("checkpoints"):
        d.kind = pb.DIRECTION_KIND_PCA
    elif refs.get("model2"):
        d.kind = pb.DIRECTION_KIND_TARGET
    else:
        d.kind = pb.DIRECTION_KIND_RANDOM
    if "dir_type" in o:
        d.type = _enum(_DIR_TYPE, o["dir_type"], "dir_type", pb.DirType)
    for ax in ("x", "y"):
        if ax + "norm" in o:
            getattr(d, ax).norm = _enum(_NORM, o[ax + "norm"], ax + "norm", pb.Norm)
        if ax + "ignore" in o:
            getattr(d, ax).ignore = _enum(_IGNORE, o[ax + "ignore"], ax + "ignore", pb.Ignore)
    if "pca_ignore" in o:
        d.pca_ignore = _enum(_IGNORE, o["pca_ignore"], "pca_ignore", pb.Ignore)
    if o.get("seed") is not None:
        d.seed = int(o["seed"])
    d.same_dir = bool(o.get("same_dir", False))
    gx = axis(x, "x")
    if gx is None:
        raise InvalidArgument("x= is required: (min, max, num)", "grid.x")
    s.grid.x.min, s.grid.x.max, s.grid.x.num = gx
    gy = axis(y, "y")
    if gy is not None:
        s.grid.y.min, s.grid.y.max, s.grid.y.num = gy
    s.hessian.enabled = bool(o.get("hessian", False))
    s.hessian.max_samples = int(o.get("hessian_samples") or 0)
    s.hessian.tolerance = float(o.get("hessian_tol") or 0.0)
    if o.get("no_loss"):
        s.compute_loss = False
    for k, v in (o.get("labels") or {}).items():
        s.labels[str(k)] = str(v)
    s.tile_size = int(o.get("tile_size") or 0)
    s.display_name = o.get("name") or ""
    return s


def local_flags(files, x, y, options):
    """`landscape local` flags for the same spec. `files`: model/model2/.../data as paths or names."""
    def num(v):
        return repr(float(v))

    a = ["--model", files["model"], "--data", files["data"]]
    for k in ("arch", "model2", "model3", "dir_file"):
        if files.get(k):
            a += [SPEC_OPTIONS[k], files[k]]
    if files.get("checkpoints"):
        a += ["--checkpoints", *files["checkpoints"]]
    gx = axis(x, "x")
    if gx is None:
        raise InvalidArgument("x= is required: (min, max, num)", "grid.x")
    a.append(f"--x={num(gx[0])}:{num(gx[1])}:{gx[2]}")
    gy = axis(y, "y")
    if gy is not None:
        a.append(f"--y={num(gy[0])}:{num(gy[1])}:{gy[2]}")
    for k, v in options.items():
        if k in ("arch", "model2", "model3", "dir_file", "checkpoints") or v is None:
            continue
        flag = SPEC_OPTIONS[k]
        if k in ("same_dir", "hessian", "no_loss"):
            if v:
                a.append(flag)
        elif k == "labels":
            for lk, lv in v.items():
                a += ["--label", f"{lk}={lv}"]
        else:
            a.append(f"{flag}={v}")
    return a
