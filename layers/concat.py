"""Concat and its inverse Slice, along one axis."""
import numpy as np

from core.layer import Layer, register


def _axis(layer, blob, p, legacy):
    if p.HasField(legacy):
        if p.HasField("axis"):
            raise layer.error(f"give axis or {legacy}, not both")
        return getattr(p, legacy)
    return blob.canonical_axis(p.axis)


@register("Concat")
class Concat(Layer):
    bottoms = (1, None)

    def reshape(self, bottom, top):
        axis = self.axis = _axis(self, bottom[0], self.param.concat_param, "concat_dim")
        first = bottom[0].shape
        for b in bottom[1:]:
            if len(b.shape) != len(first) or any(s != f for k, (s, f) in enumerate(zip(b.shape, first)) if k != axis):
                raise self.error(f"bottoms must agree on every axis but {axis}: {self.shapes_text(bottom)}")
        shape = list(first)
        shape[axis] = sum(b.shape[axis] for b in bottom)
        top[0].reshape(shape)

    def forward(self, bottom, top):
        np.concatenate([b.data for b in bottom], axis=self.axis, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        start = 0
        for b, down in zip(bottom, propagate_down):
            size = b.shape[self.axis]
            if down:
                index = [slice(None)] * len(b.shape)
                index[self.axis] = slice(start, start + size)
                np.copyto(b.diff, top[0].diff[tuple(index)])
            start += size


@register("Slice")
class Slice(Layer):
    tops = (1, None)

    def reshape(self, bottom, top):
        p = self.param.slice_param
        axis = self.axis = _axis(self, bottom[0], p, "slice_dim")
        size = bottom[0].shape[axis]
        points = list(p.slice_point)
        if points:
            if len(points) != len(top) - 1 or points != sorted(points) or points[-1] >= size or points[0] <= 0:
                raise self.error(f"slice points {points} do not cut axis {axis} of size {size} into {len(top)} parts")
            edges = [0] + points + [size]
        else:
            if size % len(top):
                raise self.error(f"axis {axis} of size {size} does not split evenly into {len(top)} tops")
            step = size // len(top)
            edges = list(range(0, size + 1, step))
        self.edges = edges
        for t, lo, hi in zip(top, edges, edges[1:]):
            shape = list(bottom[0].shape)
            shape[axis] = hi - lo
            t.reshape(shape)

    def forward(self, bottom, top):
        for t, lo, hi in zip(top, self.edges, self.edges[1:]):
            np.copyto(t.data, np.take(bottom[0].data, range(lo, hi), axis=self.axis))

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            np.concatenate([t.diff for t in top], axis=self.axis, out=bottom[0].diff)
