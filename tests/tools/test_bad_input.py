"""Every kind of bad input, through the CLI: exit 2, one line on stderr that
names the culprit, and no traceback."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from tests.conftest import PUBLISHED, REFERENCE

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")
INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n'
POOL = 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 2 stride: 2 } }\n'

NETS = {
    "syntax": (INPUT + 'layer { name: "c" type: "ReLU" bottom: "data" top: "c"\n', "syntax.prototxt:2:52: Expected"),
    "unknown field": (INPUT + 'layer { name: "c" type: "ReLU" bottom: "data" top: "c" relu_param { slope: 1 } }\n',
                      'syntax.prototxt:2:69: Message type "caffe.ReLUParameter" has no field named "slope"'),
    "unknown enum": (INPUT + 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
                             'pooling_param { pool: MEDIAN kernel_size: 2 } }\n', "no value named MEDIAN"),
    "unknown type": (INPUT + 'layer { name: "c" type: "Convolutio" bottom: "data" top: "c" }\n',
                     "layer 'c': unknown type 'Convolutio'"),
    "duplicate name": (INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
                               'layer { name: "r" type: "ReLU" bottom: "data" top: "r2" }\n', "two layers are named 'r'"),
    "missing bottom": (INPUT + 'layer { name: "r" type: "ReLU" bottom: "nothing" top: "r" }\n',
                       "layer 'r' (ReLU): bottom 'nothing' is not produced"),
    "top twice": (INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
                          'layer { name: "s" type: "Sigmoid" bottom: "data" top: "r" }\n',
                  "layer 's' (Sigmoid): top 'r' is already produced"),
    "cycle": (INPUT + 'layer { name: "a" type: "ReLU" bottom: "b" top: "a" }\n'
                      'layer { name: "b" type: "ReLU" bottom: "a" top: "b" }\n', "bottom 'b' is not produced"),
    "zero output": (INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                            'convolution_param { num_output: 2 kernel_size: 11 } }\n',
                    "layer 'c' (Convolution): input data [1, 3, 8, 8] is too small"),
    "negative dim": ('layer { name: "data" type: "Input" top: "data" '
                     'input_param { shape { dim: 1 dim: -3 dim: 8 dim: 8 } } }\n', "negative dimension"),
    "group": (INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                      'convolution_param { num_output: 2 kernel_size: 3 group: 2 } }\n', "group 2 must divide"),
    "eltwise": (INPUT + POOL + 'layer { name: "e" type: "Eltwise" bottom: "data" bottom: "p" top: "e" }\n',
                "layer 'e' (Eltwise): bottoms must have one shape"),
    "concat": (INPUT + POOL + 'layer { name: "e" type: "Concat" bottom: "data" bottom: "p" top: "e" }\n',
               "layer 'e' (Concat): bottoms must agree"),
    "crop": (INPUT + POOL + 'layer { name: "e" type: "Crop" bottom: "p" bottom: "data" top: "e" }\n',
             "layer 'e' (Crop): crop of axis 2"),
    "absurd size": ('layer { name: "data" type: "Input" top: "data" '
                    'input_param { shape { dim: 100000 dim: 3 dim: 100000 dim: 100000 } } }\n',
                    "blob 'data': shape [100000, 3, 100000, 100000] needs 12,000,000,000,000,000 bytes"),
    "foreign python layer": (INPUT + 'layer { name: "py" type: "Python" bottom: "data" top: "o" '
                                     'python_param { module: "os" layer: "system" } }\n',
                             "refusing Python layer module 'os'"),
    "python layer that is no class": (INPUT + 'layer { name: "py" type: "Python" bottom: "data" top: "o" '
                                              'python_param { module: "os" layer: "system" } }\n',
                                      "layer 'py' (Python): os.system is not a layer class"),
}


def fcn(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True, cwd=cwd)


def one_line(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr)
    err = result.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.mark.parametrize("name", NETS)
def test_bad_nets(tmp_path, name):
    text, message = NETS[name]
    path = tmp_path / "syntax.prototxt"
    path.write_text(text)
    if "foreign" in name:
        one_line(fcn("--no-python-layers", "shapes", "--model", str(path)), "syntax.prototxt", message)
        one_line(fcn("time", "--no-python-layers", "--model", str(path)), "syntax.prototxt", message)
    else:
        one_line(fcn("shapes", "--model", str(path)), "syntax.prototxt", message)


@pytest.mark.parametrize("command", [["shapes", "--model"], ["info"], ["time", "--model"], ["draw"]])
@pytest.mark.parametrize("text", ['name: "x"\n', 'name: "x"\nlayer { name: "d" type: "Input" top: "d" '
                                   'include { phase: TRAIN } }\n'], ids=["no layers", "none in TEST"])
def test_a_net_with_no_layers_is_one_line(tmp_path, command, text):
    path = tmp_path / "empty.prototxt"
    path.write_text(text)
    out = ["--out", str(tmp_path / "x.png")] if command[0] == "draw" else []
    result = fcn(*command, str(path), *out)
    if "TRAIN" in text and command[0] != "info":
        # Not empty as written: the TEST net has nothing, which is no error
        # for Caffe either; what matters is that nothing breaks.
        assert result.returncode in (0, 2) and "Traceback" not in result.stderr, result.stderr
        return
    if "TRAIN" in text:
        assert result.returncode == 0 and "0 layers" in result.stdout, result.stdout + result.stderr
        return
    one_line(result, "empty.prototxt: net 'x' has no layers")


@pytest.mark.parametrize("command", [["info", "voc-fcn8s"], ["shapes", "--model", "voc-fcn8s"], ["info", "voc-fcn-googlenet"]])
def test_a_closed_pipe_ends_quietly(command):
    """`fcn info NET | head -1` once head has gone: its stdout is a pipe
    whose reader is closed before fcn writes (so every write fails, however
    short the output). fcn ends as a Unix tool does on SIGPIPE (141), with
    nothing on stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([sys.executable, "-m", "tools.cli", *command], stdout=write, stderr=subprocess.PIPE,
                                text=True, timeout=300)
    finally:
        os.close(write)
    assert result.returncode == 141 and result.stderr == "", result.stderr


def caffemodel_bytes():
    with open(f"{CASE}/weights.caffemodel", "rb") as f:
        return f.read()


WEIGHTS = {
    "missing": (None, "w.caffemodel: no such file"),
    "empty": (b"", "w.caffemodel: empty file"),
    "truncated": ("truncate", "w.caffemodel: not a binary caffemodel"),
    "garbage": (b"\xff" * 64, "w.caffemodel: not a binary caffemodel"),
    "a directory": ("dir", "w.caffemodel: is a directory"),
    "another net": ("alexnet", "layer 'fc6' blob 0: the file has shape [64, 16, 6, 6], the net [64, 32, 7, 7]"),
    "other names": ("renamed", "none of its 21 layers with weights is a layer of"),
}


@pytest.mark.parametrize("name", WEIGHTS)
def test_bad_weights(tmp_path, name):
    content, message = WEIGHTS[name]
    path = tmp_path / "w.caffemodel"
    if content == "truncate":
        path.write_bytes(caffemodel_bytes()[:5000])
    elif content == "dir":
        path.mkdir()
    elif content == "alexnet":
        path.write_bytes(open(os.path.join(REFERENCE, "voc-fcn-alexnet-narrow-train", "weights.caffemodel"),
                              "rb").read())
    elif content == "renamed":
        from netspec import caffe_pb2
        net = caffe_pb2.NetParameter()
        net.ParseFromString(caffemodel_bytes())
        for layer in net.layer:
            layer.name = "x_" + layer.name
        path.write_bytes(net.SerializeToString())
    elif content is not None:
        path.write_bytes(content)
    one_line(fcn("test", "--model", f"{CASE}/net.prototxt", "--weights", str(path), "--iterations", "1"), message)


def test_hdf5_weights_of_the_wrong_kind(tmp_path):
    path = tmp_path / "w.caffemodel.h5"
    with h5py.File(path, "w") as f:
        f["data/conv1_1/0"] = np.array(["text"], dtype=h5py.string_dtype())
    one_line(fcn("test", "--model", f"{CASE}/net.prototxt", "--weights", str(path)), "w.caffemodel.h5", "not numbers")
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    one_line(fcn("test", "--model", f"{CASE}/net.prototxt", "--weights", str(path)), "w.caffemodel.h5")


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_bad_images(tmp_path, kind):
    path = tmp_path / "img.jpg"
    if kind == "corrupt":
        path.write_bytes(open(os.path.join(PUBLISHED, "demo", "image.jpg"), "rb").read()[:300])
    one_line(fcn("infer", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--out", str(tmp_path), str(path)), "img.jpg")


def test_labels_outside_the_classes(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"] = np.ones((2, 3, 1, 1), np.float32)
        f["y"] = np.full((2, 1, 1, 1), 7, np.float32)
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'd.h5'}\n")
    (tmp_path / "net.prototxt").write_text(
        f'layer {{ name: "d" type: "HDF5Data" top: "x" top: "y" hdf5_data_param {{ source: "{tmp_path / "list.txt"}" '
        'batch_size: 2 } }\nlayer { name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "loss" }\n')
    (tmp_path / "solver.prototxt").write_text('net: "net.prototxt" base_lr: 0.1 lr_policy: "fixed" max_iter: 1\n')
    one_line(fcn("train", "--solver", "solver.prototxt", cwd=tmp_path), "layer 'loss'", "label 7")


def test_solver_whose_net_is_missing(tmp_path):
    (tmp_path / "solver.prototxt").write_text('net: "nowhere.prototxt" base_lr: 0.1 max_iter: 1\n')
    one_line(fcn("train", "--solver", "solver.prototxt", cwd=tmp_path), "nowhere.prototxt")
