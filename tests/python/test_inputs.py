"""Model and data inputs through landscape.local (the same handling as submit): state dicts with arch= as a
module or a built-in name, numpy arrays, and the errors of inputs that cannot work."""
import os
import subprocess

import numpy as np
import pytest
import torch

import landscape
from conftest import CLI, make_mlp

# The evaluation path pinned (no choice by measured speed): the same inputs give bit-identical surfaces.
PINNED = ["--first-layer=off", "--data-parallel=off", "--onednn=off", "--no-optimize"]
LINE = dict(x=(-1, 1, 3), max_samples=100, threads=1, extra_args=PINNED)


def test_state_dict_needs_arch(client, fmnist):
    with pytest.raises(landscape.InvalidArgument) as e:
        client.submit(make_mlp(0).state_dict(), data=fmnist, x=(-1, 1, 3))
    assert e.value.field == "arch"


def test_state_dict_with_module_arch_equals_the_module(fmnist):
    m = make_mlp(3)
    arch = make_mlp(4)  # other weights: the state dict's replace them
    a = landscape.local(m.state_dict(), data=fmnist, arch=arch, **LINE)
    b = landscape.local(m, data=fmnist, **LINE)
    np.testing.assert_array_equal(a["train_loss"], b["train_loss"])


def test_state_dict_with_builtin_arch_equals_its_torchscript(tmp_path):
    ts = str(tmp_path / "cnn.pt")
    subprocess.run([CLI, "export-arch", "--arch", "cnn", "--seed", "5", "--out", ts], check=True,
                   capture_output=True)
    sd = dict(torch.jit.load(ts).state_dict())
    a = landscape.local(sd, data="fashion-mnist", arch="cnn", **LINE)
    b = landscape.local(ts, data="fashion-mnist", **LINE)
    np.testing.assert_array_equal(a["train_loss"], b["train_loss"])


def test_numpy_arrays_equal_tensors(fmnist):
    m = make_mlp(5)
    a = landscape.local(m, data=(fmnist[0].numpy(), fmnist[1].numpy()), **LINE)
    b = landscape.local(m, data=fmnist, **LINE)
    np.testing.assert_array_equal(a["train_loss"], b["train_loss"])
    assert a.y is None and a["train_loss"].shape == (3,)


def test_inputs_that_cannot_work(fmnist, tmp_path):
    with pytest.raises(landscape.InvalidArgument) as e:
        landscape.local(make_mlp(0), data=str(tmp_path / "missing.pt"), x=(-1, 1, 3))
    assert e.value.field == "data"
    with pytest.raises(landscape.InvalidArgument) as e:
        landscape.local(42, data=fmnist, x=(-1, 1, 3))
    assert e.value.field == "model"
    with pytest.raises(landscape.InvalidArgument) as e:
        landscape.local(make_mlp(0), data=(fmnist[0][:10], fmnist[1][:9]), x=(-1, 1, 3))
    assert e.value.field == "data"
