"""Winograd F(2x2, 3x3) against a direct float64 convolution, over the shapes
its tiling and padding must handle: odd and even sizes, pads from a crop
(negative) to wider than the kernel, bands down to single tiles, and the
transposed (backward-data) direction."""
import numpy as np
import pytest

from backends.cpu.winograd import Winograd
from core.options import Options


def padded(image, pad):
    """The image in float64 with its pad; a negative pad crops."""
    ph, pw = pad
    x = image.astype(np.float64)
    x = np.pad(x, ((0, 0), (max(ph, 0), max(ph, 0)), (max(pw, 0), max(pw, 0))))
    return x[:, max(-ph, 0):x.shape[1] - max(-ph, 0), max(-pw, 0):x.shape[2] - max(-pw, 0)]


def direct(image, weights, pad):
    """3x3 stride-1 correlation in float64."""
    x = padded(image, pad)
    oh, ow = x.shape[1] - 2, x.shape[2] - 2
    out = np.zeros((weights.shape[0], oh, ow))
    for i in range(3):
        for j in range(3):
            out += np.einsum("kc,chw->khw", weights[:, :, i, j], x[:, i:i + oh, j:j + ow])
    return out


# Odd and even sizes, pads from a crop to wider than the kernel.
SHAPES = pytest.mark.parametrize("channels,kernels,height,width,pad", [
    (3, 4, 8, 8, (1, 1)), (2, 5, 7, 9, (0, 0)), (4, 3, 5, 6, (2, 3)),
    (1, 2, 9, 4, (-1, 1)), (3, 3, 3, 3, (4, 0)), (2, 2, 10, 11, (1, 0))])


def algorithm(tile_budget=None):
    """The Winograd algorithm with that budget of floats per band of tiles
    (the calls below give their pads themselves: no layer geometry)."""
    options = Options() if tile_budget is None else Options(tile_budget=tile_budget)
    return Winograd(None, 1, 0, 0, options, small_maps=None)


@pytest.fixture(params=["whole", "single tiles"])
def budget(request):
    return algorithm(1 if request.param == "single tiles" else None)


@SHAPES
def test_matches_direct_convolution(budget, channels, kernels, height, width, pad):
    rng = np.random.default_rng(channels * 10 + height)
    image = rng.standard_normal((channels, height, width)).astype(np.float32)
    weights = rng.standard_normal((kernels, channels, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(kernels).astype(np.float32)
    scale = rng.uniform(0.5, 2, kernels).astype(np.float32)
    expected = direct(image, weights, pad) * scale[:, None, None] + bias[:, None, None]
    out = np.full(expected.shape, np.nan, np.float32)
    budget.convolve(image, budget.transformed(weights, False), scale, bias, pad, out)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pad", [(0, 0), (1, 1), (2, 1), (3, 4)])
def test_transposed_is_the_adjoint(budget, pad):
    """<conv(x), y> == <x, conv_transposed(y)>: backward-data by Winograd is
    the transpose of its forward, with the pad that restores x's size."""
    rng = np.random.default_rng(sum(pad))
    x = rng.standard_normal((3, 9, 8)).astype(np.float32)
    weights = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = rng.standard_normal(direct(x, weights, pad).shape).astype(np.float32)
    back = np.full(x.shape, np.nan, np.float32)
    budget.convolve(y, budget.transformed(weights, True), np.ones(3, np.float32), np.zeros(3, np.float32),
                    (2 - pad[0], 2 - pad[1]), back)
    np.testing.assert_allclose((direct(x, weights, pad) * y).sum(), (x.astype(np.float64) * back).sum(), rtol=1e-5)


def test_bands_cover_every_tile_once():
    for budget, h, w in [(1, 3, 5), (16 * 7, 4, 20), (1 << 23, 9, 9), (16 * 40, 5, 6)]:
        seen = np.zeros((h, w), int)
        for ty0, ty1, tx0, tx1 in algorithm(budget).tile_bands(h, w, 16):
            assert (ty1 - ty0) * (tx1 - tx0) <= max(1, budget // 16)
            seen[ty0:ty1, tx0:tx1] += 1
        assert (seen == 1).all()


def direct_weight_gradient(image, out_diff, pad):
    """d<conv(image, w), out_diff>/dw in float64, from the same correlation."""
    x = padded(image, pad)
    oh, ow = out_diff.shape[1:]
    grad = np.zeros((out_diff.shape[0], image.shape[0], 3, 3))
    for i in range(3):
        for j in range(3):
            grad[:, :, i, j] = np.einsum("khw,chw->kc", out_diff, x[:, i:i + oh, j:j + ow])
    return grad


@SHAPES
def test_weight_gradient_matches_direct_and_accumulates(budget, channels, kernels, height, width, pad):
    rng = np.random.default_rng(channels * 7 + width)
    image = rng.standard_normal((channels, height, width)).astype(np.float32)
    out_shape = direct(image, np.zeros((kernels, channels, 3, 3), np.float32), pad).shape
    out_diff = rng.standard_normal(out_shape).astype(np.float32)
    already = rng.standard_normal((kernels, channels, 3, 3)).astype(np.float32)
    wd = already.copy()
    budget.kernel_gradient(image, out_diff, pad, wd)
    np.testing.assert_allclose(wd, already + direct_weight_gradient(image, out_diff, pad), rtol=1e-5, atol=1e-4)
