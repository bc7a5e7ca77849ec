import numpy as np

from netspec import caffe_pb2
from tests.layers.gradcheck import check_gradient, make_layer

# Not seed 0: the gradient checker draws its top weights from seed 0, and top
# weights affine in X would give BatchNorm a gradient of exactly zero.
X = (np.random.default_rng(1).standard_normal((4, 3, 5, 2)) * 2 + 1).astype(np.float32)


def test_train_normalizes_and_accumulates_statistics():
    layer, bottom, top = make_layer('type: "BatchNorm" batch_norm_param { moving_average_fraction: 0.9 }', [X])
    layer.forward(bottom, top)
    x = X.astype(np.float64)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-4, atol=1e-5)
    m = X.size // 3
    np.testing.assert_allclose(layer.blobs[0].data, mean, rtol=1e-5)
    np.testing.assert_allclose(layer.blobs[1].data, var * m / (m - 1), rtol=1e-5)
    assert layer.blobs[2].data[0] == 1
    layer.forward(bottom, top)
    assert layer.blobs[2].data[0] == np.float32(1.9)
    assert [p.lr_mult for p in layer.param.param] == [0, 0, 0]


def test_global_stats_use_the_stored_sums():
    layer, bottom, top = make_layer('type: "BatchNorm"', [X], phase=caffe_pb2.TEST)
    layer.blobs[0].data[...] = [2, 4, 6]
    layer.blobs[1].data[...] = [8, 2, 4]
    layer.blobs[2].data[...] = 2
    layer.forward(bottom, top)
    mean, var = np.array([1, 2, 3.0]), np.array([4, 1, 2.0])
    expected = (X - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-5)


def test_gradients():
    check_gradient('type: "BatchNorm"', [X], eps=1e-3, params=False)
    check_gradient('type: "BatchNorm" batch_norm_param { use_global_stats: true }', [X], eps=1e-3, params=False)
