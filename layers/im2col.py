"""im2col and col2im: the two loops that turn convolution into GEMM.

`col` has one row per (channel, kernel row, kernel column) and one column per
output pixel, Caffe's layout, so the GEMM operands stay contiguous. Both work
on a band of output rows [y0, y1), so a large layer runs band by band through
one bounded buffer instead of materializing a col matrix that can be nine
times its input (conv1_2 of FCN at 500x500 would need 1.1 GB). Numba compiles
both once and caches them on disk; rows (channels for col2im) run in parallel.
"""
import numba
import numpy as np

# Floats in the shared col buffer a band may fill: 32 MB, which keeps each
# band's GEMM large enough to run at full speed.
COL_BUDGET = 1 << 23


@numba.njit(parallel=True, cache=True)
def im2col(img, kh, kw, ph, pw, sh, sw, dh, dw, ow, y0, y1, col):
    channels, height, width = img.shape
    rows = channels * kh * kw
    for row in numba.prange(rows):
        c = row // (kh * kw)
        ki = (row // kw) % kh
        kj = row % kw
        for y in range(y0, y1):
            iy = y * sh - ph + ki * dh
            base = (y - y0) * ow
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


@numba.njit(parallel=True, cache=True)
def col2im(col, kh, kw, ph, pw, sh, sw, dh, dw, ow, y0, y1, img):
    """Add the band `col` of output rows [y0, y1) into `img`."""
    channels, height, width = img.shape
    for c in numba.prange(channels):
        for ki in range(kh):
            for kj in range(kw):
                row = (c * kh + ki) * kw + kj
                for y in range(y0, y1):
                    iy = y * sh - ph + ki * dh
                    if iy < 0 or iy >= height:
                        continue
                    base = (y - y0) * ow
                    for x in range(ow):
                        ix = x * sw - pw + kj * dw
                        if 0 <= ix < width:
                            img[c, iy, ix] += col[row, base + x]


def bands(rows_of_col, oh, ow):
    """Bands [y0, y1) of output rows whose col matrix fits COL_BUDGET."""
    step = max(1, COL_BUDGET // max(1, rows_of_col * ow))
    return [(y0, min(oh, y0 + step)) for y0 in range(0, oh, step)]


class Workspace:
    """One float32 buffer shared by every layer in turn, as Caffe's
    col_buffer: im2col costs no allocation after the first pass."""

    def __init__(self):
        self.buffer = np.empty(0, np.float32)

    def get(self, rows, cols):
        size = rows * cols
        if self.buffer.size < size:
            self.buffer = np.empty(size, np.float32)
        return self.buffer[:size].reshape(rows, cols)


WORKSPACE = Workspace()
