"""Models and data given in Python -> files `landscape` reads.

Models: an nn.Module is saved as TorchScript (torch.jit.script, else torch.jit.trace on one batch of the
data); a path is used as it is; a state dict (a dict of tensors) is saved with torch.save and needs `arch=`
(a built-in architecture name, a TorchScript path, or an nn.Module). Data: a built-in name or a path is
used as it is; (images, labels) tensors or numpy arrays, a torch Dataset or DataLoader become a tensor data
file (torch.save({"images": ..., "labels": ...}), the layout of `--data FILE.pt`)."""
import os
import shutil
import subprocess
import warnings

from .errors import InvalidArgument

BUILTIN_DATA = ("fashion-mnist", "mnist")
_PREFIXED_DATA = ("idx:", "cifar10:", "synthetic:", "tensor:", "artifact:", "file://")


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        raise InvalidArgument("this input needs PyTorch (python3-torch)") from None


def is_path(v):
    return isinstance(v, (str, os.PathLike))


def is_module(v):
    try:
        import torch
    except ImportError:
        return False
    return isinstance(v, (torch.nn.Module, torch.jit.ScriptModule))


def is_state_dict(v):
    if not isinstance(v, dict) or not v:
        return False
    torch = _torch()
    return all(isinstance(t, torch.Tensor) for t in v.values())


def _progress(iterable, total, desc):
    try:
        from tqdm.auto import tqdm
        return tqdm(iterable, total=total, desc=desc, unit="batch", leave=False)
    except ImportError:
        return iterable


def materialize(data, max_samples=0, labels_float=False):
    """(images, labels) tensors of a torch Dataset or DataLoader: its first `max_samples` samples (0: all)."""
    torch = _torch()
    from torch.utils.data import DataLoader, Dataset
    limit = int(max_samples or 0)
    xs, ys, n = [], [], 0
    if isinstance(data, DataLoader):
        total = len(data) if hasattr(data, "__len__") else None
        for batch in _progress(data, total, "materializing data"):
            if not isinstance(batch, (list, tuple)) or len(batch) < 2:
                raise InvalidArgument("the DataLoader must yield (inputs, labels) batches", "data")
            x, y = torch.as_tensor(batch[0]), torch.as_tensor(batch[1])
            xs.append(x)
            ys.append(y)
            n += x.shape[0]
            if limit and n >= limit:
                break
        if not xs:
            raise InvalidArgument("the DataLoader yielded no batches", "data")
        images, labels = torch.cat(xs), torch.cat(ys)
    elif isinstance(data, Dataset):
        count = len(data)
        if limit:
            count = min(count, limit)
        for i in _progress(range(count), count, "materializing data"):
            item = data[i]
            if not isinstance(item, (list, tuple)) or len(item) < 2:
                raise InvalidArgument("the Dataset's items must be (input, label)", "data")
            xs.append(torch.as_tensor(item[0]))
            ys.append(torch.as_tensor(item[1]))
        if not xs:
            raise InvalidArgument("the Dataset is empty", "data")
        images, labels = torch.stack(xs), torch.stack(ys)
    else:
        raise InvalidArgument(f"cannot read data of type {type(data).__name__}", "data")
    if limit:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def as_tensors(data, max_samples=0):
    """(images, labels) as torch tensors, or None when `data` is a name or a path."""
    if is_path(data):
        return None
    torch = _torch()
    if isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = (torch.as_tensor(v) if not isinstance(v, torch.Tensor) else v for v in data)
    else:
        images, labels = materialize(data, max_samples)
    if images.shape[0] != labels.shape[0]:
        raise InvalidArgument(f"{images.shape[0]} images but {labels.shape[0]} labels", "data")
    if images.is_floating_point() and images.dtype != torch.float32:
        images = images.float()
    if not labels.is_floating_point():
        labels = labels.long()
    return images.detach().cpu().contiguous(), labels.detach().cpu().contiguous()


def data_file(data, workdir, max_samples=0):
    """The `--data` value for `data`: a name or path as given, else a tensor file written under workdir."""
    if is_path(data):
        s = os.fspath(data)
        if s in BUILTIN_DATA or s.startswith(_PREFIXED_DATA):
            return s
        if not os.path.exists(s):
            raise InvalidArgument(f"data={s!r} is neither a built-in data set ({', '.join(BUILTIN_DATA)}) "
                                  "nor an existing file", "data")
        return s
    torch = _torch()
    images, labels = as_tensors(data, max_samples)
    path = os.path.join(workdir, "data.pt")
    torch.save({"images": images, "labels": labels}, path)
    return path


def example_batch(data, data_path, batch=2):
    """A small input batch for torch.jit.trace: from the tensors, a tensor file, or a built-in set's shape."""
    torch = _torch()
    if not is_path(data):
        images, _ = as_tensors(data, max_samples=batch)
        return images[:batch].float() if images.dtype == torch.uint8 else images[:batch]
    s = os.fspath(data_path)
    if s in BUILTIN_DATA:
        return torch.rand(batch, 1, 28, 28)
    if os.path.isfile(s):
        obj = torch.load(s)
        if isinstance(obj, dict) and "train" in obj:
            obj = obj["train"]
        if isinstance(obj, dict) and "images" in obj:
            x = obj["images"][:batch]
            return x.float() if x.dtype == torch.uint8 else x
    return None


def _first_line(e, limit=200):
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def save_module(module, path, example):
    """TorchScript of `module` at `path`: scripted, else traced on `example`; else InvalidArgument with both."""
    torch = _torch()
    if isinstance(module, torch.jit.ScriptModule):
        module.save(path)
        return path
    was_training = module.training
    module.eval()
    try:
        try:
            torch.jit.script(module).save(path)
            return path
        except Exception as e:  # torch raises many types here
            script_error = _first_line(e)
        if example is None:
            trace_error = "no example input to trace with (give the data as tensors, a Dataset or a file)"
        else:
            try:
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter("ignore", torch.jit.TracerWarning)
                    traced = torch.jit.trace(module, example, check_trace=False)
                traced.save(path)
                return path
            except Exception as e:
                trace_error = _first_line(e)
    finally:
        module.train(was_training)
    raise InvalidArgument(
        f"cannot convert the {type(module).__name__} to TorchScript: torch.jit.script failed ({script_error}); "
        f"torch.jit.trace on one batch failed ({trace_error}). Make the module scriptable (type annotations, "
        "no Python-only calls in forward) or traceable (no data-dependent control flow), or save it yourself "
        "with torch.jit.save and pass the file", "model")


def find_binary(name="landscape"):
    """The `landscape` binary: $LANDSCAPE_BIN (the binary or its folder), PATH, or the build tree."""
    env = os.environ.get("LANDSCAPE_BIN")
    if env:
        cand = os.path.join(env, name) if os.path.isdir(env) else env
        if os.access(cand, os.X_OK):
            return cand
        raise InvalidArgument(f"LANDSCAPE_BIN={env} is not an executable landscape binary", "LANDSCAPE_BIN")
    found = shutil.which(name)
    if found:
        return found
    here = os.path.dirname(os.path.abspath(__file__))
    for root in (os.path.join(here, "..", "..", "..", "build"), os.path.join(os.getcwd(), "build")):
        cand = os.path.normpath(os.path.join(root, "client", name))
        if os.access(cand, os.X_OK):
            return cand
    raise InvalidArgument("cannot find the landscape binary: put it on PATH or set LANDSCAPE_BIN", "LANDSCAPE_BIN")


def model_file(model, name, workdir, data, data_path, arch=None):
    """The file of `model` (argument `name`): a path as given, a module saved as TorchScript, a state dict
    saved with torch.save (apply it onto arch=)."""
    if is_path(model):
        s = os.fspath(model)
        if not os.path.isfile(s):
            raise InvalidArgument(f"{name}={s!r}: no such file", name)
        return s
    path = os.path.join(workdir, name + ".pt")
    if is_module(model):
        return save_module(model, path, example_batch(data, data_path))
    if is_state_dict(model):
        _torch().save(model, path)
        return path
    raise InvalidArgument(f"{name}= must be an nn.Module, a TorchScript file or a state dict (with arch=), "
                          f"got {type(model).__name__}", name)


def arch_file(arch, workdir, data, data_path, classes=10):
    """`arch=` as a TorchScript file: a path, a module (scripted/traced), or a built-in name (export-arch)."""
    if arch is None:
        return None
    if is_module(arch):
        return save_module(arch, os.path.join(workdir, "arch.pt"), example_batch(data, data_path))
    s = os.fspath(arch)
    if os.path.isfile(s):
        return s
    example = example_batch(data, data_path, batch=1)
    shape = "x".join(str(d) for d in example.shape[1:]) if example is not None else "1x28x28"
    out = os.path.join(workdir, "arch.pt")
    r = subprocess.run([find_binary(), "export-arch", "--arch", s, "--input", shape, "--classes", str(classes),
                        "--out", out], capture_output=True, text=True)
    if r.returncode != 0:
        raise InvalidArgument(f"arch={s!r}: {r.stderr.strip() or r.stdout.strip()}", "arch")
    return out
