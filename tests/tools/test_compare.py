import json
import os
import subprocess
import sys

from tests.conftest import REFERENCE

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-train")


def fcn(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True)


def test_compare_backward_writes_json(tmp_path):
    out = tmp_path / "r.json"
    result = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--reference", f"{CASE}/blobs.h5", "--phase", "TRAIN", "--backward", "--layerwise",
                 "--json", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "0 failed" in result.stdout.splitlines()[-1]
    report = json.loads(out.read_text())
    assert set(report) == {"data", "diff", "param_diff"}
    entry = report["param_diff"]["conv1_1/0"]
    assert entry["ok"] and entry["shape"] == [4, 3, 3, 3] and entry["rel_err"] <= 1e-3


def test_compare_fails_with_exit_1_on_wrong_weights():
    other = os.path.join(REFERENCE, "solver-voc-fcn8s-narrow", "snap_iter_6.caffemodel")
    result = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", other,
                 "--reference", f"{CASE}/blobs.h5", "--phase", "TRAIN")
    assert result.returncode == 1
    assert "FAIL" in result.stdout


def test_compare_bad_reference_is_one_line(tmp_path):
    bogus = tmp_path / "blobs.h5"
    bogus.write_bytes(b"not hdf5")
    result = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--reference", str(bogus))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(bogus) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_shapes_cli_json(tmp_path):
    out = tmp_path / "s.json"
    result = fcn("shapes", "--model", "voc-fcn32s", "--size", "100x120", "--json", str(out))
    assert result.returncode == 0
    shapes = json.loads(out.read_text())
    assert shapes["score"] == [1, 21, 100, 120] and shapes["data"] == [1, 3, 100, 120]


def test_shapes_of_tiny_input_and_bad_input_spec():
    result = fcn("shapes", "--model", "voc-fcn32s", "--input", "data=1,3,1,1", "--input", "label=1,1,1,1")
    assert result.returncode == 0  # pad 100 keeps even a 1x1 image valid, as in Caffe
    assert any(line.split()[0] == "score" and line.endswith("1 x 21 x 1 x 1") for line in result.stdout.splitlines())
    bad = fcn("shapes", "--model", "voc-fcn32s", "--input", "data=1,3,0,5")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "positive" in bad.stderr


def test_bad_net_errors_are_one_line(tmp_path):
    cases = {
        "unknown.prototxt": ('layer { name: "a" type: "Input" top: "x" input_param { shape { dim: 1 } } } '
                             'layer { name: "b" type: "Frobnicate" bottom: "x" top: "y" }', "unknown type 'Frobnicate'"),
        "dangling.prototxt": ('layer { name: "b" type: "ReLU" bottom: "nowhere" top: "y" }', "'nowhere'"),
        "syntax.prototxt": ('layer { name: "b" type: ReLU }', "syntax.prototxt:1:"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = fcn("shapes", "--model", str(path))
        assert result.returncode == 2, name
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


SLASHED = """force_backward: true
layer { name: "data" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 1 dim: 3 dim: 9 dim: 9 } shape { dim: 1 dim: 1 dim: 9 dim: 9 } } }
layer { name: "conv1/7x7_s2" type: "Convolution" bottom: "data" top: "conv1/7x7_s2"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "conv1/relu_7x7" type: "ReLU" bottom: "conv1/7x7_s2" top: "conv1/7x7_s2" }
layer { name: "inception_3a/1x1" type: "Convolution" bottom: "conv1/7x7_s2" top: "inception_3a/output"
        convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "inception_3a/output" bottom: "label" top: "loss" }
"""


def test_names_with_slashes_in_every_hdf5_layout_and_npz(tmp_path):
    """GoogLeNet's names ('conv1/7x7_s2') as HDF5 nested groups: weights
    saved and loaded back bit for bit (.caffemodel.h5, .npz), and a
    reference compared in every section, nothing skipped."""
    import h5py
    import numpy as np

    from core.net import Net
    from netspec import caffe_pb2, parse_text
    from weights.caffemodel import copy_weights, save_weights
    from weights.formats import load_arrays
    net_path = tmp_path / "net.prototxt"
    net_path.write_text(SLASHED)
    net = Net(parse_text(SLASHED, caffe_pb2.NetParameter()), "TRAIN", keep_blobs=True)
    save_weights(net, str(tmp_path / "w.caffemodel.h5"))
    with h5py.File(tmp_path / "w.caffemodel.h5", "r") as f:
        assert "0" in f["data/conv1/7x7_s2"] and "0" in f["data/inception_3a/1x1"]
    for path in ("w.caffemodel.h5", "w.npz"):
        if path.endswith(".npz"):
            assert fcn("convert", str(tmp_path / "w.caffemodel.h5"), str(tmp_path / path)).returncode == 0
        arrays = load_arrays(str(tmp_path / path))
        assert set(name for name, blobs in arrays.items() if blobs) == {"conv1/7x7_s2", "inception_3a/1x1"}
        other = Net(parse_text(SLASHED, caffe_pb2.NetParameter()), "TRAIN")
        copy_weights(other, str(tmp_path / path))
        for name in ("conv1/7x7_s2", "inception_3a/1x1"):
            for a, b in zip(net.params[name], other.params[name]):
                assert a.data.tobytes() == b.data.tobytes()
    rng = np.random.default_rng(0)
    x, label = rng.normal(0, 1, (1, 3, 9, 9)).astype(np.float32), rng.integers(0, 3, (1, 1, 9, 9)).astype(np.float32)
    net.blobs["data"].data[...], net.blobs["label"].data[...] = x, label
    net.forward()
    net.backward()
    # The reference holds independent numpy values of the two convolutions' outputs.
    w1, b1 = (p.data.astype(np.float64) for p in net.params["conv1/7x7_s2"])
    padded = np.pad(x[0].astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    conv1 = np.zeros((4, 9, 9))
    for dy in range(3):
        for dx in range(3):
            conv1 += np.einsum("oc,chw->ohw", w1[:, :, dy, dx], padded[:, dy:dy + 9, dx:dx + 9])
    conv1 = np.maximum(conv1 + b1[:, None, None], 0)
    w2, b2 = (p.data.astype(np.float64) for p in net.params["inception_3a/1x1"])
    out = np.einsum("oc,chw->ohw", w2[:, :, 0, 0], conv1) + b2[:, None, None]
    with h5py.File(tmp_path / "blobs.h5", "w") as f:
        f["input/data"], f["input/label"] = x, label
        f["data/conv1/7x7_s2"] = conv1[None].astype(np.float32)
        f["data/inception_3a/output"] = out[None].astype(np.float32)
        f["diff/inception_3a/output"] = net.blobs["inception_3a/output"].diff
        for name in ("conv1/7x7_s2", "inception_3a/1x1"):
            for i, p in enumerate(net.params[name]):
                f[f"param_diff/{name}/{i}"] = p.diff
    result = fcn("compare", "--model", str(net_path), "--weights", str(tmp_path / "w.caffemodel.h5"),
                 "--reference", str(tmp_path / "blobs.h5"), "--phase", "TRAIN", "--backward")
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.splitlines()[-1]
    assert "compared 7 arrays" in last and "0 failed, 0 skipped" in last, last
