"""Crop, Eltwise, Concat, Slice, Split, Silence."""
import numpy as np
import pytest

from netspec import FCNError
from tests.layers.gradcheck import check_gradient, distinct, make_layer, run_forward

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
B = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
C = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)


def test_crop_forward_and_gradient():
    ref = np.zeros((2, 3, 3, 4), np.float32)
    _, (out,) = run_forward('type: "Crop" crop_param { axis: 2 offset: 1 offset: 2 }', [A, ref])
    np.testing.assert_array_equal(out, A[:, :, 1:4, 2:6])
    _, (out,) = run_forward('type: "Crop" crop_param { axis: 1 offset: 1 }', [A, np.zeros((2, 2, 2, 2), np.float32)])
    np.testing.assert_array_equal(out, A[:, 1:3, 1:3, 1:3])
    check_gradient('type: "Crop" crop_param { axis: 2 offset: 2 }', [A, ref], check=[0])


def test_crop_out_of_bounds_names_shapes():
    with pytest.raises(FCNError, match=r"'crop'.*offset 5.*\[2, 3, 6, 7\]"):
        make_layer('name: "crop" type: "Crop" crop_param { offset: 5 }', [A, np.zeros((2, 3, 3, 3), np.float32)])


@pytest.mark.parametrize("op,reference", [
    ("operation: SUM", lambda a, b, c: a + b + c),
    ("operation: SUM coeff: 0.5 coeff: -2 coeff: 1", lambda a, b, c: 0.5 * a - 2 * b + c),
    ("operation: PROD", lambda a, b, c: a * b * c),
    ("operation: MAX", lambda a, b, c: np.maximum(np.maximum(a, b), c)),
])
def test_eltwise(op, reference):
    a, b, c = distinct((3,) + A.shape) / 10  # distinct across all three bottoms: no ties for MAX
    _, (out,) = run_forward(f'type: "Eltwise" eltwise_param {{ {op} }}', [a, b, c])
    np.testing.assert_allclose(out, reference(a, b, c), rtol=1e-5, atol=1e-6)
    check_gradient(f'type: "Eltwise" eltwise_param {{ {op} }}', [a, b, c], eps=1e-3)


def test_eltwise_shape_mismatch_names_both():
    with pytest.raises(FCNError, match=r"bottom0 \[2, 3, 6, 7\], bottom1 \[2, 3, 6, 6\]"):
        make_layer('name: "e" type: "Eltwise"', [A, A[..., :6]])


def test_concat_and_slice_are_inverse():
    _, (out,) = run_forward('type: "Concat"', [A, B[:, :2]])
    np.testing.assert_array_equal(out, np.concatenate([A, B[:, :2]], axis=1))
    check_gradient('type: "Concat" concat_param { axis: 2 }', [A, B[:, :, :2]])
    _, parts = run_forward('type: "Slice" slice_param { axis: 1 slice_point: 1 slice_point: 2 }', [A], ntop=3)
    for i, part in enumerate(parts):
        np.testing.assert_array_equal(part, A[:, i:i + 1])
    check_gradient('type: "Slice" slice_param { axis: 3 }', [A[..., :6]], ntop=2)
    with pytest.raises(FCNError, match="every axis but 1"):
        make_layer('name: "c" type: "Concat"', [A, B[:, :, :2]])


def test_split_sums_gradients_and_silence():
    _, (a, b) = run_forward('type: "Split"', [A], ntop=2)
    np.testing.assert_array_equal(a, A)
    check_gradient('type: "Split"', [A], ntop=2)
    layer, bottom, top = make_layer('type: "Silence"', [A], ntop=0)
    layer.backward(top, [True], bottom)
    assert not bottom[0].diff.any()
