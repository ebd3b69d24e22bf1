"""The package's exceptions: every failure of the service, of `landscape local` or of the inputs is one
of these (never a bare gRPC error)."""
import re

import grpc


class LandscapeError(Exception):
    """Base class. `field` names the spec field (or argument) the error is about, when there is one."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidArgument(LandscapeError, ValueError):
    """A bad argument or spec field; `field` names it (e.g. "grid.x", "model")."""


class NotFound(LandscapeError, LookupError):
    """An unknown job or artifact (another tenant's counts as unknown)."""


class AlreadyExists(LandscapeError):
    """The same request_id was used with another spec."""


class Unauthenticated(LandscapeError):
    """A missing or wrong token (also: a token not permitted to do this)."""


class ResourceExhausted(LandscapeError):
    """Over one of the server's limits; the message names the field and the server flag."""


class Unavailable(LandscapeError, ConnectionError):
    """The server cannot be reached; `address` is where we looked."""

    def __init__(self, message, address=None):
        super().__init__(message)
        self.address = address


class DeadlineExceeded(LandscapeError, TimeoutError):
    """A call or a wait ran past its timeout."""


class JobFailed(LandscapeError):
    """The job ended FAILED: `error` is its reason, `field` the spec field, `job` its name."""

    def __init__(self, job, error, field=None):
        super().__init__(f"{job} failed: {field + ': ' if field else ''}{error}", field or None)
        self.job = job
        self.error = error


class Cancelled(LandscapeError):
    """The job was cancelled."""

    def __init__(self, job):
        super().__init__(f"{job} was cancelled")
        self.job = job


class LocalFailed(LandscapeError):
    """`landscape local` failed for another reason than its input; `exit_code` is its status."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|--[a-z0-9-]+(?:/--[a-z0-9-]+)?): ")

_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.CANCELLED: LandscapeError,  # the call, not the job
}


def split_field(message):
    """("field", "reason") from the server's "field: reason"; (None, message) without a field."""
    m = _FIELD.match(message or "")
    if not m:
        return None, message
    return m.group(1), message[m.end():]


def from_grpc(err, address):
    """The package's exception for a grpc.RpcError of a call to `address`."""
    code = err.code() if hasattr(err, "code") else None
    details = (err.details() if hasattr(err, "details") else None) or str(err)
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(
            f"cannot reach the landscape server at {address}: {details} (is it running? start one with "
            "deploy/local/launch.sh start, or give server= / LANDSCAPE_SERVER)", address)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(f"the server at {address} did not answer in time")
    cls = _CODES.get(code, LandscapeError)
    field, _ = split_field(details)
    if cls is Unauthenticated:
        return Unauthenticated(f"the server at {address} refused the token: {details} "
                               "(give token= or LANDSCAPE_TOKEN)")
    return cls(f"server: {details}", field)
