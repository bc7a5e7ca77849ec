"""fcn convert and fcn info on every shared caffemodel, and on a V1 file."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REFERENCE
from tests.weights.test_caffemodel import as_v1_with_legacy_dims
from weights.formats import load_arrays

MODELS = sorted(glob.glob(os.path.join(REFERENCE, "*", "*.caffemodel")))
CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")


def fcn(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True)


def assert_same_arrays(a, b):
    with_blobs = {name: blobs for name, blobs in a.items() if blobs}
    assert sorted(with_blobs) == sorted(name for name, blobs in b.items() if blobs)
    for name, blobs in with_blobs.items():
        assert len(blobs) == len(b[name])
        for x, y in zip(blobs, b[name]):
            assert x.dtype == y.dtype == np.float32 and x.shape == y.shape
            assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("path", MODELS, ids=lambda p: os.path.relpath(p, REFERENCE))
def test_round_trip_is_bit_exact(path, tmp_path):
    chain = [path, tmp_path / "w.caffemodel.h5", tmp_path / "w.npz", tmp_path / "w.caffemodel"]
    for source, target in zip(chain, chain[1:]):
        result = fcn("convert", str(source), str(target))
        assert result.returncode == 0, result.stderr
    original = load_arrays(path)
    for step in chain[1:]:
        assert_same_arrays(original, load_arrays(str(step)))
    same = tmp_path / "same.caffemodel"
    assert fcn("convert", path, str(same)).returncode == 0
    assert same.read_bytes() == open(path, "rb").read()


def test_v1_file_converts_to_v2_that_compare_accepts(tmp_path):
    v1 = tmp_path / "v1.caffemodel"
    v1.write_bytes(as_v1_with_legacy_dims(f"{CASE}/weights.caffemodel").SerializeToString())
    info = fcn("info", str(v1))
    assert info.returncode == 0 and "V1" in info.stdout and "legacy dims" in info.stdout
    assert "CONVOLUTION" in info.stdout
    v2 = tmp_path / "v2.caffemodel"
    assert fcn("convert", str(v1), str(v2)).returncode == 0
    info = fcn("info", str(v2))
    assert "V2" in info.stdout and "V1" not in info.stdout and "Convolution" in info.stdout
    compare = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", str(v2),
                  "--reference", f"{CASE}/blobs.h5")
    assert compare.returncode == 0, compare.stdout[-1000:]


def test_convert_into_another_net_reports_each_action(tmp_path):
    """A VGG-style fully connected fc6 (O x I) coerced into FCN's fc6 (O x C x 7 x 7)."""
    arrays = load_arrays(f"{CASE}/weights.caffemodel")
    fc = {name: [a.reshape(a.shape[0], -1) if a.ndim == 4 and name in ("fc6", "fc7") else a for a in blobs]
          for name, blobs in arrays.items() if blobs}
    fc["extra"] = [np.zeros(3, np.float32)]
    from weights.formats import save_arrays
    source = tmp_path / "fc.npz"
    save_arrays(str(source), fc)
    out = tmp_path / "conv.caffemodel"
    result = fcn("convert", str(source), str(out), "--net", f"{CASE}/net.prototxt")
    assert result.returncode == 0, result.stderr
    assert "coercing fc6 0 from [64, 1568] to [64, 32, 7, 7]" in result.stdout
    assert "copying conv1_1 -> conv1_1 0" in result.stdout and "dropping extra" in result.stdout
    assert_same_arrays(arrays, load_arrays(str(out)))


def test_info_of_a_net_and_of_hdf5(tmp_path):
    result = fcn("info", f"{CASE}/net.prototxt")
    assert result.returncode == 0
    line = [l for l in result.stdout.splitlines() if l.strip().startswith("upscore8 ")][0]
    assert "Deconvolution" in line
    result = fcn("info", f"{CASE}/weights.caffemodel.h5")
    assert result.returncode == 0 and "HDF5" in result.stdout and "291,827 parameters" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["convert", "missing.caffemodel", "out.npz"], "missing.caffemodel: no such file"),
    (["convert", "IN.caffemodel", "out.txt"], "unknown weights format"),
    (["info", "missing.npz"], "missing.npz: no such file"),
    (["info", "garbage.npz"], "not a readable .npz"),
    (["info", "garbage.caffemodel"], "not a binary caffemodel"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 nonsense")
    (tmp_path / "garbage.caffemodel").write_bytes(b"\xff\xff\xff")
    args = [str(tmp_path / a) if a.startswith(("missing", "garbage", "out")) else a for a in args]
    args = [f"{CASE}/weights.caffemodel" if a == "IN.caffemodel" else a for a in args]
    result = fcn(*args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("ending", [".caffemodel.h5", ".npz"])
def test_v1_file_converted_to_another_format_loads_where_the_original_does(tmp_path, ending):
    """A V1 file keeps its legacy 4-D dims (a bias of [1, 1, 1, N]) in HDF5
    and npz; loading either into the net is accepted as the caffemodel is,
    and the net then matches real Caffe's blobs."""
    v1 = tmp_path / "v1.caffemodel"
    v1.write_bytes(as_v1_with_legacy_dims(f"{CASE}/weights.caffemodel").SerializeToString())
    out = tmp_path / f"w{ending}"
    assert fcn("convert", str(v1), str(out)).returncode == 0
    assert any(len(a.shape) == 4 and a.shape[:3] == (1, 1, 1) for blobs in load_arrays(str(out)).values()
               for a in blobs), "the legacy dims are still in the converted file"
    compare = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", str(out),
                  "--reference", f"{CASE}/blobs.h5")
    assert compare.returncode == 0, compare.stdout[-1000:] + compare.stderr


@pytest.mark.parametrize("path", MODELS, ids=lambda p: os.path.relpath(p, REFERENCE))
def test_safetensors_round_trip_is_bit_exact(path, tmp_path):
    """caffemodel -> .safetensors -> caffemodel gives the same arrays bit for
    bit; fcn info describes it from its header; it loads into a net."""
    st, back = tmp_path / "w.safetensors", tmp_path / "back.caffemodel"
    assert fcn("convert", path, str(st)).returncode == 0
    assert fcn("convert", str(st), str(back)).returncode == 0
    original = load_arrays(path)
    assert_same_arrays(original, load_arrays(str(st)))
    assert_same_arrays(original, load_arrays(str(back)))
    info = fcn("info", str(st))
    assert info.returncode == 0 and "safetensors" in info.stdout


def test_safetensors_load_into_a_net_and_keep_slashed_names(tmp_path):
    import json

    from safetensors.numpy import load_file
    st = tmp_path / "w.safetensors"
    assert fcn("convert", f"{CASE}/weights.caffemodel", str(st)).returncode == 0
    compare = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", str(st), "--reference", f"{CASE}/blobs.h5")
    assert compare.returncode == 0, compare.stdout[-1000:] + compare.stderr
    from weights.formats import save_arrays
    save_arrays(str(tmp_path / "slash.safetensors"), {"conv1/7x7_s2": [np.ones((2, 3), np.float32)]})
    assert list(load_file(str(tmp_path / "slash.safetensors"))) == ["conv1/7x7_s2/0"]
    assert list(load_arrays(str(tmp_path / "slash.safetensors"))) == ["conv1/7x7_s2"]
    header = json.dumps({"conv1_1/0": {"dtype": "F32", "shape": [65536, 65536], "data_offsets": [0, 16]}}).encode()
    (tmp_path / "bad.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    for args in (("info", str(tmp_path / "bad.safetensors")),
                 ("convert", str(tmp_path / "bad.safetensors"), str(tmp_path / "x.npz"))):
        bad = fcn(*args)
        assert bad.returncode == 2 and "claims bytes 0..16" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "short.safetensors").write_bytes(st.read_bytes()[:100])
    bad = fcn("convert", str(tmp_path / "short.safetensors"), str(tmp_path / "y.npz"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_convert_to_onnx_matches_fcn_infers_scores(tmp_path):
    """fcn convert WEIGHTS OUT.onnx --net NET: the val net with its data
    layers and loss cut (as fcn infer does), symbolic height and width;
    ONNX Runtime's scores equal the engine's at two sizes from one file."""
    import onnxruntime as ort

    from layers.net import Net
    from tools.netload import image_net
    from weights.caffemodel import copy_weights
    out = tmp_path / "fcn8s.onnx"
    done = fcn("convert", f"{CASE}/weights.caffemodel", str(out), "--net", f"{CASE}/net.prototxt")
    assert done.returncode == 0, done.stderr
    assert "any height and width" in done.stdout and "output score" in done.stdout
    net_param, _ = image_net(f"{CASE}/net.prototxt")
    net = Net(net_param, "TEST", keep_blobs=True)
    copy_weights(net, f"{CASE}/weights.caffemodel")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for h, w in ((61, 87), (120, 95)):
        x = rng.normal(0, 50, (1, 3, h, w)).astype(np.float32)
        ours = net.forward(data=x)["score"]
        theirs = session.run(["score"], {"data": x})[0]
        assert np.abs(theirs - ours).max() <= 1e-4 * np.abs(ours).max()
    pool = tmp_path / "pool.onnx"
    done = fcn("convert", f"{CASE}/weights.caffemodel", str(pool), "--net", f"{CASE}/net.prototxt",
               "--output", "pool5", "--input", "data=1,3,64,64")
    assert done.returncode == 0 and "output pool5" in done.stdout
    assert [o.name for o in ort.InferenceSession(str(pool)).get_outputs()] == ["pool5"]
    bad = fcn("convert", f"{CASE}/weights.caffemodel", str(tmp_path / "x.onnx"))
    assert bad.returncode == 2 and "give --net NET" in bad.stderr


def test_info_reads_onnx_and_refuses_a_broken_one(tmp_path):
    out = tmp_path / "m.onnx"
    assert fcn("convert", f"{CASE}/weights.caffemodel", str(out), "--net", f"{CASE}/net.prototxt").returncode == 0
    info = fcn("info", str(out))
    assert info.returncode == 0 and "input  data: 1x3xheightxwidth" in info.stdout and "ConvTranspose" in info.stdout
    (tmp_path / "cut.onnx").write_bytes(out.read_bytes()[:5000])
    bad = fcn("info", str(tmp_path / "cut.onnx"))
    assert bad.returncode == 2 and "not a readable ONNX model" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
