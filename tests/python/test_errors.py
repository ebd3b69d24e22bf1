"""Each exception of the package from a real failure: an unconvertible module, a bad grid, a wrong token,
no server, a failing job, an unknown job, `landscape local` refusing its input."""
import signal
import socket
import subprocess

import numpy as np
import pytest
import torch

import landscape
from conftest import SERVER, Proc, free_port, make_mlp, wait_for


class NumpyNet(torch.nn.Module):
    """forward goes through numpy (torch.jit.script cannot compile it) and returns an ndarray (torch.jit.trace
    cannot record it)."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(784, 10)

    def forward(self, x):
        return np.asarray(self.fc(x.flatten(1)).detach().numpy())


def test_unconvertible_module_names_both_reasons(client, fmnist):
    with pytest.raises(landscape.InvalidArgument) as e:
        client.submit(NumpyNet(), data=fmnist, x=(-1, 1, 3))
    msg = str(e.value)
    assert "torch.jit.script failed" in msg and "torch.jit.trace on one batch failed" in msg
    assert "torch.jit.save" in msg
    assert e.value.field == "model"


def test_bad_grid_is_invalid_argument_naming_the_field(client, fmnist):
    model = make_mlp(0)
    with pytest.raises(landscape.InvalidArgument) as e:
        client.submit(model, data=fmnist, x=(-1, 1, 0))
    assert e.value.field == "grid.x", str(e.value)
    with pytest.raises(landscape.InvalidArgument) as e:
        client.submit(model, data=fmnist, x=(-1, 1))
    assert e.value.field == "grid.x"
    with pytest.raises(landscape.InvalidArgument) as e:
        client.submit(model, data=fmnist, x=(-1, 1, 3), xnorm="sideways")
    assert e.value.field == "xnorm"
    with pytest.raises(landscape.InvalidArgument) as e:
        client.submit(model, data=fmnist, x=(-1, 1, 3), no_such_option=1)
    assert e.value.field == "no_such_option"


def test_wrong_token_is_unauthenticated(cluster, fmnist, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("right-token alice\n")
    port = free_port()
    server = Proc([SERVER, "--listen", f"127.0.0.1:{port}", "--redis", cluster.redis_url, "--tokens", str(tokens)],
                  str(tmp_path / "server.log"))
    try:
        wait_for(lambda: "listening on" in server.text(), 30, "the server with tokens")
        with pytest.raises(landscape.Unauthenticated) as e:
            landscape.connect(f"127.0.0.1:{port}", token="wrong-token").jobs()
        assert "token" in str(e.value)
        with pytest.raises(landscape.Unauthenticated):
            landscape.connect(f"127.0.0.1:{port}").jobs()
        assert landscape.connect(f"127.0.0.1:{port}", token="right-token").jobs() == []
    finally:
        server.stop()


def test_no_server_is_unavailable_with_the_address(fmnist):
    with socket.socket() as s:  # a port nobody listens on while it is held unlistened
        s.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{s.getsockname()[1]}"
        c = landscape.connect(addr, timeout=3)
        with pytest.raises(landscape.Unavailable) as e:
            c.submit(make_mlp(0), data=fmnist, x=(-1, 1, 3))
    assert e.value.address == addr and addr in str(e.value)
    assert "LANDSCAPE_SERVER" in str(e.value)


def test_failing_job_raises_job_failed(client, fmnist):
    images = torch.rand(40, 3, 8, 8)  # 192 features: the MLP takes 784
    labels = torch.randint(0, 10, (40,))
    job = client.submit(make_mlp(0), data=(images, labels), x=(-1, 1, 3))
    with pytest.raises(landscape.JobFailed) as e:
        job.wait(progress=False)
    assert e.value.job == job.name and e.value.error
    assert job.state == "FAILED"


def test_unknown_job_is_not_found(client):
    with pytest.raises(landscape.NotFound):
        client.job("jobs/does-not-exist")


def test_local_bad_input_is_invalid_argument(fmnist):
    with pytest.raises(landscape.InvalidArgument) as e:
        landscape.local(make_mlp(0), data=fmnist, x=(1, -1, 3))
    assert "--x" in str(e.value) and e.value.field == "x"


def test_load_refuses_a_non_surface(tmp_path):
    p = tmp_path / "x.h5"
    import h5py
    with h5py.File(p, "w") as f:
        f["a"] = 1
    with pytest.raises(landscape.InvalidArgument):
        landscape.load(p)
    with pytest.raises(landscape.InvalidArgument):
        landscape.load(tmp_path / "missing.h5")


def test_tls_with_the_servers_ca(cluster, tmp_path):
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    port = free_port()
    server = Proc([SERVER, "--listen", f"127.0.0.1:{port}", "--redis", cluster.redis_url, "--tls-cert", cert,
                   "--tls-key", key], str(tmp_path / "server.log"))
    try:
        wait_for(lambda: "listening on" in server.text(), 30, "the TLS server")
        assert isinstance(landscape.connect(f"localhost:{port}", tls=True, ca=cert).jobs(), list)
        with pytest.raises(landscape.Unavailable):  # plain text cannot talk to it
            landscape.connect(f"localhost:{port}", timeout=5).jobs()
        with pytest.raises(landscape.InvalidArgument) as e:
            landscape.connect(f"localhost:{port}", ca=str(tmp_path / "missing.pem"))
        assert e.value.field == "ca"
    finally:
        server.stop()


def test_wait_timeout_is_deadline_exceeded(client, cluster, fmnist):
    job = client.submit(make_mlp(0), data=fmnist, x=(-1, 1, 15), y=(-1, 1, 15), tile_size=1, max_samples=300)
    for w in cluster.workers:  # nothing runs: the wait must time out
        w.p.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(landscape.DeadlineExceeded):
            job.wait(progress=False, timeout=1.0)
    finally:
        for w in cluster.workers:
            w.p.send_signal(signal.SIGCONT)
    job.cancel()
