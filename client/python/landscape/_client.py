"""The service from Python: connect() -> Client; Client.submit() -> Job; Job.wait() / events() / surface()."""
import collections
import hashlib
import os
import sys
import tempfile
import time
import uuid

import grpc

from . import _inputs, _spec
from ._proto import pb, pb_grpc
from ._surface import Surface
from .errors import (Cancelled, DeadlineExceeded, InvalidArgument, JobFailed, LandscapeError, Unavailable,
                     from_grpc)

_CHUNK = 1 << 20  # upload piece, bytes (the server takes at most 4 MiB per message)
_FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
              grpc.StatusCode.UNKNOWN)

Progress = collections.namedtuple("Progress", "done total rate eta tiles_done tiles_total")
Progress.__doc__ = "Points done of total, points per second since the job started running, eta in s (None: unknown)."


def _state(v):
    return pb.JobState.Name(v)[len("JOB_STATE_"):]


def _progress(p):
    return Progress(p.points_done, p.points_total, p.points_per_second,
                    p.eta_seconds if p.HasField("eta_seconds") else None, p.tiles_done, p.tiles_total)


class Event(collections.namedtuple("Event", "cursor progress state message field tile")):
    """One job event: `state` (with `message`/`field` when FAILED) for a state change, else `tile`:
    {"index", "begin", "end", "metrics": {name: [values]}} for a finished tile; `progress` after it."""


def connect(server=None, token=None, tls=False, ca=None, timeout=None):
    """A Client of the landscape server at `server` (host:port; default $LANDSCAPE_SERVER, else
    127.0.0.1:50051) with bearer `token` (default $LANDSCAPE_TOKEN). tls: TLS with the system's roots, or
    `ca` (a PEM file). timeout: seconds per call (default 30)."""
    return Client(server, token, tls, ca, timeout)


class Client:
    def __init__(self, server=None, token=None, tls=False, ca=None, timeout=None):
        self.server = server or os.environ.get("LANDSCAPE_SERVER") or "127.0.0.1:50051"
        self.token = token if token is not None else os.environ.get("LANDSCAPE_TOKEN") or None
        self.timeout = 30.0 if timeout is None else float(timeout)
        opts = [("grpc.max_receive_message_length", 64 << 20)]
        if tls or ca:
            root = None
            if ca:
                try:
                    with open(ca, "rb") as f:
                        root = f.read()
                except OSError as e:
                    raise InvalidArgument(f"ca={ca!r}: cannot read it: {e.strerror}", "ca") from None
            self._channel = grpc.secure_channel(self.server, grpc.ssl_channel_credentials(root), opts)
        else:
            self._channel = grpc.insecure_channel(self.server, opts)
        self._stub = pb_grpc.LandscapeServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _meta(self):
        return [("authorization", "Bearer " + self.token)] if self.token else None

    def _call(self, method, request, timeout=None):
        try:
            return getattr(self._stub, method)(request, timeout=timeout or self.timeout, metadata=self._meta())
        except grpc.RpcError as e:
            raise from_grpc(e, self.server) from None

    # ---- artifacts --------------------------------------------------------------------------
    def upload(self, path):
        """Uploads a file as an artifact; returns its ref "artifact:<sha256>"."""
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for piece in iter(lambda: f.read(_CHUNK), b""):
                h.update(piece)
        sha = h.hexdigest()

        def pieces():
            with open(path, "rb") as f:
                first = True
                while True:
                    data = f.read(_CHUNK)
                    if first:
                        yield pb.UploadArtifactRequest(data=data, filename=os.path.basename(path),
                                                       expected_sha256=sha)
                        first = False
                    elif data:
                        yield pb.UploadArtifactRequest(data=data)
                    if not data or len(data) < _CHUNK:
                        return

        size = os.path.getsize(path)
        art = self._call("UploadArtifact", pieces(), timeout=self.timeout + 10.0 * (size // (64 << 20) + 1))
        if art.sha256 != sha:
            raise LandscapeError(f"the server stored {path} under another hash")
        return art.ref

    def download(self, sha256):
        """An artifact's bytes (checked against its sha256)."""
        try:
            data = b"".join(c.data for c in self._stub.GetArtifact(
                pb.GetArtifactRequest(sha256=sha256), timeout=self.timeout * 10, metadata=self._meta()))
        except grpc.RpcError as e:
            raise from_grpc(e, self.server) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise LandscapeError(f"artifact {sha256} arrived corrupted")
        return data

    # ---- jobs -------------------------------------------------------------------------------
    def submit(self, model, data="fashion-mnist", x=(-1, 1, 51), y=None, **options):
        """Submits a job; returns its Job at once (call .wait() or .surface()). See the package's docs for
        model, data and options (the CLI's spec flags with '_' for '-'; request_id= makes retries safe;
        priority= (-100..100, default 0) orders your own jobs, higher first)."""
        _spec.check_options(options, _spec.SUBMIT_ONLY)
        request_id = options.pop("request_id", None) or uuid.uuid4().hex
        priority = options.pop("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool) or not -100 <= priority <= 100:
            raise ValueError(f"priority: a whole number in [-100, 100], not {priority!r}")
        with tempfile.TemporaryDirectory(prefix="landscape-submit-") as work:
            files = prepare_files(model, data, options, work)
            uploaded = {}

            def ref(path):
                if path in _inputs.BUILTIN_DATA or path.startswith(_inputs._PREFIXED_DATA):
                    return path
                if path not in uploaded:
                    uploaded[path] = self.upload(path)
                return uploaded[path]

            refs = {k: (ref(v) if isinstance(v, str) else [ref(p) for p in v]) for k, v in files.items() if v}
            spec = _spec.build_spec(pb, refs, x, y, options)
        req = pb.SubmitJobRequest(spec=spec, request_id=request_id, priority=priority)
        delay = 0.3
        for attempt in range(4):  # the request id makes a retry after a lost answer return the same job
            try:
                job = self._stub.SubmitJob(req, timeout=self.timeout, metadata=self._meta())
                return Job(self, job.name, job)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or attempt == 3:
                    raise from_grpc(e, self.server) from None
                time.sleep(delay)
                delay *= 2

    def job(self, name):
        """The Job `name` ("jobs/ID" or "ID")."""
        name = name if name.startswith("jobs/") else "jobs/" + name
        return Job(self, name, self._call("GetJob", pb.GetJobRequest(name=name)))

    def jobs(self, state=None, label=None, limit=None):
        """The caller's jobs, newest first; `state` ("RUNNING", ...) and `label` ({key: value}) filter."""
        req = pb.ListJobsRequest(page_size=min(limit or 1000, 1000))
        if state:
            req.state = pb.JobState.Value("JOB_STATE_" + state.upper())
        for k, v in (label or {}).items():
            req.labels[k] = str(v)
        out = []
        while True:
            resp = self._call("ListJobs", req)
            out += [Job(self, j.name, j) for j in resp.jobs]
            if not resp.next_page_token or (limit and len(out) >= limit):
                return out[:limit] if limit else out
            req.page_token = resp.next_page_token


def prepare_files(model, data, options, work):
    """Local files (or names) for every input: model, arch, model2, model3, checkpoints, dir_file, data.
    Modules and tensors are written under `work`."""
    data_path = _inputs.data_file(data, work, max_samples=0 if options.get("subset_seed") is not None
                                  else options.get("max_samples", 0))
    files = {"data": data_path}
    files["arch"] = _inputs.arch_file(options.get("arch"), work, data, data_path)
    for name, value in (("model", model), ("model2", options.get("model2")), ("model3", options.get("model3"))):
        if value is None:
            continue
        if _inputs.is_state_dict(value) and not files["arch"]:
            raise InvalidArgument(f"{name}= is a state dict: give the architecture with arch= (a built-in name, "
                                  "an nn.Module or a TorchScript file)", "arch")
        files[name] = _inputs.model_file(value, name, work, data, data_path)
    cps = options.get("checkpoints")
    if cps:
        files["checkpoints"] = [_inputs.model_file(c, f"checkpoint{i}", work, data, data_path)
                                for i, c in enumerate(cps)]
    if options.get("dir_file"):
        files["dir_file"] = os.fspath(options["dir_file"])
    return files


class Job:
    """A job of the service. `.state` and `.progress` ask the server each time."""

    def __init__(self, client, name, proto=None):
        self.client = client
        self.name = name
        self._proto = proto
        self._cursor = ""

    def __repr__(self):
        return f"<landscape.Job {self.name} {_state(self._proto.state) if self._proto else '?'}>"

    def refresh(self):
        self._proto = self.client._call("GetJob", pb.GetJobRequest(name=self.name))
        return self._proto

    @property
    def state(self):
        return _state(self.refresh().state)

    @property
    def progress(self):
        return _progress(self.refresh().progress)

    @property
    def error(self):
        return self.refresh().error

    @property
    def priority(self):
        """The priority it was submitted with (orders its tenant's jobs)."""
        return (self._proto or self.refresh()).priority

    def cancel(self):
        self._proto = self.client._call("CancelJob", pb.CancelJobRequest(name=self.name))
        return self

    def events(self, after=None, reconnect_for=300.0, timeout=None):
        """The job's events from the first (or after cursor `after`) until it ends. A dropped stream or a
        restarted server is resumed from the last event's cursor (for up to `reconnect_for` s of silence),
        so no event is missed or repeated. timeout: seconds in all, then DeadlineExceeded."""
        cursor = after or ""
        deadline = None if timeout is None else time.monotonic() + timeout
        last_contact = time.monotonic()
        delay = 0.2
        while True:
            received = 0
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise DeadlineExceeded(f"{self.name} did not end within {timeout} s")
            stream = self.client._stub.WatchJob(pb.WatchJobRequest(name=self.name, after_cursor=cursor),
                                                timeout=left, metadata=self.client._meta())
            try:
                for ev in stream:
                    last_contact, delay = time.monotonic(), 0.2
                    received += 1
                    cursor = self._cursor = ev.cursor
                    out = _event(ev)
                    yield out
                    if out.state in _FINAL:
                        return
            except grpc.RpcError as e:
                if deadline is not None and time.monotonic() >= deadline:
                    raise DeadlineExceeded(f"{self.name} did not end within {timeout} s") from None
                if e.code() not in _RETRYABLE or time.monotonic() - last_contact > reconnect_for:
                    raise from_grpc(e, self.client.server) from None
            finally:
                stream.cancel()
            # The stream ended (or broke) before the final event: resume after `cursor`. A job that is over
            # and has nothing after the cursor (its final event expired) ends the iteration.
            if received == 0:
                try:
                    if _state(self.refresh().state) in _FINAL:
                        return
                except LandscapeError as e:
                    if not isinstance(e, (Unavailable, DeadlineExceeded)) or \
                            time.monotonic() - last_contact > reconnect_for:
                        raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def wait(self, progress=True, timeout=None):
        """Waits until the job ends; returns the Job when it SUCCEEDED, raises JobFailed or Cancelled.
        progress: a tqdm bar (terminal or notebook) when tqdm is installed, plain lines otherwise; False: quiet.
        timeout: seconds, then DeadlineExceeded (the job keeps running)."""
        bar = None
        last_line = 0.0
        try:
            # From the last event already seen (events() or an earlier wait): a job that has ended returns at once.
            for ev in self.events(after=self._cursor, timeout=timeout):
                p = ev.progress
                if progress and p.total:
                    if bar is None:
                        bar = _make_bar(p.total, self.name)
                    if bar is not None:
                        bar.n = p.done
                        bar.set_postfix_str(f"tiles {p.tiles_done}/{p.tiles_total}", refresh=False)
                        bar.refresh()
                    elif time.monotonic() - last_line > 2 or ev.state:
                        print(f"landscape: {self.name} {p.done}/{p.total} points", file=sys.stderr)
                        last_line = time.monotonic()
                if ev.state in _FINAL:
                    break
        finally:
            if bar is not None:
                bar.close()
        job = self.refresh()
        st = _state(job.state)
        if st == "FAILED":
            raise JobFailed(self.name, job.error, job.error_field or None)
        if st == "CANCELLED":
            raise Cancelled(self.name)
        if st != "SUCCEEDED":
            raise LandscapeError(f"{self.name} stopped being watched in state {st}")
        return self

    def surface(self, partial=False, timeout=None):
        """The Surface. partial=False waits for the job to succeed first (JobFailed/Cancelled otherwise);
        partial=True returns what is computed now (NaN where not)."""
        if not partial and self.state != "SUCCEEDED":
            self.wait(progress=False, timeout=timeout)
        c = self.client
        header, tiles = None, []
        try:
            for chunk in c._stub.GetSurface(pb.GetSurfaceRequest(name=self.name), timeout=c.timeout * 10,
                                            metadata=c._meta()):
                if chunk.HasField("header"):
                    header = chunk.header
                tiles.extend(chunk.tiles)
        except grpc.RpcError as e:
            raise from_grpc(e, c.server) from None
        if header is None:
            raise LandscapeError("the server sent no surface header")
        return _surface_from(c, header, tiles)


def _event(ev):
    kind = ev.WhichOneof("kind")
    state = message = field = tile = None
    if kind == "state_change":
        state, message, field = _state(ev.state_change.state), ev.state_change.message, ev.state_change.field
    elif kind == "tile":
        t = ev.tile
        tile = {"index": t.tile_index, "begin": t.begin, "end": t.end,
                "metrics": {m.metric: list(m.values) for m in t.metrics}}
    return Event(ev.cursor, _progress(ev.progress), state, message or None, field or None, tile)


def _make_bar(total, name):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=name, unit="pt")


def _surface_from(client, header, tiles):
    import numpy as np
    from google.protobuf.json_format import MessageToDict
    nx = len(header.x_coordinates)
    ny = len(header.y_coordinates) or 1
    n = nx * ny
    names = list(header.metric_names)
    values = {m: np.full(n, np.nan) for m in names}
    done = np.zeros(n, dtype=bool)
    for t in tiles:
        if t.begin < 0 or t.end > n or t.begin >= t.end:
            raise LandscapeError(f"the server sent tile {t.tile_index} outside the grid")
        for mv in t.metrics:
            if mv.metric not in values or len(mv.values) != t.end - t.begin:
                raise LandscapeError(f"the server sent malformed values of tile {t.tile_index}")
            values[mv.metric][t.begin:t.end] = mv.values
        done[t.begin:t.end] = True
    job = header.job
    attrs = dict(job.surface_attributes)
    attrs["job"] = job.name
    for k, v in job.spec.labels.items():
        attrs["label_" + k] = v
    directions = None
    if job.direction_artifact:
        try:
            directions = client.download(job.direction_artifact)
        except LandscapeError:
            directions = None  # expired: the values are still worth having
    spec = MessageToDict(job.spec, preserving_proto_field_name=True)
    return Surface(list(header.x_coordinates), list(header.y_coordinates) or None, names, values, done,
                   spec=spec, attributes=attrs,
                   dir_file="artifact:" + job.direction_artifact if job.direction_artifact else "",
                   directions=directions)
