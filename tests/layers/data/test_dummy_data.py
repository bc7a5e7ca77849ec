"""DummyData as Caffe's: constant tops filled once (so what a caller writes
into them stays), the others refilled every forward pass."""
import numpy as np
import pytest

from core.net import Net
from netspec import FCNError, caffe_pb2, parse_text


def net(text):
    return Net(parse_text(text, caffe_pb2.NetParameter()), "TRAIN")


def test_constant_tops_keep_what_is_written_others_refill():
    n = net("""layer { name: "d" type: "DummyData" top: "x" top: "y"
      dummy_data_param { num: 5 channels: 2 height: 3 width: 4  num: 5 channels: 1 height: 1 width: 1
                         data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 7 } } }""")
    assert n.blobs["x"].shape == (5, 2, 3, 4) and n.blobs["y"].shape == (5, 1, 1, 1)
    assert (n.blobs["y"].data == 7).all()
    n.blobs["y"].data[...] = np.arange(5).reshape(5, 1, 1, 1)
    n.forward()
    first = n.blobs["x"].data.copy()
    n.forward()
    assert not np.array_equal(first, n.blobs["x"].data)               # gaussian: new every pass
    assert 0.5 < n.blobs["x"].data.std() < 1.5
    assert n.blobs["y"].data.ravel().tolist() == [0, 1, 2, 3, 4]    # constant: left as written


def test_shapes_and_default_filler():
    n = net("""layer { name: "d" type: "DummyData" top: "a" top: "b"
      dummy_data_param { shape { dim: 2 dim: 3 } shape { dim: 4 } } }""")
    assert n.blobs["a"].shape == (2, 3) and n.blobs["b"].shape == (4,)
    assert not n.blobs["a"].data.any() and not n.blobs["b"].data.any()   # constant 0 by default
    one = net('layer { name: "d" type: "DummyData" top: "a" top: "b" '
              'dummy_data_param { shape { dim: 3 } data_filler { type: "constant" value: 2 } } }')
    assert one.blobs["b"].data.tolist() == [2, 2, 2]


@pytest.mark.parametrize("param,message", [
    ("shape { dim: 1 } shape { dim: 2 } shape { dim: 3 }", "3 shapes for 2 tops"),
    ("num: 1 channels: 1 height: 1 width: 1 shape { dim: 1 }", "not both"),
    ("num: 1 channels: 1", "go together"),
])
def test_bad_parameters(param, message):
    with pytest.raises(FCNError, match=message):
        net(f'layer {{ name: "d" type: "DummyData" top: "a" top: "b" dummy_data_param {{ {param} }} }}')
