"""The generated landscape.v1 messages and stubs (landscape/v1/, generated at build time, never committed)."""
from .errors import LandscapeError

try:
    from .v1 import landscape_pb2 as pb  # noqa: F401
    from .v1 import landscape_pb2_grpc as pb_grpc  # noqa: F401
except ImportError as e:  # pragma: no cover - a packaging mistake, not a user's
    raise LandscapeError(
        "the landscape.v1 stubs are missing: build them (cmake --build build --target landscape_python) and put "
        "build/python on PYTHONPATH beside client/python, or pip install --no-build-isolation client/python "
        f"({e})") from e
