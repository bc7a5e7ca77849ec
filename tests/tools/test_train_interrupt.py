"""Ctrl-C during `fcn train`: the step under way finishes, a snapshot is written, exit 0."""
import os
import shutil
import signal
import subprocess
import sys
import time

from tests.conftest import REFERENCE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ctrl_c_writes_a_snapshot_that_resumes(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(os.path.join(REFERENCE, "solver-voc-fcn8s-narrow"), case)
    solver = case / "solver.prototxt"
    text = solver.read_text().replace("max_iter: 6", "max_iter: 1000").replace("snapshot: 2", "snapshot: 0")
    solver.write_text(text.replace('snapshot_prefix: "snap"', 'snapshot_prefix: "run"'))
    env = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.Popen([sys.executable, "-m", "tools.cli", "train", "--solver", "solver.prototxt",
                                "--weights", "init.caffemodel"], cwd=case, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    line = ""
    while "Iteration 1 " not in line and time.time() < deadline:
        line = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "interrupted: snapshot written" in out and "Traceback" not in err
    states = sorted(p for p in os.listdir(case) if p.startswith("run_iter_") and p.endswith(".solverstate"))
    assert len(states) == 1
    resumed = subprocess.run([sys.executable, "-m", "tools.cli", "train", "--solver", "solver.prototxt",
                              "--snapshot", "latest", "--iterations", "1"], cwd=case, env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0 and f"Restored {states[0]}" in resumed.stdout


def test_iterations_end_with_a_snapshot_equal_to_caffes(tmp_path):
    """`fcn train --iterations 2` with periodic snapshots off leaves the
    final state (snapshot_after_train, Caffe's default), and its weights
    are real Caffe's after 2 steps."""
    import h5py
    import numpy as np

    from weights.formats import load_arrays
    case = tmp_path / "case"
    shutil.copytree(os.path.join(REFERENCE, "solver-voc-fcn8s-narrow"), case)
    solver = case / "solver.prototxt"
    solver.write_text(solver.read_text().replace("snapshot: 2", "snapshot: 0").replace('"snap"', '"run"'))
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-m", "tools.cli", "train", "--solver", "solver.prototxt",
                             "--weights", "init.caffemodel", "--iterations", "2"], cwd=case, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (case / "run_iter_2.caffemodel").exists() and (case / "run_iter_2.solverstate").exists()
    ours = load_arrays(str(case / "run_iter_2.caffemodel"))
    with h5py.File(case / "trajectory.h5", "r") as f:
        for layer, blobs in f["iter_2"].items():
            for i, caffe in blobs.items():
                np.testing.assert_allclose(ours[layer][int(i)], caffe[...], rtol=1e-5, atol=1e-7)
