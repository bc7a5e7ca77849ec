import os

import h5py
import numpy as np
import pytest

from netspec import FCNError, caffe_pb2
from tests.conftest import REFERENCE
from tools.netload import build_net
from weights.caffemodel import net_to_proto, read_caffemodel, save_weights

CASES = [("voc-fcn8s-narrow-test", "TEST"), ("voc-fcn8s-narrow-train", "TRAIN"),
         ("voc-fcn-alexnet-narrow-train", "TRAIN")]


def folder(case):
    return os.path.join(REFERENCE, case)


@pytest.mark.parametrize("case,phase", CASES)
def test_saved_caffemodel_is_byte_identical_to_caffes(case, phase, tmp_path):
    net = build_net(f"{folder(case)}/net.prototxt", phase, f"{folder(case)}/weights.caffemodel")
    with open(f"{folder(case)}/weights.caffemodel", "rb") as f:
        assert net_to_proto(net).SerializeToString() == f.read()
    save_weights(net, str(tmp_path / "w.caffemodel"))
    with open(f"{folder(case)}/weights.caffemodel", "rb") as f:
        assert (tmp_path / "w.caffemodel").read_bytes() == f.read()


def test_hdf5_weights_equal_binary_and_round_trip(tmp_path):
    case = folder("voc-fcn8s-narrow-test")
    from_h5 = build_net(f"{case}/net.prototxt", "TEST", f"{case}/weights.caffemodel.h5")
    from_bin = build_net(f"{case}/net.prototxt", "TEST", f"{case}/weights.caffemodel")
    for name, blobs in from_bin.params.items():
        for a, b in zip(blobs, from_h5.params[name]):
            np.testing.assert_array_equal(a.data, b.data)
    out = tmp_path / "w.caffemodel.h5"
    save_weights(from_h5, str(out))
    with h5py.File(out, "r") as ours, h5py.File(f"{case}/weights.caffemodel.h5", "r") as caffe:
        assert list(ours["data"]) == list(caffe["data"])
        for name in caffe["data"]:
            for i in caffe["data"][name]:
                np.testing.assert_array_equal(ours["data"][name][i][...], caffe["data"][name][i][...])


def as_v1_with_legacy_dims(path):
    """A V1 (`layers`, enum types) caffemodel with 4-D legacy blob dims."""
    new = read_caffemodel(path)
    old = caffe_pb2.NetParameter(name=new.name)
    kinds = {"Convolution": caffe_pb2.V1LayerParameter.CONVOLUTION,
             "Deconvolution": caffe_pb2.V1LayerParameter.DECONVOLUTION}
    for layer in new.layer:
        if layer.type not in kinds:
            continue
        v1 = old.layers.add(name=layer.name, type=kinds[layer.type])
        v1.bottom.extend(layer.bottom)
        v1.top.extend(layer.top)
        for blob in layer.blobs:
            dims = (1,) * (4 - len(blob.shape.dim)) + tuple(blob.shape.dim)
            v1.blobs.add(num=dims[0], channels=dims[1], height=dims[2], width=dims[3]).data.extend(blob.data)
    return old


def test_v1_caffemodel_with_legacy_dims_loads(tmp_path):
    case = folder("voc-fcn8s-narrow-test")
    path = tmp_path / "v1.caffemodel"
    path.write_bytes(as_v1_with_legacy_dims(f"{case}/weights.caffemodel").SerializeToString())
    upgraded = read_caffemodel(str(path))
    assert not len(upgraded.layers) and upgraded.layer[0].type == "Convolution"
    legacy = build_net(f"{case}/net.prototxt", "TEST", str(path))
    modern = build_net(f"{case}/net.prototxt", "TEST", f"{case}/weights.caffemodel")
    for name, blobs in modern.params.items():
        for a, b in zip(blobs, legacy.params[name]):
            np.testing.assert_array_equal(a.data, b.data)


def test_layers_missing_from_file_keep_fillers(tmp_path):
    case = folder("voc-fcn8s-narrow-test")
    model = read_caffemodel(f"{case}/weights.caffemodel")
    kept = caffe_pb2.NetParameter()
    kept.layer.extend(l for l in model.layer if l.name != "score_fr")
    kept.layer.add(name="not_in_net", type="Convolution").blobs.add().shape.dim.append(3)
    path = tmp_path / "partial.caffemodel"
    path.write_bytes(kept.SerializeToString())
    net = build_net(f"{case}/net.prototxt", "TEST", str(path))
    assert not net.params["score_fr"][0].data.any()   # the prototxt's default filler: constant 0
    assert net.params["conv1_1"][0].data.any()


@pytest.mark.parametrize("content,message", [
    (None, "no such file"), (b"", "empty file"), (b"\x0a\xff\xff\xff\xff\x0f", "truncated or corrupt"),
])
def test_bad_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "w.caffemodel"
    if content is not None:
        path.write_bytes(content)
    case = folder("voc-fcn8s-narrow-test")
    with pytest.raises(FCNError, match=message):
        build_net(f"{case}/net.prototxt", "TEST", str(path))


def test_truncated_real_file(tmp_path):
    case = folder("voc-fcn8s-narrow-test")
    with open(f"{case}/weights.caffemodel", "rb") as f:
        data = f.read()
    path = tmp_path / "cut.caffemodel"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(FCNError, match="cut.caffemodel"):
        build_net(f"{case}/net.prototxt", "TEST", str(path))


def test_weights_of_another_net_name_layer_and_shapes():
    alexnet = f"{folder('voc-fcn-alexnet-narrow-train')}/weights.caffemodel"
    with pytest.raises(FCNError, match=r"layer 'fc6' blob 0: the file has shape \[64, 16, 6, 6\], "
                                       r"the net \[64, 32, 7, 7\]"):
        build_net(f"{folder('voc-fcn8s-narrow-test')}/net.prototxt", "TEST", alexnet)


def test_diffs_are_written_when_asked(tmp_path):
    case = folder("voc-fcn8s-narrow-test")
    net = build_net(f"{case}/net.prototxt", "TEST", f"{case}/weights.caffemodel")
    net.params["conv1_1"][0].diff[...] = 0.5
    save_weights(net, str(tmp_path / "d.caffemodel"), write_diff=True)
    layer = [l for l in read_caffemodel(str(tmp_path / "d.caffemodel")).layer if l.name == "conv1_1"][0]
    assert len(layer.blobs[0].diff) == 108 and set(layer.blobs[0].diff) == {0.5}
    save_weights(net, str(tmp_path / "d.caffemodel.h5"), write_diff=True)
    with h5py.File(tmp_path / "d.caffemodel.h5", "r") as f:
        assert (f["diff/conv1_1/0"][...] == 0.5).all()


def test_weights_go_on_ordinary_pages_and_numpy_setting_comes_back():
    from weights.caffemodel import _set_madvise_hugepage, ordinary_pages
    before = _set_madvise_hugepage(True)
    try:
        with ordinary_pages():
            assert _set_madvise_hugepage(False) is False    # off while loading
        assert _set_madvise_hugepage(True) is True          # on again after
    finally:
        _set_madvise_hugepage(before)
