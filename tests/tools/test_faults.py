"""Crashes, kill -9 and full disks while writing snapshots: the previous
snapshot survives and `fcn train --snapshot latest` resumes from it."""
import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

from core.net import Net
from netspec import read_net
from solvers.snapshot import read_state
from weights.caffemodel import copy_weights

NET = """layer {{ name: "d" type: "HDF5Data" top: "x" top: "y" hdf5_data_param {{ source: "{list}" batch_size: 4 }} }}
layer {{ name: "ip" type: "InnerProduct" bottom: "x" top: "p"
        inner_product_param {{ num_output: 1 weight_filler {{ type: "gaussian" std: 0.1 }} }} }}
layer {{ name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }}
"""
SOLVER = """net: "net.prototxt"
base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: 6 snapshot: 2 snapshot_prefix: "snap/s"
display: 1 random_seed: 3 {extra}
"""


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"] = rng.standard_normal((8, 3)).astype(np.float32)
        f["y"] = rng.standard_normal((8, 1)).astype(np.float32)
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'd.h5'}\n")
    (tmp_path / "net.prototxt").write_text(NET.format(list=tmp_path / "list.txt"))
    (tmp_path / "solver.prototxt").write_text(SOLVER.format(extra=""))
    return tmp_path


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def train(folder, *args, fault=None):
    """fcn train, with a fault (tests/tools/faulty_fcn.py) if given."""
    command = ["-m", "tests.tools.faulty_fcn", fault] if fault else ["-m", "tools.cli"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *command, "train", "--solver", "solver.prototxt", *args],
                          capture_output=True, text=True, cwd=folder, env=env)


def loads(folder, iteration):
    state = folder / "snap" / f"s_iter_{iteration}.solverstate"
    assert read_state(str(state))[0] == iteration
    net = Net(read_net(str(folder / "net.prototxt")), "TEST", source="net")
    copy_weights(net, str(folder / "snap" / f"s_iter_{iteration}.caffemodel"))
    return net.params["ip"][0].data.copy()


@pytest.mark.parametrize("victim", ["s_iter_4.caffemodel", "s_iter_4.solverstate"])
def test_kill_during_snapshot_then_resume_from_latest(folder, victim):
    killed = train(folder, fault=f"kill:{victim}")
    assert killed.returncode == -signal.SIGKILL
    written = sorted(os.listdir(folder / "snap"))
    assert "s_iter_2.caffemodel" in written and "s_iter_2.solverstate" in written
    assert "s_iter_4.solverstate" not in written
    loads(folder, 2)
    resumed = train(folder, "--snapshot", "latest")
    assert resumed.returncode == 0, resumed.stderr
    assert "s_iter_2.solverstate at iteration 2" in resumed.stdout
    assert loads(folder, 6).shape == (1, 3)
    uninterrupted = folder / "again"
    uninterrupted.mkdir()
    for name in ("net.prototxt", "solver.prototxt"):
        (uninterrupted / name).write_text((folder / name).read_text())
    assert train(uninterrupted).returncode == 0
    np.testing.assert_allclose(loads(uninterrupted, 6), loads(folder, 6), rtol=1e-5)


def test_full_disk_is_one_clear_error_and_keeps_the_previous_snapshot(folder):
    result = train(folder, fault="enospc:s_iter_4.caffemodel")
    assert result.returncode == 2
    assert "s_iter_4.caffemodel: cannot write (No space left on device)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not [name for name in os.listdir(folder / "snap") if name.startswith(".tmp-")]
    loads(folder, 2)
