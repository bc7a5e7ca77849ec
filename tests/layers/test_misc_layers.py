"""Flatten, Reshape, Accuracy, ArgMax, Tile, Reduction, EuclideanLoss, SigmoidCrossEntropyLoss."""
import numpy as np
import pytest

from netspec import FCNError
from tests.layers.gradcheck import check_gradient, make_layer, run_forward

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("text,shape", [
    ('type: "Flatten"', (2, 60)),
    ('type: "Flatten" flatten_param { axis: 2 }', (2, 3, 20)),
    ('type: "Flatten" flatten_param { axis: 1 end_axis: 2 }', (2, 12, 5)),
    ('type: "Reshape" reshape_param { shape { dim: 0 dim: -1 dim: 5 } }', (2, 12, 5)),
    ('type: "Reshape" reshape_param { shape { dim: 3 dim: 1 } axis: 1 num_axes: 1 }', (2, 3, 1, 4, 5)),
    ('type: "Reshape" reshape_param { shape { dim: 1 } axis: 0 num_axes: 0 }', (1, 2, 3, 4, 5)),
])
def test_views(text, shape):
    _, (out,) = run_forward(text, [X])
    assert out.shape == shape
    np.testing.assert_array_equal(out.ravel(), X.ravel())
    check_gradient(text, [X], samples=20)


def test_reshape_count_mismatch():
    with pytest.raises(FCNError, match="holds 14 values"):
        make_layer('name: "r" type: "Reshape" reshape_param { shape { dim: 2 dim: 7 } }', [X[:, :, :1, :1].copy()])


def test_accuracy_top_k_ignore_and_per_class():
    scores = np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]], np.float32)
    labels = np.array([2, 0, 1, 9], np.float32)
    _, (top1, per_class) = run_forward('type: "Accuracy" accuracy_param { ignore_label: 9 }', [scores, labels], ntop=2)
    assert float(top1) == pytest.approx(1 / 3)
    np.testing.assert_allclose(per_class, [1, 0, 0])
    _, (top2,) = run_forward('type: "Accuracy" accuracy_param { top_k: 2 ignore_label: 9 }', [scores, labels])
    assert float(top2) == pytest.approx(1.0)


def test_argmax():
    x = np.array([[[[3, 1, 3, 2]]], [[[0, 5, 4, 5]]]], np.float32)
    _, (out,) = run_forward('type: "ArgMax" argmax_param { top_k: 2 out_max_val: true }', [x])
    assert out.shape == (2, 2, 2, 1)
    np.testing.assert_array_equal(out[:, 0, :, 0], [[2, 0], [3, 1]])   # ties: larger index first
    np.testing.assert_array_equal(out[:, 1, :, 0], [[3, 3], [5, 5]])
    _, (out,) = run_forward('type: "ArgMax" argmax_param { axis: 1 }', [X])
    np.testing.assert_array_equal(out[:, 0], X.argmax(axis=1))


def test_argmax_refuses_backward():
    layer, bottom, top = make_layer('name: "am" type: "ArgMax"', [X])
    layer.forward(bottom, top)
    with pytest.raises(FCNError, match="layer 'am' .*has no gradient"):
        layer.backward(top, [True], bottom)
    layer.backward(top, [False], bottom)


def test_tile():
    _, (out,) = run_forward('type: "Tile" tile_param { axis: 1 tiles: 3 }', [X])
    np.testing.assert_array_equal(out, np.tile(X, (1, 3, 1, 1)))
    check_gradient('type: "Tile" tile_param { axis: 2 tiles: 2 }', [X])


@pytest.mark.parametrize("op,reference", [("SUM", lambda x: x.sum(-1)), ("ASUM", lambda x: np.abs(x).sum(-1)),
                                          ("SUMSQ", lambda x: (x * x).sum(-1)), ("MEAN", lambda x: x.mean(-1))])
def test_reduction(op, reference):
    text = f'type: "Reduction" reduction_param {{ operation: {op} axis: 2 coeff: 1.5 }}'
    _, (out,) = run_forward(text, [X])
    np.testing.assert_allclose(out, 1.5 * reference(X.reshape(2, 3, -1).astype(np.float64)), rtol=1e-5)
    check_gradient(text, [X])


def test_euclidean_loss():
    y = RNG.standard_normal(X.shape).astype(np.float32)
    _, (loss,) = run_forward('type: "EuclideanLoss"', [X, y])
    assert float(loss) == pytest.approx(((X.astype(np.float64) - y) ** 2).sum() / 2 / 2, rel=1e-5)
    check_gradient('type: "EuclideanLoss"', [X, y], top_weights=[np.float64(0.7)])


def test_sigmoid_cross_entropy_loss():
    t = (RNG.random(X.shape) > 0.5).astype(np.float32)
    x = X.astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum() / 2   # BATCH_SIZE by default
    _, (loss,) = run_forward('type: "SigmoidCrossEntropyLoss"', [X, t])
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    check_gradient('type: "SigmoidCrossEntropyLoss"', [X, t], check=[0], top_weights=[np.float64(1.3)])
    t[0, 0] = -1
    check_gradient('type: "SigmoidCrossEntropyLoss" loss_param { ignore_label: -1 normalization: VALID }',
                   [X, t], check=[0], top_weights=[np.float64(1.0)])
