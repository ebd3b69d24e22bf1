"""landscape.local(): the same arguments as Client.submit, computed by `landscape local` in a subprocess."""
import os
import subprocess
import tempfile

from . import _inputs, _spec
from ._client import prepare_files
from ._surface import load
from .errors import InvalidArgument, LocalFailed

_EXIT_BAD_INPUT = 2


def local(model, data="fashion-mnist", x=(-1, 1, 51), y=None, threads=None, device=None, extra_args=(),
          binary=None, **options):
    """A Surface computed on this machine by the `landscape` binary (PATH, $LANDSCAPE_BIN or the build tree),
    no server. threads/device: `landscape local`'s --threads/--device; extra_args: more of its flags."""
    _spec.check_options(options)
    exe = binary or _inputs.find_binary()
    with tempfile.TemporaryDirectory(prefix="landscape-local-") as work:
        files = prepare_files(model, data, options, work)
        out = os.path.join(work, "surface.h5")
        argv = [exe, "local", *_spec.local_flags(files, x, y, options), "--progress", "quiet", "--out", out]
        if threads:
            argv.append(f"--threads={int(threads)}")
        if device:
            argv.append(f"--device={device}")
        argv += list(extra_args)
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            msg = (r.stderr.strip() or r.stdout.strip()).replace("landscape: ", "", 1)
            if msg.startswith("error: "):
                msg = msg[len("error: "):]
            if r.returncode == _EXIT_BAD_INPUT:
                # "--flag: reason" names the option: its Python name (--x: x, --max-samples: max_samples).
                field = msg.split(":", 1)[0].lstrip("-").replace("-", "_") if msg.startswith("--") else None
                raise InvalidArgument(f"landscape local: {msg}", field)
            raise LocalFailed(f"landscape local exited with {r.returncode}: {msg}", r.returncode)
        return load(out)
