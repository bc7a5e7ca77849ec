import numpy as np
import pytest

from core.net import Net
from netspec import FCNError, caffe_pb2, parse_text
from weights.surgery import expand_score, interp, transplant, upsample_filt


@pytest.mark.parametrize("size", [4, 16, 64, 3, 5])
def test_upsample_filt_by_hand(size):
    factor = -(-size // 2)
    center = factor - 1 if size % 2 else factor - 0.5
    expected = np.array([[(1 - abs(i - center) / factor) * (1 - abs(j - center) / factor)
                          for j in range(size)] for i in range(size)])
    np.testing.assert_allclose(upsample_filt(size), expected)


def test_size_4_kernel_values():
    np.testing.assert_allclose(upsample_filt(4)[0], [0.0625, 0.1875, 0.1875, 0.0625])
    np.testing.assert_allclose(upsample_filt(3)[1], [0.5, 1, 0.5])


def net(text):
    return Net(parse_text('layer { name: "i" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 dim: 2 dim: 2 } } } '
                          + text, caffe_pb2.NetParameter()))


def test_interp_puts_kernels_on_the_diagonal():
    n = net('layer { name: "up" type: "Deconvolution" bottom: "x" top: "y" '
            'convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }')
    n.params["up"][0].data[...] = 7
    interp(n, ["up"])
    w = n.params["up"][0].data
    for i in range(3):
        for j in range(3):
            np.testing.assert_allclose(w[i, j], upsample_filt(4) if i == j else 0)
    # Bilinear upsampling of a constant image is constant where two taps overlap.
    out = n.forward(x=np.ones((1, 3, 5, 5), np.float32))["y"]
    np.testing.assert_allclose(out[0, :, 2:-2, 2:-2], 1, rtol=1e-6)


def test_interp_refuses_bad_shapes():
    n = net('layer { name: "up" type: "Deconvolution" bottom: "x" top: "y" '
            'convolution_param { num_output: 2 kernel_size: 4 stride: 2 } }')
    with pytest.raises(FCNError, match="as many inputs as outputs"):
        interp(n, ["up"])


def test_transplant_copies_coerces_and_drops():
    fc = net('layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 4 } } '
             'layer { name: "gone" type: "InnerProduct" bottom: "x" top: "z" inner_product_param { num_output: 2 } }')
    conv = net('layer { name: "fc" type: "Convolution" bottom: "x" top: "y" '
               'convolution_param { num_output: 4 kernel_size: 2 } }')
    fc.params["fc"][0].data[...] = np.arange(48).reshape(4, 12)
    fc.params["fc"][1].data[...] = [1, 2, 3, 4]
    lines = []
    actions = transplant(conv, fc, log=lines.append)
    assert actions == [("coerce", "fc", 0), ("copy", "fc", 1), ("drop", "gone", None)]
    np.testing.assert_array_equal(conv.params["fc"][0].data.reshape(4, 12), np.arange(48).reshape(4, 12))
    assert "coercing fc 0 from [4, 12] to [4, 3, 2, 2]" in lines


def test_expand_score():
    small = net('layer { name: "s" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 2 kernel_size: 1 } }')
    big = net('layer { name: "t" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 5 kernel_size: 1 } }')
    small.params["s"][0].data[...] = 3
    small.params["s"][1].data[...] = [1, 2]
    expand_score(big, "t", small, "s")
    assert (big.params["t"][0].data[:2] == 3).all() and not big.params["t"][0].data[2:].any()
    np.testing.assert_array_equal(big.params["t"][1].data, [1, 2, 0, 0, 0])
