"""The gradient checker itself: it must reject a wrong backward at the
scale of every loss normalization, where all true gradients are small
(a VALID-normalized loss over 120 elements: each below 0.01)."""
import numpy as np
import pytest

from layers.loss import SigmoidCrossEntropyLoss
from layers.softmax import SoftmaxWithLoss
from tests.layers.gradcheck import check_gradient

RNG = np.random.default_rng(3)
X = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
TARGETS = (RNG.random(X.shape) > 0.5).astype(np.float32)
TARGETS[0, 0] = -1
SCORES = RNG.standard_normal((2, 5, 3, 4)).astype(np.float32)
LABELS = RNG.integers(0, 5, (2, 1, 3, 4)).astype(np.float32)
LABELS[0, 0, 0, :2] = 255

SIGMOID = 'type: "SigmoidCrossEntropyLoss" loss_param {{ ignore_label: -1 normalization: {} }}'
SOFTMAX = 'type: "SoftmaxWithLoss" loss_param {{ ignore_label: 255 normalization: {} }}'
CASES = [(SigmoidCrossEntropyLoss, SIGMOID, [X, TARGETS], mode) for mode in ("VALID", "FULL", "BATCH_SIZE", "NONE")] + \
        [(SoftmaxWithLoss, SOFTMAX, [SCORES, LABELS], mode) for mode in ("VALID", "FULL", "BATCH_SIZE", "NONE")]
WRONG = {"zero": lambda d: 0 * d, "sign flipped": lambda d: -d, "twice": lambda d: 2 * d,
         "normalized by 110 instead of 100": lambda d: d * (100 / 110)}
IDS = [f"{cls.__name__}-{mode}" for cls, _, _, mode in CASES]


@pytest.mark.parametrize("cls,text,bottoms,mode", CASES, ids=IDS)
def test_right_gradients_pass(cls, text, bottoms, mode):
    check_gradient(text.format(mode), bottoms, check=[0], eps=1e-3, top_weights=[np.float64(1.0)])


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("cls,text,bottoms,mode", CASES, ids=IDS)
def test_wrong_gradients_fail(monkeypatch, cls, text, bottoms, mode, wrong):
    right = cls.backward

    def backward(self, top, propagate_down, bottom):
        right(self, top, propagate_down, bottom)
        bottom[0].diff[...] = WRONG[wrong](bottom[0].diff)
    monkeypatch.setattr(cls, "backward", backward)
    with pytest.raises(AssertionError, match="gradient mismatch"):
        check_gradient(text.format(mode), bottoms, check=[0], eps=1e-3, top_weights=[np.float64(1.0)])


def test_the_true_gradients_here_are_small():
    """What makes the cases above worth running: under the old absolute
    floor of 1 with tolerance 0.02, a zero gradient passed."""
    from tests.layers.gradcheck import make_layer
    layer, bottom, top = make_layer(SIGMOID.format("VALID"), [X, TARGETS])
    layer.forward(bottom, top)
    top[0].diff[...] = 1.0
    layer.backward(top, [True, False], bottom)
    assert np.abs(bottom[0].diff).max() < 0.01


def test_tops_start_as_nan_so_unwritten_elements_show(monkeypatch):
    """The arena lends tops that hold old values: the test harness starts
    them as NaN, so a layer writing all but one element fails its tests."""
    from layers.neuron import ReLU
    from tests.layers.gradcheck import run_forward
    _, (good,) = run_forward('type: "ReLU"', [X])
    assert not np.isnan(good).any()
    monkeypatch.setattr(ReLU, "forward", lambda self, bottom, top: None)
    _, (untouched,) = run_forward('type: "ReLU"', [X])
    assert np.isnan(untouched).all()
