"""Tile: `tiles` copies of the blob along `axis`."""
import numpy as np

from common import sizes
from core.layer import Layer, register


@register("Tile")
class Tile(Layer):
    def reshape(self, bottom, top):
        p = self.param.tile_param
        if p.tiles < 1:
            raise self.error(f"tiles must be positive, got {p.tiles}")
        self.axis = bottom[0].canonical_axis(p.axis)
        shape = list(bottom[0].shape)
        shape[self.axis] *= p.tiles
        top[0].reshape(shape)

    def forward(self, bottom, top):
        x = bottom[0].data
        outer = sizes.count(x.shape[:self.axis])
        tiled = np.broadcast_to(x.reshape(outer, 1, -1), (outer, self.param.tile_param.tiles, x.size // max(outer, 1)))
        top[0].data[...] = tiled.reshape(top[0].shape)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            outer = sizes.count(bottom[0].shape[:self.axis])
            dy = top[0].diff.reshape(outer, self.param.tile_param.tiles, -1)
            bottom[0].diff[...] = dy.sum(axis=1).reshape(bottom[0].shape)
