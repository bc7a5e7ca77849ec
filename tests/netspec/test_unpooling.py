"""The talk's unpoolings as NetSpec builds them, against numpy."""
import numpy as np

from core.net import Net
from netspec import NetSpec, unpooling
from netspec import layers as L
from weights.surgery import nails

X = np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32)


def run(build):
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=list(X.shape)))
    n.up = build(n.data)
    net = Net(n.to_proto(), "TEST", keep_blobs=True)
    return net


def test_nearest_is_repeat():
    net = run(lambda x: unpooling.nearest(x, 2, 3))
    net.forward(data=X)
    np.testing.assert_array_equal(net.blobs["up"].data, np.repeat(np.repeat(X, 3, axis=2), 3, axis=3))
    assert net.params["up"][0].data.shape == (2, 1, 3, 3)


def test_bed_of_nails_puts_each_value_at_its_block_corner():
    net = run(lambda x: unpooling.bed_of_nails(x, 2, 2))
    nails(net, ["up"])
    net.forward(data=X)
    expected = np.zeros((1, 2, 6, 8), np.float32)
    expected[:, :, ::2, ::2] = X
    np.testing.assert_array_equal(net.blobs["up"].data, expected)


def test_max_unpool_returns_to_the_pooling_input():
    def build(x):
        pooled, mask = unpooling.max_pool(x)
        return unpooling.max_unpool(pooled, mask, x)
    net = run(build)
    net.forward(data=X)
    up = net.blobs["up"].data
    assert up.shape == X.shape
    for window in ((slice(0, 2), slice(0, 2)), (slice(0, 2), slice(2, 4))):
        block = X[0, 0][window]
        kept = up[0, 0][window]
        assert np.count_nonzero(kept) == 1 and kept.sum() == block.max()
