"""Crop offsets from coordinate maps, against offsets derived by hand."""
import json
import os

import pytest

from netspec import FCNError, NetSpec, fcn_models
from netspec import layers as L
from netspec import params as P
from netspec.coord_map import crop, crop_offsets
from tests.conftest import REFERENCE


def conv(x, ks, stride=1, pad=0, dilation=None):
    extra = {} if dilation is None else {"dilation": dilation}
    return L.Convolution(x, kernel_size=ks, stride=stride, pad=pad, num_output=1, **extra)


def deconv(x, ks, stride, pad=0):
    return L.Deconvolution(x, convolution_param=dict(num_output=1, kernel_size=ks, stride=stride, pad=pad))


@pytest.mark.parametrize("pad,expected", [(100, 19), (101, 20), (132, 51), (81, 0)])
def test_first_pad_shifts_final_crop(pad, expected):
    """By hand, centres of receptive fields: conv1 output x sits at input
    x + 1 - pad; five 2x2/2 pools put pool5 i at conv1 32i + 15.5; fc6 (7x7)
    i at pool5 i + 3; the 64/32 deconvolution puts output j at fc6
    (j - 31.5) / 32. So output j sits at input j + 81 - pad: offset pad - 81."""
    n = NetSpec()
    n.data = L.Input()
    x = conv(n.data, 3, pad=pad)
    for _ in range(5):
        x = L.Pooling(x, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    x = conv(x, 7)
    up = deconv(x, 64, 32)
    assert crop_offsets(up, n.data) == (2, [expected])


def test_single_conv_and_stride():
    n = NetSpec()
    n.data = L.Input()
    # A 5x5 convolution without pad shrinks by 2 on each side: the input is 2 ahead.
    assert crop_offsets(n.data, conv(n.data, 5)) == (2, [2])
    # A stride-2 output has half the input's scale: no crop aligns them.
    with pytest.raises(FCNError, match="differ in scale"):
        crop_offsets(conv(n.data, 3, stride=2), n.data)


def test_dilation_widens_the_kernel():
    n = NetSpec()
    n.data = L.Input()
    # 3x3 with dilation 2 covers 5 pixels: 2 on each side.
    assert crop_offsets(n.data, conv(n.data, 3, dilation=2)) == (2, [2])


def test_fractional_alignment_is_refused():
    n = NetSpec()
    n.data = L.Input()
    with pytest.raises(FCNError, match="fraction"):
        crop_offsets(n.data, conv(n.data, 2))


def test_unconnected_tops_are_refused():
    a, b = L.Input(), L.Input()
    with pytest.raises(FCNError, match="no common input"):
        crop(conv(a, 3), b)


def test_per_axis_offsets():
    n = NetSpec()
    n.data = L.Input()
    x = L.Convolution(n.data, kernel_size=[3, 5], num_output=1)
    assert crop_offsets(n.data, x) == (2, [1, 2])


def test_published_offsets():
    offsets = {}
    for model in ("voc-fcn16s", "voc-fcn8s", "voc-fcn-alexnet"):
        net = fcn_models.net(model, "val")
        offsets[model] = [l.crop_param.offset[0] for l in net.layer if l.type == "Crop"]
    assert offsets == {"voc-fcn16s": [5, 27], "voc-fcn8s": [5, 9, 31], "voc-fcn-alexnet": [18]}


def test_crops_fit_full_size_reference_shapes():
    """Each crop's offset plus its output size fits inside the cropped blob
    at every published size, and the final score matches the input size."""
    with open(os.path.join(REFERENCE, "shapes", "shapes.json")) as f:
        shapes = json.load(f)
    checked = 0
    for key, blobs in shapes.items():
        model, _, size = key.split("/")
        net = fcn_models.net(model, "val")
        for layer in net.layer:
            if layer.type != "Crop":
                continue
            big, ref = (blobs[b] for b in layer.bottom)
            out = blobs[layer.top[0]]
            assert out[2:] == ref[2:]
            for axis in (2, 3):
                assert layer.crop_param.offset[0] + out[axis] <= big[axis]
            checked += 1
        assert blobs["score"][2:] == blobs["data"][2:]
    assert checked > 10
