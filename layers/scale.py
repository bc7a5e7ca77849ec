"""Scale and Bias: multiply (add) bottom[0] by a blob broadcast over axes.

The factor is bottom[1] when given, else a learnable blob whose shape is
bottom[0]'s from `axis`, for `num_axes` axes (-1: to the end).
"""
import numpy as np

from core.layer import Layer, register
from netspec import caffe_pb2


class _Broadcast(Layer):
    bottoms = (1, 2)

    def _param_shape(self, bottom, p):
        x = bottom[0]
        axis = x.canonical_axis(p.axis) if x.num_axes else 0
        if p.num_axes < -1:
            raise self.error(f"num_axes must be -1 or more, got {p.num_axes}")
        end = x.num_axes if p.num_axes == -1 else axis + p.num_axes
        if end > x.num_axes:
            raise self.error(f"axis {p.axis} with num_axes {p.num_axes} runs past {self.shapes_text(bottom[:1])}")
        return x.shape[axis:end]

    def _factor_view(self, x, factor_shape, p):
        """Reshape the factor so that numpy broadcasting lines it up at `axis`."""
        if not factor_shape:
            return (1,) * len(x.shape)
        axis = len(x.shape) + p.axis if p.axis < 0 else p.axis
        if tuple(x.shape[axis:axis + len(factor_shape)]) != tuple(factor_shape):
            raise self.error(f"factor of shape {list(factor_shape)} does not match "
                             f"{list(x.shape)} from axis {axis}")
        return (1,) * axis + tuple(factor_shape) + (1,) * (len(x.shape) - axis - len(factor_shape))


@register("Scale")
class Scale(_Broadcast):
    def setup(self, bottom, top):
        p = self.param.scale_param
        self.blobs = []
        if len(bottom) == 1:
            filler = p.filler if p.HasField("filler") else caffe_pb2.FillerParameter(type="constant", value=1)
            self.add_param(self._param_shape(bottom, p), filler)
        if p.bias_term:
            self.add_param(self._param_shape(bottom, p) if len(bottom) == 1 else bottom[1].shape, p.bias_filler)

    def _factor(self, bottom):
        return bottom[1] if len(bottom) == 2 else self.blobs[0]

    def reshape(self, bottom, top):
        p = self.param.scale_param
        self.view = self._factor_view(bottom[0], self._factor(bottom).shape, p)
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        x = bottom[0].data
        if top[0] is bottom[0]:
            self.saved = x.copy()  # the factor's gradient needs the input
        out = np.multiply(x, self._factor(bottom).data.reshape(self.view), out=top[0].data)
        if self.param.scale_param.bias_term:
            out += self.blobs[-1].data.reshape(self.view)

    def backward(self, top, propagate_down, bottom):
        dy = top[0].diff
        x = self.saved if top[0] is bottom[0] else bottom[0].data
        p = self.param.scale_param
        reduce_axes = tuple(i for i, d in enumerate(self.view) if d == 1)
        if p.bias_term and self.param_propagate_down[-1]:
            self.blobs[-1].diff += dy.sum(axis=reduce_axes).reshape(self.blobs[-1].shape)
        factor = self._factor(bottom)
        factor_grad_wanted = propagate_down[1] if len(bottom) == 2 else self.param_propagate_down[0]
        if factor_grad_wanted:
            grad = (dy * x).sum(axis=reduce_axes).reshape(factor.shape)
            if len(bottom) == 2:
                np.copyto(factor.diff, grad)
            else:
                factor.diff += grad
        if propagate_down[0]:
            np.multiply(dy, factor.data.reshape(self.view), out=bottom[0].diff)


@register("Bias")
class Bias(_Broadcast):
    def setup(self, bottom, top):
        p = self.param.bias_param
        self.blobs = []
        if len(bottom) == 1:
            self.add_param(self._param_shape(bottom, p), p.filler)

    def _bias(self, bottom):
        return bottom[1] if len(bottom) == 2 else self.blobs[0]

    def reshape(self, bottom, top):
        self.view = self._factor_view(bottom[0], self._bias(bottom).shape, self.param.bias_param)
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        np.add(bottom[0].data, self._bias(bottom).data.reshape(self.view), out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        dy = top[0].diff
        bias = self._bias(bottom)
        wanted = propagate_down[1] if len(bottom) == 2 else self.param_propagate_down[0]
        if wanted:
            grad = dy.sum(axis=tuple(i for i, d in enumerate(self.view) if d == 1)).reshape(bias.shape)
            if len(bottom) == 2:
                np.copyto(bias.diff, grad)
            else:
                bias.diff += grad
        if propagate_down[0] and top[0] is not bottom[0]:
            np.copyto(bottom[0].diff, dy)
