"""Elementwise layers: one bottom, one top of the same shape, often in place.

Each backward uses what Caffe uses (the top for Sigmoid/TanH, the bottom
otherwise), so in-place use behaves as it does in Caffe.
"""
import numpy as np

from backends.cpu.kernels import relu_backward, relu_forward
from core.layer import Layer, register
from netspec import caffe_pb2


class Neuron(Layer):
    def reshape(self, bottom, top):
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)


@register("ReLU")
class ReLU(Neuron):
    def forward(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        slope = np.float32(self.param.relu_param.negative_slope)
        y = top[0].data.reshape(-1)
        self.workers.in_slices(relu_forward, x.size, x, slope, y)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            x = bottom[0].data.reshape(-1)
            slope = np.float32(self.param.relu_param.negative_slope)
            dy, dx = top[0].diff.reshape(-1), bottom[0].diff.reshape(-1)
            self.workers.in_slices(relu_backward, x.size, x, dy, slope, dx)


@register("Sigmoid")
class Sigmoid(Neuron):
    def forward(self, bottom, top):
        x = bottom[0].data
        np.copyto(top[0].data, 0.5 * np.tanh(0.5 * x) + 0.5)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            y = top[0].data
            np.copyto(bottom[0].diff, top[0].diff * y * (1 - y))


@register("TanH")
class TanH(Neuron):
    def forward(self, bottom, top):
        np.tanh(bottom[0].data, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            y = top[0].data
            np.copyto(bottom[0].diff, top[0].diff * (1 - y * y))


@register("AbsVal")
class AbsVal(Neuron):
    def forward(self, bottom, top):
        np.abs(bottom[0].data, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            np.copyto(bottom[0].diff, top[0].diff * np.sign(bottom[0].data))


@register("BNLL")
class BNLL(Neuron):
    def forward(self, bottom, top):
        x = bottom[0].data
        np.copyto(top[0].data, np.where(x > 0, x + np.log1p(np.exp(-np.abs(x))), np.log1p(np.exp(np.minimum(x, 0)))))

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            e = np.exp(np.minimum(bottom[0].data, 50.0))
            np.copyto(bottom[0].diff, top[0].diff * e / (e + 1))


@register("ELU")
class ELU(Neuron):
    def forward(self, bottom, top):
        x, alpha = bottom[0].data, np.float32(self.param.elu_param.alpha)
        np.copyto(top[0].data, np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))))

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            x, y = bottom[0].data, top[0].data
            alpha = np.float32(self.param.elu_param.alpha)
            np.copyto(bottom[0].diff, top[0].diff * np.where(x > 0, 1, y + alpha))


@register("Exp")
class Exp(Neuron):
    def setup(self, bottom, top):
        p = self.param.exp_param
        if p.base != -1 and p.base <= 0:
            raise self.error(f"base must be positive (or -1 for e), got {p.base}")
        log_base = 1.0 if p.base == -1 else np.log(p.base)
        self.inner = np.float32(log_base * p.scale)
        self.outer = np.float32(1.0 if p.shift == 0 else (np.e if p.base == -1 else p.base) ** p.shift)

    def forward(self, bottom, top):
        y = np.exp(self.inner * bottom[0].data)
        if self.outer != 1:
            y *= self.outer
        np.copyto(top[0].data, y)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            np.copyto(bottom[0].diff, top[0].diff * top[0].data * self.inner)


@register("Log")
class Log(Neuron):
    def setup(self, bottom, top):
        p = self.param.log_param
        if p.base != -1 and p.base <= 0:
            raise self.error(f"base must be positive (or -1 for e), got {p.base}")
        self.base_scale = np.float32(1.0 if p.base == -1 else 1.0 / np.log(p.base))
        self.scale, self.shift = np.float32(p.scale), np.float32(p.shift)

    def forward(self, bottom, top):
        np.copyto(top[0].data, np.log(self.shift + self.scale * bottom[0].data) * self.base_scale)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            inner = self.shift + self.scale * bottom[0].data
            np.copyto(bottom[0].diff, top[0].diff * self.scale * self.base_scale / inner)


@register("Power")
class Power(Neuron):
    def setup(self, bottom, top):
        p = self.param.power_param
        self.power, self.scale, self.shift = np.float32(p.power), np.float32(p.scale), np.float32(p.shift)
        self.diff_scale = self.power * self.scale

    def forward(self, bottom, top):
        if self.diff_scale == 0:
            top[0].data[...] = 1 if self.power == 0 else self.shift ** self.power
            return
        np.copyto(top[0].data, (self.shift + self.scale * bottom[0].data) ** self.power)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x, y = bottom[0].data, top[0].data
        # Caffe's branches, so that zeros and in-place use behave as there.
        if self.diff_scale == 0 or self.power == 1:
            grad = np.full_like(x, self.diff_scale)
        elif self.power == 2:
            grad = self.diff_scale * self.scale * x + self.diff_scale * self.shift
        elif self.shift == 0:
            grad = self.power * y / x
        else:
            grad = self.diff_scale * y / (self.scale * x + self.shift)
        np.multiply(top[0].diff, grad, out=bottom[0].diff)


@register("Threshold")
class Threshold(Neuron):
    def forward(self, bottom, top):
        np.copyto(top[0].data, (bottom[0].data > self.param.threshold_param.threshold).astype(np.float32))

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            raise self.error("has no gradient (as in Caffe)")


@register("Dropout")
class Dropout(Neuron):
    """Train: keep with probability 1 - p and scale by 1 / (1 - p). Test: identity."""

    def setup(self, bottom, top):
        self.ratio = self.param.dropout_param.dropout_ratio
        if not 0 <= self.ratio < 1:
            raise self.error(f"dropout_ratio must be in [0, 1), got {self.ratio}")
        self.scale = np.float32(1.0 / (1.0 - self.ratio))

    def forward(self, bottom, top):
        if self.phase != caffe_pb2.TRAIN:
            if top[0] is not bottom[0]:
                np.copyto(top[0].data, bottom[0].data)
            return
        self.mask = self.rng.random(bottom[0].shape, np.float32) >= self.ratio
        np.multiply(bottom[0].data, self.mask * self.scale, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        if self.phase == caffe_pb2.TRAIN:
            np.multiply(top[0].diff, self.mask * self.scale, out=bottom[0].diff)
        elif top[0] is not bottom[0]:
            np.copyto(bottom[0].diff, top[0].diff)


@register("PReLU")
class PReLU(Neuron):
    def setup(self, bottom, top):
        p = self.param.prelu_param
        if bottom[0].num_axes < 2:
            raise self.error(f"needs at least 2 axes, got {self.shapes_text(bottom)}")
        channels = bottom[0].shape[1]
        self.shared = p.channel_shared
        shape = () if self.shared else (channels,)
        filler = p.filler if p.HasField("filler") else caffe_pb2.FillerParameter(type="constant", value=0.25)
        self.add_param(shape, filler)

    def _slope(self, x):
        a = self.blobs[0].data
        return a if self.shared else a.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, bottom, top):
        x = bottom[0].data
        if top[0] is bottom[0]:
            self.saved = x.copy()  # backward needs the input that in-place use overwrites
        np.copyto(top[0].data, np.where(x > 0, x, x * self._slope(x)))

    def backward(self, top, propagate_down, bottom):
        x = self.saved if top[0] is bottom[0] else bottom[0].data
        dy = top[0].diff
        if self.param_propagate_down[0]:
            contribution = dy * x * (x <= 0)
            if self.shared:
                self.blobs[0].diff += contribution.sum()
            else:
                self.blobs[0].diff += contribution.sum(axis=tuple(i for i in range(x.ndim) if i != 1))
        if propagate_down[0]:
            np.multiply(dy, np.where(x > 0, 1, self._slope(x)), out=bottom[0].diff)
