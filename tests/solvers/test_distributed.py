"""Data-parallel training and scoring over MPI: `mpirun -n 2 fcn train`
against one process with twice the iter_size, `fcn score` on 2 ranks
against one, and a rank killed mid-run. Runs where `make install-mpi` has
put mpi4py and mpirun in the environment (CI does); skipped, saying so,
elsewhere."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import REFERENCE
from weights.formats import load_arrays

BIN = os.path.dirname(sys.executable)
MPIRUN = os.path.join(BIN, "mpirun")
try:
    import mpi4py  # noqa: F401
    HAVE_MPI = os.path.exists(MPIRUN)
except ImportError:
    HAVE_MPI = False
pytestmark = pytest.mark.skipif(not HAVE_MPI, reason="MPI is not installed here (make install-mpi)")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
FCN = os.path.join(BIN, "fcn")


def mpirun(ranks, *args, cwd, **kwargs):
    return subprocess.run([MPIRUN, "-n", str(ranks), "--oversubscribe", FCN, *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=600, **kwargs)


def case(tmp_path, name, iter_size, max_iter=4, snapshot=0):
    folder = tmp_path / name
    shutil.copytree(os.path.join(REFERENCE, "solver-voc-fcn8s-narrow"), folder)
    for old in folder.glob("snap_iter_*"):
        old.unlink()
    text = (folder / "solver.prototxt").read_text()
    text = text.replace("iter_size: 2", f"iter_size: {iter_size}").replace("max_iter: 6", f"max_iter: {max_iter}")
    (folder / "solver.prototxt").write_text(text.replace("snapshot: 2", f"snapshot: {snapshot}"))
    return folder


def test_two_ranks_equal_one_process_with_twice_the_iter_size(tmp_path):
    one, two = case(tmp_path, "one", 2), case(tmp_path, "two", 1)
    done = subprocess.run([FCN, "train", "--solver", "solver.prototxt", "--weights", "init.caffemodel"],
                          capture_output=True, text=True, cwd=one)
    assert done.returncode == 0, done.stderr
    done = mpirun(2, "train", "--solver", "solver.prototxt", "--weights", "init.caffemodel", cwd=two)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.count("Optimization Done.") == 1          # rank 0 alone speaks
    a, b = load_arrays(str(one / "snap_iter_4.caffemodel")), load_arrays(str(two / "snap_iter_4.caffemodel"))
    start = load_arrays(str(one / "init.caffemodel"))
    for layer in a:
        for x, y, s in zip(a[layer], b[layer], start[layer]):
            scale = np.abs(x).max()
            assert np.abs(x - y).max() <= 1e-4 * scale, layer
            assert np.abs(x - s).max() > 100 * np.abs(x - y).max() or np.abs(x - s).max() == 0, layer


def test_two_rank_score_prints_the_one_process_metrics(tmp_path):
    from core.net import Net
    from netspec import fcn_models
    from netspec.prototxt import write_text
    from tools.recipe import at_data_root
    from tools.synthetic import write_dataset
    from weights.caffemodel import save_weights
    write_dataset(str(tmp_path / "data"), train=2, val=5, size=(36, 44))
    net = at_data_root(fcn_models.net("voc-fcn8s", "val", fcn_models.NARROW_WIDTHS), str(tmp_path / "data"))
    write_text(str(tmp_path / "val.prototxt"), net)
    weights = Net(net, "TEST")
    rng = np.random.default_rng(0)
    for blobs in weights.params.values():
        for blob in blobs:
            blob.data[...] = rng.standard_normal(blob.shape) * 0.1
    save_weights(weights, str(tmp_path / "w.caffemodel"))
    args = ["score", "--model", "val.prototxt", "--weights", "w.caffemodel"]
    one = subprocess.run([FCN, *args], capture_output=True, text=True, cwd=tmp_path)
    two = mpirun(2, *args, cwd=tmp_path)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-2000:]

    def figures(out):
        return [line.split("Iteration 0 ")[-1] if ">>>" in line else line for line in out.splitlines()
                if ">>>" in line or line.startswith("class")]
    assert figures(two.stdout) == figures(one.stdout) and len(figures(one.stdout)) == 5 + 21


def test_a_killed_rank_ends_the_job_and_leaves_a_snapshot(tmp_path):
    folder = case(tmp_path, "killed", 1, max_iter=100000, snapshot=1)
    job = subprocess.Popen([MPIRUN, "-n", "2", "--oversubscribe", FCN, "train", "--solver", "solver.prototxt",
                            "--weights", "init.caffemodel"], cwd=folder, env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (folder / "snap_iter_2.solverstate").exists() and time.time() < deadline:
        time.sleep(0.2)
    ranks = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
             if _cmdline(pid).endswith("train --solver solver.prototxt --weights init.caffemodel")
             and _parent(pid) == job.pid]
    assert len(ranks) == 2, ranks
    killed = time.time()
    os.kill(ranks[-1], signal.SIGKILL)
    out, err = job.communicate(timeout=60)
    assert time.time() - killed < 30 and job.returncode != 0
    assert "signal 9" in err or "Killed" in err or "exited" in err, err[-1000:]
    states = sorted(folder.glob("snap_iter_*.solverstate"), key=lambda p: int(p.name.split("_")[2].split(".")[0]))
    from solvers.snapshot import read_state
    iteration, learned, _, _ = read_state(str(states[-1]))
    assert iteration >= 2 and load_arrays(str(folder / os.path.basename(learned)))


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def test_two_rank_test_gives_the_one_process_means(tmp_path):
    folder = case(tmp_path, "test", 1)
    args = ["test", "--model", "train.prototxt", "--weights", "init.caffemodel", "--iterations", "4"]
    one = subprocess.run([FCN, *args], capture_output=True, text=True, cwd=folder)
    two = mpirun(2, *args, cwd=folder)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-2000:]
    def means(out):
        """The 'Loss: x' and 'name = x (...)' lines' figures."""
        import re
        return [float(re.search(r"(?:Loss:|=) ([-+.\deE]+)", line).group(1))
                for line in out.splitlines() if not line.startswith("Batch")]
    ones, twos = means(one.stdout), means(two.stdout)
    assert len(ones) == len(twos) == 2
    for x, y in zip(ones, twos):
        assert abs(x - y) <= 1e-5 * abs(x), (ones, twos)


def test_the_release_data_layers_deal_their_sequence(tmp_path):
    """voc-fcn8s (narrowed) on the release's SBDD data layer, its seeded
    random order dealt between 2 ranks: the weights after 3 steps equal one
    process's with twice the iter_size."""
    from core.net import Net
    from netspec import fcn_models
    from netspec.prototxt import write_text
    from tools.recipe import at_data_root
    from tools.synthetic import write_dataset
    from weights.caffemodel import save_weights
    write_dataset(str(tmp_path / "data"), train=6, val=2, size=(36, 44))
    train = at_data_root(fcn_models.net("voc-fcn8s", "train", fcn_models.NARROW_WIDTHS), str(tmp_path / "data"))
    for layer in train.layer:
        if layer.type == "Convolution":
            layer.convolution_param.weight_filler.type = "msra"
        elif layer.type == "Dropout":          # its masks are each rank's own draws
            layer.dropout_param.dropout_ratio = 0
    start = Net(train, "TRAIN")
    from weights.surgery import interp
    interp(start, [name for name in start.params if "up" in name])      # as solve.py does
    save_weights(start, str(tmp_path / "init.caffemodel"))
    runs = {}
    for name, iter_size, ranks in (("one", 2, 1), ("two", 1, 2)):
        folder = tmp_path / name
        folder.mkdir()
        write_text(str(folder / "train.prototxt"), train)
        (folder / "solver.prototxt").write_text(
            f'train_net: "train.prototxt" type: "SGD" base_lr: 1e-8 momentum: 0.9 '
            f'lr_policy: "fixed" iter_size: {iter_size} max_iter: 3 display: 1 snapshot_prefix: "s"')
        args = ["train", "--solver", "solver.prototxt", "--weights", str(tmp_path / "init.caffemodel")]
        done = subprocess.run([FCN, *args], capture_output=True, text=True, cwd=folder) if ranks == 1 else \
            mpirun(ranks, *args, cwd=folder)
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        runs[name] = load_arrays(str(folder / "s_iter_3.caffemodel"))
    initial = load_arrays(str(tmp_path / "init.caffemodel"))
    moved = 0
    for layer, blobs in runs["one"].items():
        for x, y, s in zip(blobs, runs["two"][layer], initial[layer]):
            if not np.abs(x - s).any():
                continue                                     # frozen (the bilinear upsampling)
            moved += 1
            assert np.abs(x - y).max() <= 1e-4 * np.abs(x).max(), layer
            assert np.abs(x - s).max() > 10 * np.abs(x - y).max(), layer
    assert moved >= 15        # every layer that learns


def test_sigterm_to_the_job_ends_every_rank_with_one_snapshot(tmp_path):
    """mpirun forwards SIGTERM to the ranks; they finish the step under way
    together, rank 0 writes one snapshot, and the job ends."""
    folder = case(tmp_path, "term", 1, max_iter=100000, snapshot=0)
    job = subprocess.Popen([MPIRUN, "-n", "2", "--oversubscribe", FCN, "train", "--solver", "solver.prototxt",
                            "--weights", "init.caffemodel"], cwd=folder, env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = job.stdout.readline()
        if "Iteration 3 " in line:
            break
    job.send_signal(signal.SIGTERM)
    job.communicate(timeout=60)
    states = list(folder.glob("snap_iter_*.solverstate"))
    assert len(states) == 1, states
    from solvers.snapshot import read_state
    iteration, learned, _, _ = read_state(str(states[0]))
    assert iteration >= 3 and load_arrays(str(folder / os.path.basename(learned)))
