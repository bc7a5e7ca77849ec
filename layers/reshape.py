"""Reshape and Flatten: new shapes over the same data (views, no copies)."""

from common import sizes
from core.layer import Layer, register


class _View(Layer):
    def forward(self, bottom, top):
        top[0].data = bottom[0].data.reshape(top[0].shape)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff = top[0].diff.reshape(bottom[0].shape)


@register("Flatten")
class Flatten(_View):
    def reshape(self, bottom, top):
        p = self.param.flatten_param
        shape = bottom[0].shape
        start, end = bottom[0].canonical_axis(p.axis), bottom[0].canonical_axis(p.end_axis)
        top[0].reshape(shape[:start] + (sizes.count(shape[start:end + 1]),) + shape[end + 1:])


@register("Reshape")
class Reshape(_View):
    def reshape(self, bottom, top):
        p = self.param.reshape_param
        shape = bottom[0].shape
        dims = list(p.shape.dim)
        start = p.axis + len(shape) + 1 if p.axis < 0 else p.axis
        end = len(shape) if p.num_axes == -1 else start + p.num_axes
        if not 0 <= start <= end <= len(shape):
            raise self.error(f"axis {p.axis} and num_axes {p.num_axes} do not fit {self.shapes_text(bottom)}")
        if dims.count(-1) > 1:
            raise self.error("at most one dimension may be -1")
        new = []
        for i, d in enumerate(dims):
            if d == 0:
                if start + i >= len(shape):
                    raise self.error(f"dim {i} is 0 (copy) but the input has no axis {start + i}")
                new.append(shape[start + i])
            else:
                new.append(d)
        full = list(shape[:start]) + new + list(shape[end:])
        if -1 in full:
            known = sizes.count([d for d in full if d != -1])
            if known == 0 or bottom[0].count % known:
                raise self.error(f"cannot infer the -1 dim: {bottom[0].count} values into {dims}")
            full[full.index(-1)] = bottom[0].count // known
        if sizes.count(full) != bottom[0].count:
            raise self.error(f"shape {full} holds {sizes.count(full)} values, the input "
                             f"{self.shapes_text(bottom)} has {bottom[0].count}")
        top[0].reshape(full)
