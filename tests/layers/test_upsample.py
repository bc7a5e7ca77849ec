"""Upsample (SegNet's), and MAX Pooling's mask top it reads, against
independent numpy and by finite differences."""
import numpy as np
import pytest

from core.net import Net
from netspec import FCNError, caffe_pb2, parse_text
from tests.layers.gradcheck import check_gradient, distinct, make_layer, run_forward

X = distinct((2, 3, 6, 8), seed=4)


def numpy_unpool(x, k=2):
    """Each k x k window's maximum kept where it was, the rest zero."""
    out = np.zeros_like(x)
    n, c, h, w = x.shape
    for i in range(n):
        for j in range(c):
            for y in range(0, h, k):
                for z in range(0, w, k):
                    window = x[i, j, y:y + k, z:z + k]
                    dy, dz = np.unravel_index(window.argmax(), window.shape)
                    out[i, j, y + dy, z + dz] = window.max()
    return out


def test_pooling_mask_is_the_flat_index_in_each_plane():
    _, (pooled, mask) = run_forward('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }', [X], ntop=2)
    planes = X.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, mask.reshape(2, 3, -1).astype(int), axis=2),
                                  pooled.reshape(2, 3, -1))


def test_max_unpooling_puts_each_maximum_back():
    _, (pooled, mask) = run_forward('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }', [X], ntop=2)
    _, (up,) = run_forward('type: "Upsample" upsample_param { scale: 2 }', [pooled, mask])
    np.testing.assert_array_equal(up, numpy_unpool(X))
    _, (sized,) = run_forward('type: "Upsample"', [pooled, mask, X])          # the pooling's input gives the size
    np.testing.assert_array_equal(sized, numpy_unpool(X))
    check_gradient('type: "Upsample" upsample_param { scale: 2 }', [pooled, mask], check=[0])


def test_nearest_neighbour_with_one_bottom():
    x = X[:, :, :3, :4].copy()
    _, (up,) = run_forward('type: "Upsample" upsample_param { scale_h: 2 scale_w: 3 }', [x])
    np.testing.assert_array_equal(up, np.repeat(np.repeat(x, 2, axis=2), 3, axis=3))
    check_gradient('type: "Upsample" upsample_param { scale: 2 }', [x])


def test_a_mask_beyond_the_output_is_an_error():
    _, (pooled, mask) = run_forward('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }', [X], ntop=2)
    layer, bottom, top = make_layer('name: "u" type: "Upsample" upsample_param { upsample_h: 2 upsample_w: 2 }',
                                    [pooled, mask])
    with pytest.raises(FCNError, match="mask index lies outside"):
        layer.forward(bottom, top)


SEGNET = """name: "segnet-like" force_backward: false
layer { name: "data" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 2 dim: 3 dim: 8 dim: 10 } shape { dim: 2 dim: 1 dim: 8 dim: 10 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" top: "pool1_mask"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "upsample1" type: "Upsample" bottom: "pool1" bottom: "pool1_mask" top: "up1"
        upsample_param { scale: 2 } }
layer { name: "score" type: "Convolution" bottom: "up1" top: "score"
        convolution_param { num_output: 3 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
"""


def test_a_segnet_style_net_loads_and_trains():
    from solvers.solver import Solver
    param = caffe_pb2.SolverParameter(base_lr=0.01, lr_policy="fixed", momentum=0.9, type="SGD")
    param.train_net_param.CopyFrom(parse_text(SEGNET, caffe_pb2.NetParameter()))
    solver = Solver(param, "segnet-like")
    rng = np.random.default_rng(0)
    solver.net.blobs["data"].data[...] = rng.standard_normal((2, 3, 8, 10))
    solver.net.blobs["label"].data[...] = rng.integers(0, 3, (2, 1, 8, 10))
    first = solver.net.params["conv1"][0].data.copy()
    losses = []
    for _ in range(5):
        solver.step(1)
        losses.append(solver.net.loss)
    assert not np.array_equal(first, solver.net.params["conv1"][0].data)   # gradients passed the unpooling
    assert losses[-1] < losses[0]
    assert Net(parse_text(SEGNET, caffe_pb2.NetParameter()), "TEST").blobs["up1"].shape == (2, 4, 8, 10)
