"""im2col and col2im: the two loops that turn convolution into GEMM.

`col` has one row per (channel, kernel row, kernel column) and one column per
output pixel, Caffe's layout, so the GEMM operands stay contiguous. Both work
on a band of output rows [y0, y1), so a large layer runs band by band through
bounded buffers instead of one col matrix that can be nine times its input
(conv1_2 of FCN at 500x500 would need 1.1 GB). Both are serial and release
the GIL: the workers of layers.threads each run one on their own slice.
"""
import threading

import numba
import numpy as np

from layers.threads import even_split

# Floats of col a band may fill: 8 MB, large enough for full-speed GEMMs.
COL_BUDGET = 1 << 21


@numba.njit(nogil=True, cache=True)
def x_range(kj, pw, sw, dw, ow, width):
    """Output columns [lo, hi) whose input column x*sw + kj*dw - pw lies
    inside the image: the loops copy those without a test per pixel."""
    shift = kj * dw - pw
    lo = max(0, (-shift + sw - 1) // sw)
    hi = min(ow, (width - shift + sw - 1) // sw)
    return shift, lo, max(lo, hi)


@numba.njit(nogil=True, cache=True)
def im2col(img, kh, kw, ph, pw, sh, sw, dh, dw, ow, y0, y1, row0, row1, col):
    """Rows [row0, row1) of the col band of output rows [y0, y1)."""
    height, width = img.shape[1], img.shape[2]
    for row in range(row0, row1):
        c = row // (kh * kw)
        ki = (row // kw) % kh
        kj = row % kw
        shift, lo, hi = x_range(kj, pw, sw, dw, ow, width)
        for y in range(y0, y1):
            iy = y * sh - ph + ki * dh
            base = (y - y0) * ow
            if iy < 0 or iy >= height:
                col[row, base:base + ow] = 0.0
                continue
            col[row, base:base + lo] = 0.0
            if sw == 1:
                col[row, base + lo:base + hi] = img[c, iy, lo + shift:hi + shift]
            else:
                for x in range(lo, hi):
                    col[row, base + x] = img[c, iy, x * sw + shift]
            col[row, base + hi:base + ow] = 0.0


@numba.njit(nogil=True, cache=True)
def col2im(col, kh, kw, ph, pw, sh, sw, dh, dw, ow, y0, y1, c0, c1, img):
    """Add channels [c0, c1) of the col band of output rows [y0, y1) into `img`."""
    height, width = img.shape[1], img.shape[2]
    for c in range(c0, c1):
        for ki in range(kh):
            for kj in range(kw):
                row = (c * kh + ki) * kw + kj
                shift, lo, hi = x_range(kj, pw, sw, dw, ow, width)
                for y in range(y0, y1):
                    iy = y * sh - ph + ki * dh
                    if iy < 0 or iy >= height:
                        continue
                    base = (y - y0) * ow
                    if sw == 1:
                        img[c, iy, lo + shift:hi + shift] += col[row, base + lo:base + hi]
                    else:
                        for x in range(lo, hi):
                            img[c, iy, x * sw + shift] += col[row, base + x]


def bands(rows_of_col, oh, ow, weights=0):
    """Bands [y0, y1) of output rows whose col matrix fits the budget: more
    for a layer with many weights (up to 4x), since each band streams them
    all from memory again (fc6 has 103M)."""
    budget = min(max(COL_BUDGET, weights), 4 * COL_BUDGET)
    return even_split(oh, budget // max(1, rows_of_col * ow))


class Workspace(threading.local):
    """A float32 buffer per thread, reused by every layer in turn (Caffe's
    col_buffer): im2col allocates nothing after the first pass."""

    def __init__(self):
        self.buffer = np.empty(0, np.float32)

    def get(self, rows, cols):
        size = rows * cols
        if self.buffer.size < size:
            self.buffer = np.empty(size, np.float32)
        return self.buffer[:size].reshape(rows, cols)


WORKSPACE = Workspace()
