"""One oracle case: runs `landscape local` on the fixtures, then checks its
surface with oracle.py (an independent computation) and its files with h5py.

Usage: oracle_case.py LANDSCAPE_BINARY FIXTURE_DIR WORK_DIR CASE
"""
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (landscape flags, oracle dir-type, oracle loss[, extra oracle flags])
CASES = {
    "weights_ce_2d_nonsquare": (["--dir-type", "weights", "--x", "-1:1:5", "--y", "-0.5:1:3"], "weights", "crossentropy"),
    "states_ce_1d": (["--dir-type", "states", "--x", "-1:1:7", "--xignore", "none", "--xnorm", "layer"], "states", "crossentropy"),
    "weights_mse_1d": (["--dir-type", "weights", "--loss", "mse", "--x", "-0.5:1.5:6"], "weights", "mse"),
    "states_mse_2d_nonsquare": (["--dir-type", "states", "--loss", "mse", "--x", "0:1:3", "--y", "-1:1:4",
                                 "--ynorm", "weight", "--yignore", "none"], "states", "mse"),
    "target_states_1d": (["--dir-type", "states", "--model2", "{fx}/model2.pt", "--x", "-0.5:1.5:5"], "states", "crossentropy"),
    "target_weights_2d_model3": (["--dir-type", "weights", "--model2", "{fx}/model2.pt", "--model3", "{fx}/arch.pt",
                                  "--x", "0:1:3", "--y", "0:1:3"], "weights", "crossentropy"),
    "state_dict_on_arch": (["--model", "{fx}/checkpoint.t7", "--arch", "{fx}/arch.pt", "--x", "-1:1:3", "--y", "-1:1:3"],
                           "weights", "crossentropy"),
    "reference_dir_file": (["--dir-file", "{work}/reference_dirs.h5", "--dir-type", "states", "--x", "-1:1:3",
                            "--y", "-1:1:4"], "states", "crossentropy"),
    "dfilter_dlayer_2d": (["--xnorm", "dfilter", "--ynorm", "dlayer", "--x", "-2:2:3", "--y", "-2:2:3"], "weights",
                          "crossentropy"),
    "same_dir_2d": (["--same-dir", "--x", "-1:1:3", "--y", "-1:1:3"], "weights", "crossentropy"),
    # The first layer (conv1, then BatchNorm) computed once for the centre and each direction.
    "first_layer_cached_2d": (["--first-layer", "on", "--x", "-1:1:3", "--y", "-0.5:0.5:4"], "weights",
                              "crossentropy"),
    "first_layer_cached_states_1d": (["--first-layer", "on", "--dir-type", "states", "--xignore", "none",
                                      "--x", "-1:1:5"], "states", "crossentropy"),
    # A point's batches split over two single-threaded lanes (and both splits).
    "lanes_2d": (["--threads", "2", "--data-parallel", "on", "--x", "-1:1:3", "--y", "-1:1:3"], "weights",
                 "crossentropy"),
    "lanes_first_layer_split_both": (["--threads", "2", "--data-parallel", "on", "--first-layer", "on",
                                      "--data", "{fx}/splits.pt", "--split", "both", "--x", "-1:1:4"], "weights",
                                     "crossentropy"),
    # The batch size and the way points run (lanes or not) chosen by measurement.
    "auto_batch_2d": (["--threads", "2", "--auto-batch", "--x", "-1:1:3", "--y", "-1:1:3"], "weights",
                      "crossentropy"),
    # NHWC activations (and channels-last weights in the reduced-precision copy): float32 as exact as NCHW;
    # bfloat16 against the float32 oracle within its rounding (8 mantissa bits: ~0.4 % per operation).
    "channels_last_2d": (["--channels-last", "--first-layer", "off", "--x", "-1:1:3", "--y", "-1:1:3"], "weights", "crossentropy"),
    "bf16_channels_last_2d": (["--precision", "bf16", "--channels-last", "--threads", "2", "--x", "-1:1:3",
                               "--y", "-1:1:3"], "weights", "crossentropy", ["--rtol", "2e-2", "--acc-atol", "2"]),
    "bf16_1d": (["--precision", "bf16", "--x", "-1:1:4"], "weights", "crossentropy",
                ["--rtol", "2e-2", "--acc-atol", "2"]),
    # The engine's own oneDNN primitives: the first convolution with its ReLU fused, the rest in LibTorch.
    "onednn_2d": (["--onednn", "on", "--threads", "2", "--x", "-1:1:3", "--y", "-1:1:3"], "weights",
                  "crossentropy"),
    # One frozen graph for every point, its constants fitted as quadratics in (alpha, beta) (BatchNorm
    # folded): on a CPU without CUDA graphs. 2-D with the BatchNorm weights moving (quadratic constants),
    # and bf16 channels-last.
    "fitted_2d": (["--cuda-graphs", "on", "--xignore", "none", "--yignore", "none", "--x", "-1:1:3",
                   "--y", "-1:1:3"], "weights", "crossentropy"),
    "fitted_bf16_channels_last_1d": (["--cuda-graphs", "on", "--precision", "bf16", "--channels-last",
                                      "--x", "-1:1:4"], "weights", "crossentropy",
                                     ["--rtol", "2e-2", "--acc-atol", "2"]),
    # --split both: the oracle checks the test split against a file holding only it.
    "split_both": (["--data", "{fx}/splits.pt", "--split", "both", "--x", "-1:1:4"], "weights", "crossentropy"),
}


def write_reference_direction_file(path, fixture_dir):
    """A direction file written the way the reference does it: h5py datasets
    "0".."K-1" in state_dict order, float32 (torch.randn), filter-normalized."""
    import torch
    net = torch.jit.load(os.path.join(fixture_dir, "model.pt"))
    g = torch.Generator().manual_seed(123)
    with h5py.File(path, "w") as f:
        for axis in ("xdirection", "ydirection"):
            grp = f.create_group(axis)
            for i, (k, w) in enumerate(net.state_dict().items()):
                d = torch.randn(w.size(), generator=g)
                if d.dim() <= 1:
                    d.fill_(0)
                else:
                    for df, wf in zip(d, w):
                        df.mul_(wf.norm() / (df.norm() + 1e-10))
                grp.create_dataset(str(i), data=d.numpy())


def check_direction_file(path, expect_count):
    with h5py.File(path, "r") as f:
        assert "xdirection" in f, "no xdirection group"
        keys = sorted(f["xdirection"].keys(), key=int)
        assert keys == [str(i) for i in range(len(keys))], keys
        assert len(keys) == expect_count, (len(keys), expect_count)
        for k in keys:
            assert f["xdirection"][k].dtype in (np.float32, np.int64), f["xdirection"][k].dtype


def main():
    binary, fx, work, case = sys.argv[1:5]
    flags, dir_type, loss = CASES[case][:3]
    oracle_flags = CASES[case][3] if len(CASES[case]) > 3 else []
    os.makedirs(work, exist_ok=True)
    if case == "reference_dir_file":
        write_reference_direction_file(os.path.join(work, "reference_dirs.h5"), fx)
    flags = [f.format(fx=fx, work=work) for f in flags]
    surface = os.path.join(work, case + ".h5")
    dirs = os.path.join(work, case + ".dirs.h5")
    data = os.path.join(fx, "data.pt")
    if "--data" in flags:
        i = flags.index("--data")
        data = flags[i + 1]
        del flags[i:i + 2]
    cmd = [binary, "local", "--model", os.path.join(fx, "model.pt"), "--data", data,
           "--batch-size", "32", "--threads", "1", "--progress", "quiet", "--overwrite",
           "--out", surface, "--dir-out", dirs] + flags
    if "--threads" in flags:
        i = cmd.index("--threads")
        del cmd[i:i + 2]
    # A later --model overrides the first (state_dict_on_arch).
    if "--model" in flags:
        i = cmd.index("--model")
        del cmd[i:i + 2]
    print(" ".join(cmd), flush=True)
    r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        print(f"landscape exited with {r.returncode}")
        return 1
    if "--first-layer" in flags and flags[flags.index("--first-layer") + 1] == "on" and \
            "after its cached first layer" not in r.stderr:
        print("the first layer was not cached")
        return 1
    if "--data-parallel" in flags and "single-threaded lanes" not in r.stderr:
        print("the batches were not split over lanes")
        return 1
    if "--onednn" in flags and "own oneDNN primitives" not in r.stderr:
        print("the points were not evaluated on the engine's oneDNN primitives")
        return 1
    if "--precision" in flags and ", bf16," not in r.stderr:
        print("the points were not evaluated in bf16")
        return 1
    used_dirs = dirs if "--dir-file" not in flags else flags[flags.index("--dir-file") + 1]
    import torch
    net = torch.jit.load(os.path.join(fx, "model.pt"))
    count = len(list(net.parameters())) if dir_type == "weights" else len(net.state_dict())
    check_direction_file(used_dirs, count)
    with h5py.File(surface, "r") as s:
        assert s["dir_file"][()].decode() == used_dirs, s["dir_file"][()]
        if "--same-dir" in flags:
            with h5py.File(used_dirs, "r") as d:
                for k in d["xdirection"]:
                    assert np.array_equal(np.array(d["xdirection"][k]), np.array(d["ydirection"][k])), k
    if "--split" in flags:
        # The test metrics, checked on a copy of the surface that holds them under the train names.
        test_surface = os.path.join(work, case + ".test.h5")
        with h5py.File(surface, "r") as s, h5py.File(test_surface, "w") as t:
            for k in ("xcoordinates", "dir_file"):
                t[k] = s[k][()]
            t["train_loss"] = np.array(s["test_loss"])
            t["train_acc"] = np.array(s["test_acc"])
        r = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "--model", os.path.join(fx, "model.pt"),
                            "--data", os.path.join(fx, "test_only.pt"), "--dirs", used_dirs, "--surface",
                            test_surface, "--dir-type", dir_type, "--loss", loss, "--batch-size", "32"] + oracle_flags)
        if r.returncode != 0:
            return r.returncode
        data = os.path.join(fx, "data.pt")  # the train split of splits.pt is data.pt's
    r = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "--model", os.path.join(fx, "model.pt"),
                        "--data", data, "--dirs", used_dirs, "--surface", surface,
                        "--dir-type", dir_type, "--loss", loss, "--batch-size", "32"] + oracle_flags)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
