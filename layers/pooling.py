"""Pooling: MAX (with its argmax mask) and AVE, with Caffe's output size.

The output size rounds up (ceil), and with padding the last window must
start inside the image. MAX windows clip to the image; AVE divides by the
window's size clipped to the padded image, as Caffe does.
"""
import math

import numba
import numpy as np

from backends.cpu.kernels import ave_pool, ave_pool_backward
from core.layer import Layer, register
from netspec import caffe_pb2
from netspec.geometry import fields_of, read_window

PP = caffe_pb2.PoolingParameter


@numba.njit(nogil=True, cache=True, inline="always")
def window_max(plane, y0, y1, x0, x1):
    """The first largest value of plane[y0:y1, x0:x1] in row-major order (a
    later equal one does not replace it, as in Caffe) and its flat index."""
    best = -np.inf
    where = -1
    for yy in range(y0, y1):
        for xx in range(x0, x1):
            v = plane[yy, xx]
            if v > best:
                best = v
                where = yy * plane.shape[1] + xx
    return best, where


@numba.njit(nogil=True, cache=True)
def max_pool(x, kh, kw, sh, sw, ph, pw, out, mask, lo, hi):
    """Planes [lo, hi) of the n * c; records each argmax in `mask` unless
    it is empty."""
    n, c, h, w = x.shape
    record = mask.size > 0
    oh, ow = out.shape[2], out.shape[3]
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        for y in range(oh):
            y0 = max(y * sh - ph, 0)
            y1 = min(y * sh - ph + kh, h)
            for xo in range(ow):
                best, where = window_max(x[i, j], y0, y1, max(xo * sw - pw, 0), min(xo * sw - pw + kw, w))
                out[i, j, y, xo] = best
                if record:
                    mask[i, j, y, xo] = where


@numba.njit(nogil=True, cache=True)
def max_pool_values(x, kh, kw, sh, sw, ph, pw, out, lo, hi):
    """max_pool without the argmax (a TEST pass): each window's rows first
    reduced to one row of column maxima, then each window read along that
    row (kh + kw reads per output instead of kh * kw; pool1 of a ResNet
    is 3x3). The same comparisons, so the same values, NaN ignored alike."""
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    row = np.empty(w, np.float32)
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        plane = x[i, j]
        for y in range(oh):
            y0 = max(y * sh - ph, 0)
            y1 = min(y * sh - ph + kh, h)
            row[:] = -np.inf
            for yy in range(y0, y1):
                for xx in range(w):
                    if plane[yy, xx] > row[xx]:
                        row[xx] = plane[yy, xx]
            for xo in range(ow):
                best = -np.inf
                for xx in range(max(xo * sw - pw, 0), min(xo * sw - pw + kw, w)):
                    if row[xx] > best:
                        best = row[xx]
                out[i, j, y, xo] = best


@numba.njit(nogil=True, cache=True)
def max_pool_2x2(x, out, mask, lo, hi):
    """max_pool for FCN's kernel 2, stride 2, no pad: full windows read
    straight (six times faster than the general loop), the last row and
    column that rounding up adds clipped as there."""
    n, c, h, w = x.shape
    record = mask.size > 0
    oh, ow = out.shape[2], out.shape[3]
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        plane = x[i, j]
        for y in range(h // 2):
            top, bottom = plane[2 * y], plane[2 * y + 1]
            for xo in range(w // 2):
                best = -np.inf
                where = -1
                if top[2 * xo] > best:
                    best, where = top[2 * xo], 0
                if top[2 * xo + 1] > best:
                    best, where = top[2 * xo + 1], 1
                if bottom[2 * xo] > best:
                    best, where = bottom[2 * xo], w
                if bottom[2 * xo + 1] > best:
                    best, where = bottom[2 * xo + 1], w + 1
                out[i, j, y, xo] = best
                if record:
                    mask[i, j, y, xo] = 2 * y * w + 2 * xo + where
        for y in range(oh):
            for xo in range(ow):
                if y < h // 2 and xo < w // 2:
                    continue
                best, where = window_max(plane, 2 * y, min(2 * y + 2, h), 2 * xo, min(2 * xo + 2, w))
                out[i, j, y, xo] = best
                if record:
                    mask[i, j, y, xo] = where


@numba.njit(nogil=True, cache=True)
def max_pool_backward(dy, mask, dx, lo, hi):
    """Adds each output's gradient to its argmax; dx starts at zero."""
    n, c, h, w = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        for y in range(oh):
            for xo in range(ow):
                where = mask[i, j, y, xo]
                if where >= 0:
                    dx[i, j, where // w, where % w] += dy[i, j, y, xo]


def pooled_size(size, kernel, stride, pad, ceil_mode=True):
    """Caffe's output size along one axis."""
    rounding = math.ceil if ceil_mode else math.floor
    out = int(rounding((size + 2 * pad - kernel) / stride)) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@register("Pooling")
class Pooling(Layer):
    tops = (1, 2)

    def setup(self, bottom, top):
        p = self.param.pooling_param
        self.method = p.pool
        self.mask = None           # MAX: the argmax of each window, where backward reads it
        if self.method == PP.STOCHASTIC:
            raise self.error("STOCHASTIC pooling is not supported (Caffe implements it on GPU only)")
        self.global_pooling = p.global_pooling
        if p.global_pooling and (p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w")):
            raise self.error("global_pooling takes no kernel size")
        fields = fields_of(p)

        def get(name):
            # Global pooling: the kernel is the input's size, set at reshape.
            return 1 if p.global_pooling and name == "kernel_size" else fields(name)
        window = read_window(get, f"layer {self.name!r} ({self.param.type})")
        (self.kh, self.kw), (self.sh, self.sw), (self.ph, self.pw) = window.kernel, window.stride, window.pad
        self.ceil_mode = p.round_mode == PP.CEIL
        if self.global_pooling and (self.ph or self.pw or self.sh != 1 or self.sw != 1):
            raise self.error("global_pooling takes pad 0 and stride 1")
        if (self.ph or self.pw) and (self.ph >= self.kh or self.pw >= self.kw) and not self.global_pooling:
            raise self.error(f"pad {self.ph},{self.pw} must be smaller than the kernel {self.kh}x{self.kw}")
        if len(top) == 2 and self.method != PP.MAX:
            raise self.error("a second top (the argmax mask) needs MAX pooling")

    def reshape(self, bottom, top):
        x = bottom[0]
        if x.num_axes != 4:
            raise self.error(f"needs 4-D (N, C, H, W) input, got {self.shapes_text(bottom)}")
        n, c, h, w = x.shape
        if self.global_pooling:
            self.kh, self.kw = h, w
        oh = pooled_size(h, self.kh, self.sh, self.ph, self.ceil_mode)
        ow = pooled_size(w, self.kw, self.sw, self.pw, self.ceil_mode)
        if oh <= 0 or ow <= 0:
            raise self.error(f"input {list(x.shape)} is smaller than the {self.kh}x{self.kw} window")
        for t in top:
            t.reshape(n, c, oh, ow)
        # Caffe's argmax mask (int32, as its Blob<int>), only where backward
        # or a mask top will read it: pool1's is 31 MB at 500x500.
        shape = (n, c, oh, ow) if self.method == PP.MAX and (self.need_backward or len(top) == 2) else (0, 0, 0, 0)
        if self.mask is None or self.mask.shape != shape:
            self.mask = np.empty(shape, np.int32)

    def forward(self, bottom, top):
        x = np.ascontiguousarray(bottom[0].data)
        planes = x.shape[0] * x.shape[1]
        args = (self.kh, self.kw, self.sh, self.sw, self.ph, self.pw)
        if self.method == PP.AVE:
            self.workers.in_slices(ave_pool, planes, x, *args, top[0].data)
            return
        if args == (2, 2, 2, 2, 0, 0):
            self.workers.in_slices(max_pool_2x2, planes, x, top[0].data, self.mask)
        elif self.mask.size == 0:
            self.workers.in_slices(max_pool_values, planes, x, *args, top[0].data)
        else:
            self.workers.in_slices(max_pool, planes, x, *args, top[0].data, self.mask)
        if len(top) == 2:
            top[1].data[...] = self.mask

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = np.ascontiguousarray(top[0].diff)
        dx = bottom[0].diff
        dx.fill(0)
        planes = dx.shape[0] * dx.shape[1]
        if self.method == PP.MAX:
            if self.mask.size == 0:
                raise self.error("backward was not planned for this layer (no gradient reaches it), "
                                 "so its forward kept no argmax")
            self.workers.in_slices(max_pool_backward, planes, dy, self.mask, dx)
        else:
            self.workers.in_slices(ave_pool_backward, planes, dy, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw,
                                   dx)
