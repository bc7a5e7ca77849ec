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


def net_shapes(prototxt):
    from core.net import Net
    from tools.netload import load_net_param
    net = Net(load_net_param(prototxt)[0], "TEST")
    return {name: [tuple(b.shape) for b in blobs] for name, blobs in net.params.items()}


def assert_shapes_as_caffe_wants(arrays, shapes):
    """Every blob in exactly the net's shape: what real Caffe's HDF5 loader
    (hdf5_load_nd_dataset without reshape) and its V2 loader (a blob with
    `shape` set) demand; neither accepts [1, 1, 1, N] for a bias of [N]."""
    for name, blobs in arrays.items():
        assert [tuple(a.shape) for a in blobs] == shapes[name][:len(blobs)], name


@pytest.mark.parametrize("ending", [".caffemodel.h5", ".npz"])
def test_v1_file_through_another_format_to_v2_loads_in_the_net_and_in_caffe(tmp_path, ending):
    """V1 (legacy 4-D dims) -> HDF5 / npz / safetensors -> V2 caffemodel: the
    blobs leave in their layers' own shapes (a bias as [N], not [1, 1, 1, N]),
    so every file of the chain has the net's exact shapes, the V2 file
    writes them as `shape`, and fcn compare (as strict as Caffe about a V2
    file's shapes) matches real Caffe's blobs with it."""
    from weights.caffemodel import read_caffemodel
    v1 = tmp_path / "v1.caffemodel"
    v1.write_bytes(as_v1_with_legacy_dims(f"{CASE}/weights.caffemodel").SerializeToString())
    middle, v2 = tmp_path / f"w{ending}", tmp_path / "v2.caffemodel"
    for source, target in ((v1, middle), (middle, v2)):
        done = fcn("convert", str(source), str(target))
        assert done.returncode == 0 and not done.stderr, done.stderr
    shapes = net_shapes(f"{CASE}/net.prototxt")
    assert_shapes_as_caffe_wants(load_arrays(str(middle)), shapes)
    written = read_caffemodel(str(v2))
    assert not len(written.layers) and len(written.layer)
    for layer in written.layer:
        for i, blob in enumerate(layer.blobs):
            assert not blob.HasField("num") and tuple(blob.shape.dim) == shapes[layer.name][i]
    compare = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", str(v2),
                  "--reference", f"{CASE}/blobs.h5")
    assert compare.returncode == 0, compare.stdout[-1000:] + compare.stderr


def test_v1_inner_product_and_unknown_types_leave_in_their_shapes(tmp_path):
    """An INNER_PRODUCT's (1, 1, N, K) weights leave as (N, K) and its bias
    as (N,); a kernel keeps four axes even with one output; a type whose
    shapes the file cannot tell keeps its legacy dims, said in one line."""
    from netspec import caffe_pb2
    net = caffe_pb2.NetParameter(name="v1")
    V1 = caffe_pb2.V1LayerParameter
    for name, kind, dims in (("fc", V1.INNER_PRODUCT, [(1, 1, 3, 5), (1, 1, 1, 3)]),
                             ("conv", V1.CONVOLUTION, [(1, 2, 3, 3), (1, 1, 1, 1)]),
                             ("odd", V1.RELU, [(1, 1, 1, 2)])):
        layer = net.layers.add(name=name, type=kind)
        for n, c, h, w in dims:
            layer.blobs.add(num=n, channels=c, height=h, width=w).data.extend(np.arange(n * c * h * w) * 0.5)
    v1 = tmp_path / "v1.caffemodel"
    v1.write_bytes(net.SerializeToString())
    out = tmp_path / "w.caffemodel.h5"
    done = fcn("convert", str(v1), str(out))
    assert done.returncode == 0
    assert {name: [a.shape for a in blobs] for name, blobs in load_arrays(str(out)).items()} == \
        {"fc": [(3, 5), (3,)], "conv": [(1, 2, 3, 3), (1,)], "odd": [(1, 1, 1, 2)]}
    assert done.stderr.strip() == f"{v1}: layer 'odd' blob 0 keeps its legacy dims [1, 1, 1, 2]: its type does " \
        "not say its true shape"


def saved_by_net(tmp_path):
    """A caffemodel as pycaffe's net.save() writes it: every layer,
    parameter-less ones and their types included."""
    from core.net import Net
    from tools.netload import load_net_param
    from weights.caffemodel import copy_weights, save_weights
    net = Net(load_net_param(f"{CASE}/net.prototxt")[0], "TEST")
    copy_weights(net, f"{CASE}/weights.caffemodel")
    path = tmp_path / "saved.caffemodel"
    save_weights(net, str(path))        # what compat's net.save() calls
    return path


def odd_but_valid(tmp_path):
    """A caffemodel using what protobuf allows and Caffe's files hold at
    times: a diff beside the data, double_data, an empty blob, a field no
    schema here knows, a repeated layer name, and fields out of number order."""
    from netspec import caffe_pb2
    net = caffe_pb2.NetParameter(name="odd")
    layer = net.layer.add(name="a", type="Convolution")
    blob = layer.blobs.add()
    blob.shape.dim.extend([2, 3])
    blob.data.extend(np.arange(6) * 0.25)
    blob.diff.extend(np.arange(6) * -1.0)
    wide = layer.blobs.add()
    wide.shape.dim.append(2)
    wide.double_data.extend([1 / 3, 2 / 3])
    layer.blobs.add()
    net.layer.add(name="a", type="Scale").blobs.add(data=[7.0], shape=caffe_pb2.BlobShape(dim=[1]))
    unknown = bytes([0xF8, 0x3E, 0x05])          # field 999, varint 5
    name_last = bytes([0x0A, 0x01]) + b"z"       # NetParameter.name again, after the layers
    path = tmp_path / "odd.caffemodel"
    path.write_bytes(net.SerializeToString() + unknown + name_last)
    return path


@pytest.mark.parametrize("make", ["net.save()", "V1 with legacy dims", "written by Caffe", "odd but valid"])
def test_caffemodel_through_safetensors_comes_back_byte_for_byte(tmp_path, make):
    """caffemodel -> .safetensors -> caffemodel is the same file: the whole
    NetParameter but the blob values rides in the metadata (52 layers stay
    52, with their types), and the tensors still load as weights."""
    if make == "net.save()":
        path = saved_by_net(tmp_path)
    elif make == "V1 with legacy dims":
        path = tmp_path / "v1.caffemodel"
        path.write_bytes(as_v1_with_legacy_dims(f"{CASE}/weights.caffemodel").SerializeToString())
    elif make == "written by Caffe":
        path = f"{CASE}/weights.caffemodel"
    else:
        path = odd_but_valid(tmp_path)
    st, back = tmp_path / "w.safetensors", tmp_path / "back.caffemodel"
    for source, target in ((path, st), (st, back)):
        done = fcn("convert", str(source), str(target))
        assert done.returncode == 0 and not done.stderr, done.stderr
    assert back.read_bytes() == open(path, "rb").read()
    if make != "odd but valid":
        assert_same_arrays(load_arrays(str(path)), load_arrays(str(st)))
    info = fcn("info", str(st))
    assert info.returncode == 0 and "with the caffemodel's NetParameter" in info.stdout


def test_safetensors_edited_in_values_comes_back_with_them_and_in_size_as_a_new_file(tmp_path):
    """Values changed in place (same shapes) come back in the original
    file's layout; a tensor of another size no longer fits the skeleton: a
    plain V2 caffemodel from the tensors, said in one line."""
    from safetensors.numpy import load_file, save_file

    from weights.safetensors_io import read_header
    path = saved_by_net(tmp_path)
    st = tmp_path / "w.safetensors"
    assert fcn("convert", str(path), str(st)).returncode == 0
    raw = st.read_bytes()
    metadata = read_header(str(st), raw, len(raw))[2]
    tensors = load_file(str(st))
    tensors["score_fr/1"] = tensors["score_fr/1"] + 1
    save_file(tensors, str(tmp_path / "edited.safetensors"), metadata=metadata)
    back = tmp_path / "back.caffemodel"
    assert fcn("convert", str(tmp_path / "edited.safetensors"), str(back)).returncode == 0
    assert len(back.read_bytes()) == len(path.read_bytes()) and back.read_bytes() != path.read_bytes()
    arrays = load_arrays(str(back))
    np.testing.assert_array_equal(arrays["score_fr"][1], load_arrays(str(path))["score_fr"][1] + 1)
    tensors["score_fr/1"] = tensors["score_fr/1"][:1]
    save_file(tensors, str(tmp_path / "cut.safetensors"), metadata=metadata)
    done = fcn("convert", str(tmp_path / "cut.safetensors"), str(back))
    assert done.returncode == 0 and "no longer fits the caffemodel" in done.stderr
    assert load_arrays(str(back))["score_fr"][1].shape == (1,)


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

    from core.net import Net
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
