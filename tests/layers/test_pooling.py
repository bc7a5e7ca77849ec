import math

import numpy as np
import pytest

from layers.pooling import max_pool, max_pool_2x2, max_pool_values, pooled_size
from tests.layers.gradcheck import check_gradient, distinct, run_forward


def naive_pool(x, k, s, p, method):
    """Caffe's pooling written out: ceil rounding, last window inside, AVE over the padded window."""
    n, c, h, w = x.shape
    oh, ow = (math.ceil((d + 2 * p - k) / s) + 1 for d in (h, w))
    if p:
        oh -= (oh - 1) * s >= h + p
        ow -= (ow - 1) * s >= w + p
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        for xo in range(ow):
            y0, x0 = y * s - p, xo * s - p
            y1, x1 = min(y0 + k, h + p), min(x0 + k, w + p)
            window = x[:, :, max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
            if method == "MAX":
                out[:, :, y, xo] = window.max(axis=(2, 3))
            else:
                out[:, :, y, xo] = window.sum(axis=(2, 3)) / ((y1 - y0) * (x1 - x0))
    return out


CASES = [(2, 2, 0, (1, 2, 7, 6)), (2, 2, 0, (2, 3, 6, 9)), (3, 2, 0, (2, 1, 9, 8)), (3, 2, 1, (1, 2, 6, 7)), (3, 1, 1, (1, 1, 5, 5)),
         (2, 3, 1, (1, 1, 8, 10))]


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("k,s,p,shape", CASES)
def test_forward_matches_naive(method, k, s, p, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _, (out,) = run_forward(f'type: "Pooling" pooling_param {{ pool: {method} kernel_size: {k} stride: {s} pad: {p} }}', [x])
    np.testing.assert_allclose(out, naive_pool(x.astype(np.float64), k, s, p, method), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("k,s,p,shape", CASES)
def test_gradient(method, k, s, p, shape):
    check_gradient(f'type: "Pooling" pooling_param {{ pool: {method} kernel_size: {k} stride: {s} pad: {p} }}',
                   [distinct(shape)], eps=1e-2)


def test_output_size_rounds_up():
    assert pooled_size(7, 2, 2, 0) == 4        # ceil((7 - 2) / 2) + 1
    assert pooled_size(6, 3, 2, 1) == 4        # the 4th window starts inside the image
    assert pooled_size(5, 2, 2, 1) == 3        # the 4th would start in the padding: dropped
    assert pooled_size(7, 2, 2, 0, ceil_mode=False) == 3


def test_global_and_mask_top():
    x = distinct((2, 3, 4, 5))
    _, (out,) = run_forward('type: "Pooling" pooling_param { pool: AVE global_pooling: true }', [x])
    np.testing.assert_allclose(out[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-5)
    _, (out, mask) = run_forward('type: "Pooling" top: "a" top: "b" pooling_param { pool: MAX kernel_size: 2 stride: 2 }',
                                 [x], ntop=2)
    flat = x.reshape(2, 3, -1)
    picked = np.take_along_axis(flat, mask.reshape(2, 3, -1).astype(int), axis=2)
    np.testing.assert_array_equal(picked.reshape(out.shape), out)


def test_argmax_is_kept_only_where_a_gradient_will_read_it():
    """A deploy net (nothing to backpropagate) keeps no argmax mask; the
    same net with force_backward keeps it, and both pool the same."""
    from core.net import Net
    from netspec import FCNError, caffe_pb2, parse_text
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 6 dim: 6 } } } '
            'layer { name: "pool" type: "Pooling" bottom: "x" top: "y" '
            'pooling_param { pool: MAX kernel_size: 3 stride: 2 } }')
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    outputs = []
    for force in ("", "force_backward: true "):
        net = Net(parse_text(force + text, caffe_pb2.NetParameter()), "TEST")
        outputs.append(net.forward(x=x)["y"].copy())
        pool = net.layer("pool")
        assert pool.mask.size == (2 * 3 * 3 if force else 0)
        if not force:
            with pytest.raises(FCNError, match="no gradient reaches it"):
                pool.backward(net.top_vecs[1], [True], net.bottom_vecs[1])
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], naive_pool(x, 3, 2, 0, "MAX"))


@pytest.mark.parametrize("shape", [(1, 2, 6, 8), (2, 3, 7, 9), (1, 1, 1, 3)])
def test_2x2_path_matches_the_general_one_ties_included(shape):
    """FCN's pools (kernel 2, stride 2) take a path of their own; it must
    pick the same values and the same argmax, the first in row-major
    order, where several are equal."""
    x = np.random.default_rng(1).integers(-2, 3, shape).astype(np.float32)
    oh, ow = (pooled_size(d, 2, 2, 0) for d in shape[2:])
    planes = shape[0] * shape[1]
    outputs = []
    for run in (lambda out, mask: max_pool(x, 2, 2, 2, 2, 0, 0, out, mask, 0, planes),
                lambda out, mask: max_pool_2x2(x, out, mask, 0, planes)):
        out = np.full(shape[:2] + (oh, ow), np.nan, np.float32)
        mask = np.full(out.shape, -7, np.int32)
        run(out, mask)
        outputs.append((out, mask))
    np.testing.assert_array_equal(outputs[1][0], outputs[0][0])
    np.testing.assert_array_equal(outputs[1][1], outputs[0][1])
    assert not np.isnan(outputs[1][0]).any() and (outputs[1][1] >= 0).all()


@pytest.mark.parametrize("k,s,p,shape", CASES + [(3, 2, 0, (1, 3, 11, 12))])
def test_values_only_path_matches_naive_with_nan_and_infinities(k, s, p, shape):
    """A TEST pass keeps no argmax and reduces rows first; NaN never wins a
    comparison there either (as in Caffe), and -inf windows stay -inf."""
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::7] = np.nan
    x.reshape(-1)[3::11] = -np.inf
    out = np.full(shape[:2] + tuple(pooled_size(d, k, s, p) for d in shape[2:]), 7, np.float32)
    planes = shape[0] * shape[1]
    max_pool_values(x, k, k, s, s, p, p, out, 0, planes)
    expected = np.full(out.shape, 7, np.float32)
    max_pool(x, k, k, s, s, p, p, expected, np.zeros(0, np.int32).reshape(0, 0, 0, 0), 0, planes)
    np.testing.assert_array_equal(out, expected)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out, naive_pool(np.where(np.isnan(x), -np.inf, x), k, s, p, "MAX"))
