"""Small files that claim huge sizes, through every command that reads them:
each ends within seconds in one line and exit 2, and the process never
grows anywhere near the size claimed."""
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import h5py
import numpy as np
import pytest

from tests.conftest import REFERENCE
from tools.synthetic import write_dataset

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")
NET, WEIGHTS = f"{CASE}/net.prototxt", f"{CASE}/weights.caffemodel"
GIB = 1 << 30


# Runs one command and writes its peak RSS (KiB) to argv[1]: RUSAGE_CHILDREN
# of a process with that one child is that child's own peak.
MEASURE = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
           "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
           "sys.exit(code)")


def run_measured(*args, cwd=None):
    """(returncode, stderr, peak RSS in bytes, seconds) of `fcn ARGS` in a process of its own."""
    start = time.monotonic()
    with tempfile.NamedTemporaryFile("r") as peak:
        result = subprocess.run([sys.executable, "-c", MEASURE, peak.name, sys.executable, "-m", "tools.cli", *args],
                                capture_output=True, text=True, cwd=cwd, timeout=120)
        kib = int(peak.read() or 0)
    return result.returncode, result.stderr.strip(), kib * 1024, time.monotonic() - start


_baseline = []


def baseline_rss():
    """Peak RSS of a command that reads a small caffemodel: the interpreter,
    numpy, numba and h5py, before any claim."""
    if not _baseline:
        _baseline.append(run_measured("info", WEIGHTS)[2])
    return _baseline[0]


def refused(result, *fragments, claimed=16 * GIB):
    code, err, peak, seconds = result
    assert code == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert peak < baseline_rss() + claimed / 4, f"peak RSS {peak:,} bytes for a claim of {claimed:,}"
    assert seconds < 60


def hdf5_bomb(path, shape=(65536, 65536)):
    """A few KB declaring 16 GiB: gzip-compressed chunks never written."""
    with h5py.File(path, "w") as f:
        f.create_dataset("data/conv1_1/0", shape=shape, dtype=np.float32, chunks=(256, 256), compression="gzip")
        f.create_dataset("data/conv1_1/1", data=np.zeros(4, np.float32))
    assert os.path.getsize(path) < 64 * 1024


@pytest.mark.parametrize("command", ["info", "convert", "compare", "test", "infer"])
def test_hdf5_weights_claiming_16_gib(tmp_path, command):
    bomb = str(tmp_path / "w.caffemodel.h5")
    hdf5_bomb(bomb)
    args = {"info": ["info", bomb],
            "convert": ["convert", bomb, str(tmp_path / "out.npz")],
            "compare": ["compare", "--model", NET, "--weights", bomb, "--reference", f"{CASE}/blobs.h5"],
            "test": ["test", "--model", NET, "--weights", bomb, "--iterations", "1"],
            "infer": ["infer", "--model", NET, "--weights", bomb, "--out", str(tmp_path),
                      os.path.join(REFERENCE, "..", "published", "demo", "image.jpg")]}[command]
    refused(run_measured(*args), "w.caffemodel.h5", "[65536, 65536]")


def test_hdf5_reference_claiming_16_gib(tmp_path):
    bomb = str(tmp_path / "blobs.h5")
    with h5py.File(bomb, "w") as f:
        f.create_dataset("input/data", shape=(1, 3, 65536, 21846), dtype=np.float32, chunks=(1, 1, 256, 256),
                         compression="gzip")
        f.create_dataset("data/data", data=np.zeros(1, np.float32))
    refused(run_measured("compare", "--model", NET, "--weights", WEIGHTS, "--reference", bomb),
            "blobs.h5", "/input/data")


def test_hdf5_dataset_of_real_zeros_is_checked_against_the_net_before_reading(tmp_path):
    """A genuine compressed 256 MiB dataset (within deflate's ratio) whose shape
    the net does not have: refused by its shape, before it is inflated."""
    path = str(tmp_path / "w.caffemodel.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("data/conv1_1/0", data=np.zeros((4096, 16384), np.float32), chunks=(512, 2048),
                         compression="gzip", compression_opts=9)
    assert os.path.getsize(path) < 1 << 20
    refused(run_measured("test", "--model", NET, "--weights", path, "--iterations", "1"),
            "layer 'conv1_1' blob 0: the file has shape [4096, 16384], the net [4, 3, 3, 3]", claimed=256 << 20)


def npz_with_lying_header(path, shape=(65536, 65536)):
    import zipfile
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("conv1_1/0.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(b"\0" * 64)


@pytest.mark.parametrize("command", ["info", "convert", "test"])
def test_npz_claiming_16_gib(tmp_path, command):
    bomb = str(tmp_path / "w.npz")
    npz_with_lying_header(bomb)
    args = {"info": ["info", bomb], "convert": ["convert", bomb, str(tmp_path / "out.caffemodel")],
            "test": ["convert", bomb, str(tmp_path / "out.h5"), "--net", NET]}[command]
    refused(run_measured(*args), "w.npz", "conv1_1/0", "[65536, 65536]")


def png_bomb(path, width=30000, height=30000):
    """A PNG header declaring width x height grey pixels, with a tiny IDAT."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + \
        chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)
    assert len(data) < 1 << 20


def test_png_bomb_through_infer(tmp_path):
    bomb = str(tmp_path / "bomb.png")
    png_bomb(bomb)
    refused(run_measured("infer", "--model", NET, "--weights", WEIGHTS, "--out", str(tmp_path), bomb),
            "bomb.png", "900,000,000 pixels", claimed=900_000_000 * 12)


def test_png_bomb_through_the_data_layers(tmp_path):
    """A label PNG and a JPEG-named image of the VOC layout, read by the
    release's data layers under fcn score and fcn test."""
    from netspec import fcn_models
    from netspec.prototxt import write_text
    root = tmp_path / "data"
    _, voc = write_dataset(str(root), train=2, val=2, size=(30, 40))
    first = open(f"{voc}/ImageSets/Segmentation/seg11valid.txt").read().split()[0]
    png_bomb(f"{voc}/SegmentationClass/{first}.png")
    net = fcn_models.net("voc-fcn32s", "val")
    for layer in net.layer:
        if layer.type == "Python":
            layer.python_param.param_str = repr(dict(voc_dir=voc, split="seg11valid",
                                                     mean=(104.00699, 116.66877, 122.67892)))
    write_text(str(tmp_path / "val.prototxt"), net)
    refused(run_measured("score", "--model", str(tmp_path / "val.prototxt"), "--weights", WEIGHTS,
                         "--save", str(tmp_path / "out")), f"{first}.png", "900,000,000 pixels",
            claimed=900_000_000 * 12)
    png_bomb(f"{voc}/JPEGImages/{first}.jpg", 20000, 20000)
    refused(run_measured("test", "--model", str(tmp_path / "val.prototxt"), "--weights", WEIGHTS,
                         "--iterations", "1"), f"{first}.jpg", "400,000,000 pixels", claimed=400_000_000 * 12)


def test_pad_of_two_billion(tmp_path):
    path = tmp_path / "pad.prototxt"
    path.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 '
                    'dim: 8 } } }\nlayer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                    'convolution_param { num_output: 2 kernel_size: 3 pad: 2000000000 } }\n')
    for command in (["time", "--model", str(path), "--iterations", "1"], ["test", "--model", str(path),
                                                                          "--weights", WEIGHTS]):
        refused(run_measured(*command), "pad.prototxt", "blob 'c'", "[1, 2, 4000000006, 4000000006]",
                "128,000,000,384,000,000,288 bytes")
