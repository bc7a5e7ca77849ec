import numpy as np
import pytest

from netspec import caffe_pb2
from tests.layers.gradcheck import away_from_zero, check_gradient, run_forward

X = away_from_zero((2, 3, 4, 5))
POSITIVE = np.abs(X) + 0.5


def bnll(x):
    return np.log1p(np.exp(x))


CASES = [
    ('type: "ReLU"', X, lambda x: np.maximum(x, 0)),
    ('type: "ReLU" relu_param { negative_slope: 0.1 }', X, lambda x: np.where(x > 0, x, 0.1 * x)),
    ('type: "Sigmoid"', X, lambda x: 1 / (1 + np.exp(-x))),
    ('type: "TanH"', X, np.tanh),
    ('type: "AbsVal"', X, np.abs),
    ('type: "BNLL"', X, bnll),
    ('type: "ELU" elu_param { alpha: 0.7 }', X, lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    ('type: "Exp" exp_param { base: 2 scale: 0.5 shift: 1 }', X, lambda x: 2 ** (1 + 0.5 * x)),
    ('type: "Exp"', X, np.exp),
    ('type: "Log" log_param { base: 10 scale: 2 shift: 0.5 }', POSITIVE, lambda x: np.log10(0.5 + 2 * x)),
    ('type: "Power" power_param { power: 2 scale: 0.5 shift: 1 }', X, lambda x: (1 + 0.5 * x) ** 2),
    ('type: "Power" power_param { power: 3 scale: 2 }', X, lambda x: (2 * x) ** 3),
    ('type: "Power" power_param { power: 0.5 scale: 1 shift: 3 }', POSITIVE, lambda x: np.sqrt(3 + x)),
    ('type: "Power" power_param { power: 1 scale: -2 shift: 1 }', X, lambda x: 1 - 2 * x),
    ('type: "Dropout" dropout_param { dropout_ratio: 0.3 }', X, lambda x: x),  # TEST phase: identity
]


@pytest.mark.parametrize("text,x,reference", CASES, ids=[c[0] for c in CASES])
def test_forward(text, x, reference):
    _, (out,) = run_forward(text, [x], phase=caffe_pb2.TEST)
    np.testing.assert_allclose(out, reference(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def same_mask(layer):
    """Dropout draws a new mask each pass; numeric gradients need the same one."""
    layer.rng = np.random.default_rng(7)


@pytest.mark.parametrize("text,x,reference", CASES, ids=[c[0] for c in CASES])
def test_gradient(text, x, reference):
    check_gradient(text, [x], eps=1e-3, tol=1e-2, reseed=same_mask)


@pytest.mark.parametrize("text", ['type: "ReLU"', 'type: "Sigmoid"', 'type: "TanH"',
                                  'type: "Dropout" dropout_param { dropout_ratio: 0.5 }'])
def test_gradient_in_place(text):
    check_gradient(text, [X], in_place=True, eps=1e-3, tol=1e-2, reseed=same_mask)


def test_dropout_train_scales_kept_units():
    x = np.ones((4, 50, 10, 10), np.float32)
    layer, (out,) = run_forward('type: "Dropout" dropout_param { dropout_ratio: 0.25 }', [x], phase=caffe_pb2.TRAIN)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.02


def test_prelu_forward_and_gradient():
    text = 'type: "PReLU" prelu_param { filler { type: "uniform" min: 0.1 max: 0.5 } }'
    layer, (out,) = run_forward(text, [X])
    slope = layer.blobs[0].data.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(out, np.where(X > 0, X, X * slope), rtol=1e-6)
    check_gradient(text, [X], eps=1e-3)
    check_gradient('type: "PReLU" prelu_param { channel_shared: true }', [X], eps=1e-3)
    check_gradient(text, [X], eps=1e-3, in_place=True)


def test_threshold():
    _, (out,) = run_forward('type: "Threshold" threshold_param { threshold: 0.2 }', [X])
    np.testing.assert_array_equal(out, (X > 0.2).astype(np.float32))
