"""The wire-format reader against protobuf's own parser, and against damage."""
import glob
import os

import numpy as np
import pytest

from netspec import FCNError, caffe_pb2
from tests.conftest import REFERENCE
from weights.blobs import proto_shape, to_array
from weights.caffemodel import read_weights
from weights.wire import Caffemodel

MODELS = sorted(glob.glob(os.path.join(REFERENCE, "*", "*.caffemodel")))


@pytest.mark.parametrize("path", MODELS, ids=lambda p: os.path.relpath(p, REFERENCE))
def test_wire_reader_equals_protobuf(path):
    parsed = caffe_pb2.NetParameter()
    with open(path, "rb") as f:
        parsed.ParseFromString(f.read())
    ours = read_weights(path)
    assert list(ours) == [layer.name for layer in parsed.layer]
    for layer in parsed.layer:
        assert len(ours[layer.name]) == len(layer.blobs)
        for array, proto in zip(ours[layer.name], layer.blobs):
            assert array.shape == proto_shape(proto)
            np.testing.assert_array_equal(array, to_array(proto, path))


def test_unpacked_and_double_values_and_legacy_dims(tmp_path):
    net = caffe_pb2.NetParameter()
    layer = net.layers.add(name="old", type=caffe_pb2.V1LayerParameter.CONVOLUTION)
    layer.blobs.add(num=1, channels=1, height=2, width=3).double_data.extend([0.5, 1, 2, 3, 4, 5.25])
    raw = net.SerializeToString()
    path = tmp_path / "v1.caffemodel"
    path.write_bytes(raw)
    with Caffemodel(str(path)) as model:
        [(name, [blob])] = list(model.layers())
        assert name == "old" and blob.dims is None and blob.shape == (1, 1, 2, 3)
        np.testing.assert_array_equal(blob.array(), [0.5, 1, 2, 3, 4, 5.25])
    # The same floats written unpacked, one key per value, as very old writers did.
    unpacked = b"".join(b"\x2d" + np.float32(v).tobytes() for v in (1.5, -2))
    blob_bytes = b"\x08\x02" + unpacked            # num: 2, then data
    layer_bytes = b"\x22\x01x" + b"\x32" + bytes([len(blob_bytes)]) + blob_bytes
    path.write_bytes(b"\x12" + bytes([len(layer_bytes)]) + layer_bytes)
    with Caffemodel(str(path)) as model:
        [(name, [blob])] = list(model.layers())
        assert name == "x" and blob.shape == (2, 0, 0, 0)
        np.testing.assert_array_equal(blob.array(), [1.5, -2])


@pytest.mark.parametrize("damage", ["truncate", "huge length", "bad wire type"])
def test_damaged_files_are_project_errors(tmp_path, damage):
    raw = open(MODELS[0], "rb").read()
    if damage == "truncate":
        raw = raw[:len(raw) // 2]
    elif damage == "huge length":
        raw = b"\xa2\x06\xff\xff\xff\xff\x0f" + raw       # layer (100) claiming 4 GB
    else:
        raw = b"\xa7\x06" + raw                            # field 100, wire type 7
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(raw)
    with pytest.raises(FCNError, match="bad.caffemodel: not a binary caffemodel"):
        read_weights(str(path))
