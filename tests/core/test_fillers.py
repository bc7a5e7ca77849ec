import numpy as np
import pytest

from core.fillers import bilinear_kernel, fill
from netspec import FCNError, caffe_pb2, parse_text

RNG = np.random.default_rng(0)


def filler(text):
    return parse_text(text, caffe_pb2.FillerParameter())


def test_constant_uniform_gaussian():
    assert (fill(filler('type: "constant" value: 2.5'), (3, 4), RNG) == 2.5).all()
    u = fill(filler('type: "uniform" min: -2 max: 3'), (200, 200), RNG)
    assert u.dtype == np.float32 and u.min() >= -2 and u.max() <= 3 and abs(u.mean() - 0.5) < 0.05
    g = fill(filler('type: "gaussian" mean: 1 std: 0.5'), (200, 200), RNG)
    assert abs(g.mean() - 1) < 0.01 and abs(g.std() - 0.5) < 0.01


def test_sparse_gaussian_keeps_about_sparse_per_output():
    g = fill(filler('type: "gaussian" sparse: 5'), (100, 400), RNG)
    assert abs((g != 0).mean() - 5 / 100) < 0.01


def test_positive_unitball_rows_sum_to_one():
    p = fill(filler('type: "positive_unitball"'), (5, 3, 2, 2), RNG)
    np.testing.assert_allclose(p.reshape(5, -1).sum(axis=1), 1, rtol=1e-5)
    assert (p >= 0).all()


@pytest.mark.parametrize("norm,fan", [("FAN_IN", 3 * 9), ("FAN_OUT", 64 * 9), ("AVERAGE", (27 + 576) / 2)])
def test_xavier_and_msra_scales(norm, fan):
    shape = (64, 3, 3, 3)
    x = fill(filler(f'type: "xavier" variance_norm: {norm}'), shape, RNG)
    assert np.abs(x).max() <= np.sqrt(3 / fan) + 1e-6
    big = fill(filler(f'type: "msra" variance_norm: {norm}'), (64, 3, 30, 30) if norm == "FAN_IN" else shape, RNG)
    expected = np.sqrt(2 / (3 * 900 if norm == "FAN_IN" else fan))
    assert abs(big.std() - expected) / expected < 0.1


@pytest.mark.parametrize("size", [4, 16, 64, 3, 5])
def test_bilinear_by_hand(size):
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    line = np.array([1 - abs(i - center) / factor for i in range(size)])
    kernel = bilinear_kernel((2, 1, size, size))
    np.testing.assert_allclose(kernel[1, 0], np.outer(line, line), rtol=1e-6)
    if size == 4:
        np.testing.assert_allclose(kernel[0, 0, 0], [0.0625, 0.1875, 0.1875, 0.0625], rtol=1e-6)


def test_unknown_filler():
    with pytest.raises(FCNError, match="unknown filler type 'zeros'"):
        fill(filler('type: "zeros"'), (2,), RNG)
