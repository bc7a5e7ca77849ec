"""numba kernels that more than one layer runs: Caffe's ReLU (the ReLU
layer, and a convolution with a ReLU fused after it) and average pooling
(Pooling, and LRN within a channel). Serial, releasing the GIL, each over
a [lo, hi) slice that one worker takes."""
import numba
import numpy as np


@numba.njit(nogil=True, cache=True, inline="always")
def relu(v, slope):
    """Caffe's ReLU: max(v, 0) + slope * min(v, 0), in float32 (an integer
    0 would carry the arithmetic to float64, same values, 5x the time)."""
    zero = np.float32(0)
    return max(v, zero) + slope * min(v, zero)


@numba.njit(nogil=True, cache=True)
def relu_forward(x, slope, y, lo, hi):
    """relu over [lo, hi) (y may be x: then a loop over one array, which
    vectorizes where two exactly overlapping ones would not)."""
    x, y = x[lo:hi], y[lo:hi]       # indices from 0: loops that vectorize
    if x.ctypes.data == y.ctypes.data:
        for i in range(y.size):
            y[i] = relu(y[i], slope)
        return
    for i in range(y.size):
        y[i] = relu(x[i], slope)


@numba.njit(nogil=True, cache=True)
def finish_rows(src, c0, c1, r0, r1, scale, shift, rectify, slope, dst, d0):
    """dst[r, d0:d0 + n] = src[r, c0:c1] * scale[r] + shift[r], through
    Caffe's ReLU if `rectify`, for rows [r0, r1), n = c1 - c0: what a
    convolution adds to each band of its GEMM's product while it is in
    cache (its bias; a BatchNorm and Scale folded into it as a per-channel
    affine map; a ReLU fused after it). Rows are output channels; `dst` may
    be `src`. A scale of 1 leaves products exact.

    Written for the vectorizer: each row is its own 1-D slice (a 2-D
    strided view would not vectorize), and the in-place case is a loop over
    one array (two arrays that overlap exactly fail LLVM's alias check and
    fall back to scalar code, 5x slower)."""
    n = c1 - c0
    same = src.ctypes.data == dst.ctypes.data and c0 == d0
    for r in range(r0, r1):
        row = src[r][c0:c1]
        if same:
            affine_row(row, row, scale[r], shift[r], rectify, slope)
        else:
            affine_row(row, dst[r][d0:d0 + n], scale[r], shift[r], rectify, slope)


@numba.njit(nogil=True, cache=True, inline="always")
def affine_row(a, out, s, b, rectify, slope):
    """out = a * s + b, through relu if `rectify` (out may be a)."""
    if rectify:
        for c in range(out.size):
            out[c] = relu(a[c] * s + b, slope)
    else:
        for c in range(out.size):
            out[c] = a[c] * s + b


@numba.njit(nogil=True, cache=True)
def finish_rows_residual(src, c0, c1, r0, r1, scale, shift, residual, c_other, c_self, rectify, slope, dst, d0):
    """finish_rows for a convolution that ends a residual block: dst = ReLU(
    c_self * (src * scale + shift) + c_other * residual), the residual (an
    Eltwise SUM's other bottom) read at dst's own pixels. The products by
    coefficients of 1 are exact, so with Eltwise's default coefficients
    this is the sum Eltwise itself makes."""
    n = c1 - c0
    for r in range(r0, r1):
        s, b = scale[r], shift[r]
        a = src[r][c0:c1]
        add = residual[r][d0:d0 + n]
        out = dst[r][d0:d0 + n]
        if rectify:
            for c in range(n):
                out[c] = relu((a[c] * s + b) * c_self + add[c] * c_other, slope)
        else:
            for c in range(n):
                out[c] = (a[c] * s + b) * c_self + add[c] * c_other


@numba.njit(nogil=True, cache=True)
def relu_backward(x, dy, slope, dx, lo, hi):
    """dx = dy where x > 0, else dy * slope, over [lo, hi); one pass, no
    temporaries (dx may be dy)."""
    x, dy, dx = x[lo:hi], dy[lo:hi], dx[lo:hi]
    if dy.ctypes.data == dx.ctypes.data:
        for i in range(dx.size):
            dx[i] = dx[i] if x[i] > 0 else dx[i] * slope
        return
    for i in range(dx.size):
        dx[i] = dy[i] if x[i] > 0 else dy[i] * slope


@numba.njit(cache=True, inline="always")
def ave_window(o, stride, pad, kernel, size):
    """The window of output `o` clipped to the image, and its extent clipped
    to the padded image: what AVE divides by, as in Caffe."""
    start = o * stride - pad
    end = min(start + kernel, size + pad)
    return max(start, 0), min(end, size), end - start


@numba.njit(nogil=True, cache=True)
def ave_pool(x, kh, kw, sh, sw, ph, pw, out, lo, hi):
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        for y in range(oh):
            y0, y1, ey = ave_window(y, sh, ph, kh, h)
            for xo in range(ow):
                x0, x1, ex = ave_window(xo, sw, pw, kw, w)
                total = 0.0
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        total += x[i, j, yy, xx]
                out[i, j, y, xo] = total / (ey * ex)


@numba.njit(nogil=True, cache=True)
def ave_pool_backward(dy, kh, kw, sh, sw, ph, pw, dx, lo, hi):
    """Spreads each output's gradient over its window; dx starts at zero."""
    n, c, h, w = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        for y in range(oh):
            y0, y1, ey = ave_window(y, sh, ph, kh, h)
            for xo in range(ow):
                x0, x1, ex = ave_window(xo, sw, pw, kw, w)
                share = dy[i, j, y, xo] / (ey * ex)
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        dx[i, j, yy, xx] += share
