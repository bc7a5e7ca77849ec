"""Caffe's MNIST example as a Caffe user runs it, from Caffe's root: the
data (scikit-learn's real handwritten digits in MNIST's idx format, through
convert_mnist_data), `caffe train --solver=examples/mnist/lenet_solver.prototxt`,
then `caffe test` and `caffe time` on what it learned."""
import os
import re
import subprocess
import sys

from netspec import caffe_pb2, read_net, read_solver
from tests.tools.test_caffe_command import parse

BIN = os.path.dirname(sys.executable)


def run(*args, cwd):
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd,
                          timeout=900)


def test_lenet_trains_on_real_digits_with_caffes_commands(tmp_path):
    done = run("fcn", "examples", "--out", str(tmp_path), "--digits", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    net = read_net(str(tmp_path / "examples/mnist/lenet_train_test.prototxt"))
    assert [l.name for l in net.layer] == ["mnist", "mnist", "conv1", "pool1", "conv2", "pool2", "ip1", "relu1",
                                           "ip2", "accuracy", "loss"]
    solver = read_solver(str(tmp_path / "examples/mnist/lenet_solver.prototxt"))
    assert (round(solver.base_lr, 6), solver.lr_policy, solver.max_iter, solver.test_interval) == \
        (0.01, "inv", 10000, 500) and solver.solver_mode == caffe_pb2.SolverParameter.GPU
    # The example's own command (train_lenet.sh's), cut short to 400 of its 10,000 iterations.
    train = run("caffe", "train", "--solver=examples/mnist/lenet_solver.prototxt", "-iterations", "400", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-2000:]
    _, tests, _ = parse(train.stderr)
    assert tests and tests[0][:2] == (0, "accuracy") and tests[0][2] < 0.3     # chance before training
    losses = [float(m) for m in re.findall(r"Iteration \d+ \(.*\), loss = ([\d.e+-]+)", train.stderr)]
    assert len(losses) == 4 and losses[-1] < 0.5
    assert (tmp_path / "examples/mnist/lenet_iter_400.caffemodel").exists()
    test = run("caffe", "test", "-model", "examples/mnist/lenet_train_test.prototxt", "-weights",
               "examples/mnist/lenet_iter_400.caffemodel", "-iterations", "3", cwd=tmp_path)
    accuracy = float(re.search(r"\] accuracy = ([\d.]+)", test.stderr).group(1))
    assert test.returncode == 0 and accuracy > 0.85, test.stderr[-1000:]     # 297 digits never trained on
    timed = run("caffe", "time", "-model", "examples/mnist/lenet_train_test.prototxt", "-iterations", "2",
                cwd=tmp_path)
    assert timed.returncode == 0 and "Average Forward-Backward" in timed.stderr
