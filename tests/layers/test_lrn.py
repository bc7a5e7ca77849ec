import numpy as np
import pytest

from tests.layers.gradcheck import check_gradient, run_forward

X = np.random.default_rng(0).standard_normal((2, 7, 4, 5)).astype(np.float32)


def across(x, size, alpha, beta, k):
    out = np.empty_like(x, dtype=np.float64)
    pre = (size - 1) // 2
    for c in range(x.shape[1]):
        lo, hi = max(0, c - pre), min(x.shape[1], c - pre + size)
        scale = k + alpha / size * (x[:, lo:hi] ** 2).sum(axis=1)
        out[:, c] = x[:, c] * scale ** -beta
    return out


def within(x, size, alpha, beta):
    pre = (size - 1) // 2
    padded = np.pad(x.astype(np.float64) ** 2, ((0, 0), (0, 0), (pre, pre), (pre, pre)))
    pooled = np.zeros_like(x, dtype=np.float64)
    for y in range(x.shape[2]):
        for z in range(x.shape[3]):
            pooled[:, :, y, z] = padded[:, :, y:y + size, z:z + size].sum(axis=(2, 3)) / size ** 2
    return x * (1 + alpha * pooled) ** -beta


@pytest.mark.parametrize("size,alpha,beta,k", [(5, 1e-4, 0.75, 1), (3, 2.0, 0.75, 2), (1, 0.5, 0.5, 1)])
def test_across_channels(size, alpha, beta, k):
    text = f'type: "LRN" lrn_param {{ local_size: {size} alpha: {alpha} beta: {beta} k: {k} }}'
    _, (out,) = run_forward(text, [X])
    np.testing.assert_allclose(out, across(X.astype(np.float64), size, alpha, beta, k), rtol=1e-5, atol=1e-6)
    check_gradient(text, [X], eps=1e-3)


def test_within_channel():
    text = 'type: "LRN" lrn_param { local_size: 3 alpha: 2 beta: 0.75 norm_region: WITHIN_CHANNEL }'
    _, (out,) = run_forward(text, [X])
    np.testing.assert_allclose(out, within(X, 3, 2.0, 0.75), rtol=1e-5, atol=1e-6)
    check_gradient(text, [X], eps=1e-3)
