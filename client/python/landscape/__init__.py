"""landscape: loss landscapes of PyTorch models, computed by the landscape service or `landscape local`.

    import landscape
    job = landscape.connect("127.0.0.1:50051").submit(model, data=(images, labels), x=(-1, 1, 21), y=(-1, 1, 21))
    surface = job.wait().surface()          # numpy: surface.x, surface.y, surface["train_loss"] [ny, nx]
    surface.plot("contour"); surface.to_h5("surface.h5")
    same = landscape.local(model, data=(images, labels), x=(-1, 1, 21), y=(-1, 1, 21))
"""
from pkgutil import extend_path

# The generated landscape.v1 stubs may live in another `landscape/` folder on sys.path (the build tree's
# build/python/landscape/v1): extend the package over every such folder.
__path__ = extend_path(__path__, __name__)  # noqa: F821

from ._client import Client, Event, Job, Progress, connect  # noqa: E402
from ._local import local  # noqa: E402
from ._surface import Surface, load  # noqa: E402
from .errors import (AlreadyExists, Cancelled, DeadlineExceeded, InvalidArgument, JobFailed,  # noqa: E402
                     LandscapeError, LocalFailed, NotFound, ResourceExhausted, Unauthenticated, Unavailable)

__all__ = ["connect", "Client", "Job", "Event", "Progress", "Surface", "load", "local", "LandscapeError",
           "InvalidArgument", "NotFound", "AlreadyExists", "Unauthenticated", "ResourceExhausted", "Unavailable",
           "DeadlineExceeded", "JobFailed", "Cancelled", "LocalFailed"]
__version__ = "0.1.0"
