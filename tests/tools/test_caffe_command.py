"""The `caffe` command as shell scripts written for build/tools/caffe call
it, and its log as Caffe's parsers read it."""
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime

import h5py
import numpy as np

from tests.conftest import REFERENCE
from weights.formats import load_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE = os.path.join(REFERENCE, "solver-voc-fcn8s-narrow")
GLOG = re.compile(r"^I(\d{4}) (\d\d:\d\d:\d\d\.\d{6}) \d+ \S+\] (.*)$")


def parse(log):
    """What tools/extra/parse_log.py takes from a log: every line in glog's
    form, a Solving line first, then train and test outputs by iteration."""
    lines = log.splitlines()
    assert lines and all(GLOG.match(line) for line in lines), [line for line in lines if not GLOG.match(line)][:3]
    messages = [GLOG.match(line).group(3) for line in lines]
    assert any(m.startswith("Solving ") for m in messages)
    for line in lines:
        stamp = GLOG.match(line)
        datetime.strptime(f"2026{stamp.group(1)} {stamp.group(2)}", "%Y%m%d %H:%M:%S.%f")
    iteration, train, test, rates = -1, [], [], []
    for m in messages:
        found = re.search(r"Iteration (\d+)", m)
        if found:
            iteration = int(found.group(1))
        if (found := re.search(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)", m)):
            rates.append((iteration, float(found.group(1))))
        if (found := re.search(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)", m)):
            train.append((iteration, found.group(2), float(found.group(3))))
        if (found := re.search(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)", m)):
            test.append((iteration, found.group(2), float(found.group(3))))
    return train, test, rates


def test_a_shell_script_trains_tests_and_times(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(CASE, case)
    solver = case / "solver.prototxt"
    solver.write_text(solver.read_text().replace("max_iter: 6", "max_iter: 4") + "test_iter: 1\ntest_interval: 2\n"
                      "test_net: \"train.prototxt\"\n")
    script = tmp_path / "run.sh"
    script.write_text(f"""set -e
cd {case}
caffe train -solver solver.prototxt -weights=init.caffemodel --gpu 0 2> train.log
caffe test --model=train.prototxt --weights snap_iter_4.caffemodel -iterations 2 2> test.log
caffe time -model train.prototxt -iterations=1 2> time.log
caffe device_query 2> query.log
""")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr + (case / "train.log").read_text()[-2000:] if (case / "train.log").exists() else ""
    train, test, rates = parse((case / "train.log").read_text())
    assert [i for i, name, _ in train] == [0, 1, 2, 3] and {name for _, name, _ in train} == {"loss"}
    assert [i for i, _, _ in test] == [0, 2, 4]
    assert [(i, rate) for i, rate in rates] == [(0, 1e-6), (1, 1e-6), (2, 5e-7), (3, 5e-7)]
    # The weights after 4 steps are real Caffe's (the shared SGD trajectory).
    with h5py.File(case / "trajectory.h5", "r") as f:
        ours = load_arrays(str(case / "snap_iter_4.caffemodel"))
        for layer, blobs in f["iter_4"].items():
            for i, caffe in blobs.items():
                np.testing.assert_allclose(ours[layer][int(i)], caffe[...], rtol=1e-5, atol=1e-7)
    messages = [GLOG.match(line).group(3) for line in (case / "train.log").read_text().splitlines()]
    assert any("runs on the CPU" in m for m in messages)
    assert "Snapshotting to binary proto file snap_iter_4.caffemodel" in messages
    test_lines = [GLOG.match(line).group(3) for line in (case / "test.log").read_text().splitlines()]
    assert [m.split(",")[0] for m in test_lines if m.startswith("Batch")] == ["Batch 0", "Batch 1"]
    assert any(m.startswith("Loss: ") for m in test_lines)
    time_lines = (case / "time.log").read_text()
    assert "Average Forward pass:" in time_lines and "Average Forward-Backward:" in time_lines
    assert "CPU" in (case / "query.log").read_text()


def test_bad_flags_are_one_line():
    done = subprocess.run([sys.executable, "-m", "tools.caffe_command", "train", "-solvr", "x"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "unknown command line flag 'solvr'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    usage = subprocess.run([sys.executable, "-m", "tools.caffe_command"], capture_output=True, text=True, cwd=ROOT)
    assert usage.returncode == 1 and "usage: caffe <command> <args>" in usage.stderr
