"""im2col and col2im: the two loops that turn convolution into GEMM.

`col` has one row per (channel, kernel row, kernel column) and one column per
output pixel, Caffe's layout, so the GEMM operands stay contiguous. Numba
compiles both once and caches them on disk; rows run in parallel.
"""
import numba
import numpy as np


@numba.njit(parallel=True, cache=True, fastmath=False)
def im2col(img, kh, kw, ph, pw, sh, sw, dh, dw, oh, ow, col):
    channels, height, width = img.shape
    rows = channels * kh * kw
    for row in numba.prange(rows):
        c = row // (kh * kw)
        ki = (row // kw) % kh
        kj = row % kw
        for y in range(oh):
            iy = y * sh - ph + ki * dh
            base = y * ow
            if iy < 0 or iy >= height:
                for x in range(ow):
                    col[row, base + x] = 0.0
                continue
            for x in range(ow):
                ix = x * sw - pw + kj * dw
                if 0 <= ix < width:
                    col[row, base + x] = img[c, iy, ix]
                else:
                    col[row, base + x] = 0.0


@numba.njit(parallel=True, cache=True, fastmath=False)
def col2im(col, kh, kw, ph, pw, sh, sw, dh, dw, oh, ow, img):
    """Sum `col` back into `img` (overwritten); channels run in parallel."""
    channels, height, width = img.shape
    for c in numba.prange(channels):
        for y in range(height):
            for x in range(width):
                img[c, y, x] = 0.0
        for ki in range(kh):
            for kj in range(kw):
                row = (c * kh + ki) * kw + kj
                for y in range(oh):
                    iy = y * sh - ph + ki * dh
                    if iy < 0 or iy >= height:
                        continue
                    base = y * ow
                    for x in range(ow):
                        ix = x * sw - pw + kj * dw
                        if 0 <= ix < width:
                            img[c, iy, ix] += col[row, base + x]


class Workspace:
    """One growing float32 buffer shared by every layer in turn, as Caffe's
    col_buffer, so im2col costs no allocation after the first pass."""

    def __init__(self):
        self.buffer = np.empty(0, np.float32)

    def get(self, rows, cols):
        size = rows * cols
        if self.buffer.size < size:
            self.buffer = np.empty(size, np.float32)
        return self.buffer[:size].reshape(rows, cols)


WORKSPACE = Workspace()
