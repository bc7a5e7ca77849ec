import numpy as np
import pytest

from netspec import FCNError
from tests.layers.gradcheck import check_gradient, make_layer, run_forward

RNG = np.random.default_rng(0)
SCORES = RNG.standard_normal((2, 5, 3, 4)).astype(np.float32)
LABELS = RNG.integers(0, 5, (2, 1, 3, 4)).astype(np.float32)
LABELS[0, 0, 0, :2] = 255


def reference_softmax(x, axis=1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def reference_loss(mode):
    p = reference_softmax(SCORES.astype(np.float64))
    label = LABELS[:, 0].astype(int)
    valid = label != 255
    picked = np.take_along_axis(p, np.where(valid, label, 0)[:, None], axis=1)[:, 0]
    total = -np.log(picked[valid]).sum()
    return total / {"FULL": label.size, "VALID": valid.sum(), "BATCH_SIZE": 2, "NONE": 1}[mode]


def test_softmax_forward_and_gradient():
    _, (out,) = run_forward('type: "Softmax"', [SCORES])
    np.testing.assert_allclose(out, reference_softmax(SCORES.astype(np.float64)), rtol=1e-5)
    check_gradient('type: "Softmax"', [SCORES], eps=1e-3)
    _, (out,) = run_forward('type: "Softmax" softmax_param { axis: -1 }', [SCORES])
    np.testing.assert_allclose(out, reference_softmax(SCORES.astype(np.float64), -1), rtol=1e-5)


@pytest.mark.parametrize("spec,mode", [("normalization: FULL", "FULL"), ("normalization: VALID", "VALID"),
                                       ("normalization: BATCH_SIZE", "BATCH_SIZE"), ("normalization: NONE", "NONE"),
                                       ("normalize: false", "BATCH_SIZE"), ("normalize: true", "VALID"),
                                       ("", "VALID")])
def test_loss_normalization_modes(spec, mode):
    text = f'type: "SoftmaxWithLoss" loss_param {{ ignore_label: 255 {spec} }}'
    _, (loss,) = run_forward(text, [SCORES, LABELS])
    assert loss.shape == ()
    np.testing.assert_allclose(float(loss), reference_loss(mode), rtol=1e-5)
    check_gradient(text, [SCORES, LABELS], check=[0], eps=1e-3, top_weights=[np.float64(1.7)])


def test_label_outside_classes_is_an_error():
    bad = LABELS.copy()
    bad[1, 0, 2, 3] = 7
    layer, bottom, top = make_layer('name: "loss" type: "SoftmaxWithLoss" loss_param { ignore_label: 255 }',
                                    [SCORES, bad])
    with pytest.raises(FCNError, match="label 7 .* outside the 5 classes"):
        layer.forward(bottom, top)


def test_label_count_must_match():
    with pytest.raises(FCNError, match="one label per prediction"):
        make_layer('name: "loss" type: "SoftmaxWithLoss"', [SCORES, LABELS[:, :, :2]])
