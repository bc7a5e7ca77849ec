"""Local response normalization, ACROSS_CHANNELS and WITHIN_CHANNEL.

ACROSS: scale = k + alpha/size * sum of x^2 over a window of `size`
channels (centred, (size-1)/2 before), y = x * scale^-beta.
WITHIN (Caffe's composition): scale = 1 + alpha * AVE-pool(x^2) over a
size x size window, y = x * scale^-beta.
"""
import numba
import numpy as np

from backends.cpu.kernels import ave_pool, ave_pool_backward
from core.layer import Layer, register
from netspec import caffe_pb2


@numba.njit(nogil=True, cache=True)
def across_forward(x, size, alpha_over_size, k, beta, scale, y, p0, p1):
    """Pixels [p0, p1) of every (N, C, pixels) plane. The window slides
    along the channels as in Caffe, in float32: the first channel's scale
    sums its window, each next one adds the square entering the window,
    then subtracts the one leaving it. Each channel's pixels are taken as
    a 1-D slice, so that the loops over them vectorize."""
    n, c = x.shape[0], x.shape[1]
    pre = (size - 1) // 2
    m = p1 - p0
    for i in range(n):
        first = scale[i, 0][p0:p1]
        for t in range(m):
            first[t] = k
        for j in range(size):
            src = j - pre
            if 0 <= src < c:
                xs = x[i, src][p0:p1]
                for t in range(m):
                    first[t] += alpha_over_size * (xs[t] * xs[t])
        for ch in range(1, c):
            head, tail = ch + size - 1 - pre, ch - 1 - pre
            prev, cur = scale[i, ch - 1][p0:p1], scale[i, ch][p0:p1]
            xh = x[i, min(head, c - 1)][p0:p1]
            xt = x[i, max(tail, 0)][p0:p1]
            if head < c and tail >= 0:
                for t in range(m):
                    cur[t] = prev[t] + alpha_over_size * (xh[t] * xh[t]) + -alpha_over_size * (xt[t] * xt[t])
            elif head < c:
                for t in range(m):
                    cur[t] = prev[t] + alpha_over_size * (xh[t] * xh[t])
            elif tail >= 0:
                for t in range(m):
                    cur[t] = prev[t] + -alpha_over_size * (xt[t] * xt[t])
            else:
                for t in range(m):
                    cur[t] = prev[t]
        for ch in range(c):
            sc, xc, yc = scale[i, ch][p0:p1], x[i, ch][p0:p1], y[i, ch][p0:p1]
            for t in range(m):
                yc[t] = sc[t] ** -beta * xc[t]


@numba.njit(nogil=True, cache=True)
def across_backward(x, y, dy, scale, size, beta, cache_ratio, dx, p0, p1):
    """Caffe's order again: dx = dy * scale^-beta, less cache_ratio * x times
    the window's sum of dy * y / scale, slid along the channels (the
    window flipped: channel c' counts c when c lies in its window)."""
    n, c = x.shape[0], x.shape[1]
    pre = (size - 1) // 2
    accum = np.zeros(p1 - p0, np.float32)
    for i in range(n):
        accum[:] = 0.0
        for j in range(size - 1):
            src = j - pre
            if 0 <= src < c:
                for p in range(p0, p1):
                    accum[p - p0] += dy[i, src, p] * y[i, src, p] / scale[i, src, p]
        for ch in range(c):
            head, tail = ch + size - 1 - pre, ch - pre
            for p in range(p0, p1):
                if head < c:
                    accum[p - p0] += dy[i, head, p] * y[i, head, p] / scale[i, head, p]
                grad = scale[i, ch, p] ** -beta * dy[i, ch, p]
                dx[i, ch, p] = grad - cache_ratio * (x[i, ch, p] * accum[p - p0])
                if tail >= 0:
                    accum[p - p0] -= dy[i, tail, p] * y[i, tail, p] / scale[i, tail, p]


@register("LRN")
class LRN(Layer):
    def setup(self, bottom, top):
        p = self.param.lrn_param
        self.size, self.alpha, self.beta, self.k = p.local_size, p.alpha, p.beta, p.k
        self.scale = None          # across channels: the scale array backward reads
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
        self.workers.in_slices(ave_pool, squares.shape[0] * squares.shape[1], np.ascontiguousarray(squares),
                               s, s, 1, 1, p, p, pooled)
        return pooled

    def _by_pixels(self, kernel, blob, *args):
        """kernel(*args, p0, p1) over slices of the pixels, one per worker;
        arrays go in as (N, C, pixels)."""
        n, c = blob.shape[:2]
        flat = [a.reshape(n, c, -1) if isinstance(a, np.ndarray) else a for a in args]
        self.workers.in_slices(kernel, blob.count // max(1, n * c), *flat)

    def forward(self, bottom, top):
        x = bottom[0].data
        if self.across:
            if self.scale is None or self.scale.shape != x.shape:
                self.scale = np.empty_like(x)
            self._by_pixels(across_forward, bottom[0], np.ascontiguousarray(x), self.size,
                            np.float32(self.alpha / self.size), np.float32(self.k), np.float32(self.beta),
                            self.scale, top[0].data)
            return
        self.scale = np.float32(1) + np.float32(self.alpha) * self._pool(x * x)
        np.multiply(x, self.scale ** np.float32(-self.beta), out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x, y, dy = bottom[0].data, top[0].data, top[0].diff
        if self.across:
            self._by_pixels(across_backward, bottom[0], np.ascontiguousarray(x), np.ascontiguousarray(y),
                            np.ascontiguousarray(dy), self.scale, self.size, np.float32(self.beta),
                            np.float32(2 * self.alpha * self.beta / self.size), bottom[0].diff)
            return
        falloff = self.scale ** np.float32(-self.beta)
        inner = dy * x * np.float32(-self.beta * self.alpha) * self.scale ** np.float32(-self.beta - 1)
        spread = np.zeros_like(x)
        s, p = self.size, self.pre_pad
        self.workers.in_slices(ave_pool_backward, spread.shape[0] * spread.shape[1],
                               np.ascontiguousarray(inner), s, s, 1, 1, p, p, spread)
        np.copyto(bottom[0].diff, dy * falloff + 2 * x * spread)
