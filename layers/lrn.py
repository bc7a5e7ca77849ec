"""Local response normalization, ACROSS_CHANNELS and WITHIN_CHANNEL.

ACROSS: scale = k + alpha/size * sum of x^2 over a window of `size`
channels (centred, (size-1)/2 before), y = x * scale^-beta.
WITHIN (Caffe's composition): scale = 1 + alpha * AVE-pool(x^2) over a
size x size window, y = x * scale^-beta.
"""
import numpy as np

from layers.base import Layer, register
from layers.pooling import ave_pool, ave_pool_backward, by_planes
from netspec import caffe_pb2


def channel_window_sum(values, before, after):
    """sum over c' in [c - before, c + after] (clipped) along axis 1."""
    n, c = values.shape[:2]
    padded = np.zeros((n, c + before + after + 1) + values.shape[2:], np.float64)
    padded[:, before + 1:before + 1 + c] = values
    cumulative = np.cumsum(padded, axis=1)
    return (cumulative[:, before + after + 1:] - cumulative[:, :c]).astype(np.float32)


@register("LRN")
class LRN(Layer):
    def setup(self, bottom, top):
        p = self.param.lrn_param
        self.size, self.alpha, self.beta, self.k = p.local_size, p.alpha, p.beta, p.k
        if self.size % 2 == 0:
            raise self.error(f"local_size must be odd, got {self.size}")
        self.across = p.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS
        self.pre_pad = (self.size - 1) // 2

    def reshape(self, bottom, top):
        if bottom[0].num_axes != 4:
            raise self.error(f"needs 4-D (N, C, H, W) input, got {self.shapes_text(bottom)}")
        top[0].reshape(bottom[0].shape)

    def _pool(self, squares):
        pooled = np.empty_like(squares)
        s, p = self.size, self.pre_pad
        by_planes(ave_pool, squares.shape[0] * squares.shape[1], np.ascontiguousarray(squares), s, s, 1, 1, p, p, pooled)
        return pooled

    def forward(self, bottom, top):
        x = bottom[0].data
        if self.across:
            window = channel_window_sum(x * x, self.pre_pad, self.size - self.pre_pad - 1)
            self.scale = np.float32(self.k) + np.float32(self.alpha / self.size) * window
        else:
            self.scale = np.float32(1) + np.float32(self.alpha) * self._pool(x * x)
        np.multiply(x, self.scale ** np.float32(-self.beta), out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x, y, dy = bottom[0].data, top[0].data, top[0].diff
        falloff = self.scale ** np.float32(-self.beta)
        if self.across:
            ratio = dy * y / self.scale
            # Channel c' counts c when c lies in its window: the window flipped.
            spread = channel_window_sum(ratio, self.size - self.pre_pad - 1, self.pre_pad)
            grad = dy * falloff - np.float32(2 * self.alpha * self.beta / self.size) * x * spread
        else:
            inner = dy * x * np.float32(-self.beta * self.alpha) * self.scale ** np.float32(-self.beta - 1)
            spread = np.zeros_like(x)
            s, p = self.size, self.pre_pad
            by_planes(ave_pool_backward, spread.shape[0] * spread.shape[1],
                      np.ascontiguousarray(inner), s, s, 1, 1, p, p, spread)
            grad = dy * falloff + 2 * x * spread
        np.copyto(bottom[0].diff, grad)
