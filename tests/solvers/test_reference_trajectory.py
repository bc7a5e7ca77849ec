"""SGD against real Caffe's trajectory and snapshots (tests/data/reference/solver-voc-fcn8s-narrow)."""
import os
import shutil

import h5py
import numpy as np
import pytest

from tests.conftest import REFERENCE
from tools.cli import main
from weights.caffemodel import read_weights

CASE = os.path.join(REFERENCE, "solver-voc-fcn8s-narrow")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A writable copy of the case, as the working directory (paths in it are relative)."""
    folder = tmp_path / "case"
    shutil.copytree(CASE, folder)
    for path in folder.iterdir():
        os.chmod(path, 0o644)
    monkeypatch.chdir(folder)
    return folder


def edit_solver(folder, **changes):
    lines = []
    for line in (folder / "solver.prototxt").read_text().splitlines():
        key = line.split(":")[0].strip()
        if key in changes:
            continue
        lines.append(line)
    lines += [f"{key}: {value}" for key, value in changes.items()]
    (folder / "solver.prototxt").write_text("\n".join(lines) + "\n")


def params_of(path):
    if path.endswith(".h5"):
        with h5py.File(path, "r") as f:
            return {(layer, int(i)): f["data"][layer][i][...] for layer in f["data"] for i in f["data"][layer]}
    return {(layer, i): array for layer, blobs in read_weights(path).items() for i, array in enumerate(blobs)}


def worst_error(ours, step):
    with h5py.File(os.path.join(CASE, "trajectory.h5"), "r") as f:
        reference = f[f"iter_{step}"]
        errors = [np.abs(ours[(layer, int(i))] - reference[layer][i][...]).max() / np.abs(reference[layer][i][...]).max()
                  for layer in reference for i in reference[layer]]
    assert len(errors) == 39
    return max(errors)


def test_every_step_matches_caffe(workdir):
    edit_solver(workdir, snapshot=1, snapshot_format="HDF5")
    assert main(["train", "--solver", "solver.prototxt", "--weights", "init.caffemodel"]) == 0
    for step in range(1, 7):
        assert worst_error(params_of(f"snap_iter_{step}.caffemodel.h5"), step) <= 1e-4, step
        assert os.path.exists(f"snap_iter_{step}.solverstate.h5")


@pytest.mark.parametrize("start", [2, 4])
def test_restoring_caffes_solverstate_continues_as_caffe(workdir, start):
    edit_solver(workdir, snapshot_prefix='"ours"')
    assert main(["train", "--solver", "solver.prototxt", "--snapshot", f"snap_iter_{start}.solverstate"]) == 0
    assert worst_error(params_of("ours_iter_6.caffemodel"), 6) <= 1e-4


@pytest.mark.parametrize("fmt", ["BINARYPROTO", "HDF5"])
def test_restoring_our_snapshot_equals_uninterrupted_run(workdir, fmt):
    edit_solver(workdir, snapshot=2, snapshot_format=fmt, snapshot_prefix='"run"')
    assert main(["train", "--solver", "solver.prototxt", "--weights", "init.caffemodel"]) == 0
    ext = ".h5" if fmt == "HDF5" else ""
    straight = params_of(f"run_iter_6.caffemodel{ext}")
    os.rename(f"run_iter_6.caffemodel{ext}", f"straight.caffemodel{ext}")
    assert main(["train", "--solver", "solver.prototxt", "--snapshot", f"run_iter_2.solverstate{ext}"]) == 0
    resumed = params_of(f"run_iter_6.caffemodel{ext}")
    for key, value in straight.items():
        np.testing.assert_array_equal(resumed[key], value)


def test_snapshot_latest_picks_newest(workdir, capsys):
    edit_solver(workdir, snapshot=2, max_iter=4, snapshot_prefix='"run"')
    assert main(["train", "--solver", "solver.prototxt", "--weights", "init.caffemodel"]) == 0
    edit_solver(workdir, max_iter=6)
    assert main(["train", "--solver", "solver.prototxt", "--snapshot", "latest"]) == 0
    assert "Restored run_iter_4.solverstate at iteration 4" in capsys.readouterr().out
    assert worst_error(params_of("run_iter_6.caffemodel"), 6) <= 1e-4
