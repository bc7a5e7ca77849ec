"""im2col + GEMM, the convolution algorithm Caffe itself runs, and its two
loops, im2col and col2im.

`col` has one row per (channel, kernel row, kernel column) and one column per
output pixel, Caffe's layout, so the GEMM operands stay contiguous. Both work
on a band of output rows [y0, y1), so a large layer runs band by band through
bounded buffers instead of one col matrix that can be nine times its input
(conv1_2 of FCN at 500x500 would need 1.1 GB). Both are serial and release
the GIL: the workers of backends.cpu.threads each run one on their own slice.
"""
import numba
import numpy as np

from backends.cpu.column_gemm import ColumnGemm
from backends.cpu.workspace import WORKSPACE


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


@numba.njit(nogil=True, cache=True)
def col2im_pixels(col_t, kh, kw, ph, pw, sh, sw, ow, y0, y1, c0, c1, img):
    """col2im from the transposed col band: one row per pixel of output rows
    [y0, y1), its columns (channel - c0, kernel row, kernel column), added
    into channels [c0, c1) of `img`. Each pixel's kernel rows are runs
    contiguous on both sides, so the adds vectorize where col2im's, a
    stride apart, cannot (FCN's upsampling: kernels 4 to 64 wide, strides 2
    to 32). No dilation."""
    height, width = img.shape[1], img.shape[2]
    for y in range(y0, y1):
        for x in range(ow):
            src = col_t[(y - y0) * ow + x]
            shift = x * sw - pw
            lo = max(0, -shift)
            hi = min(kw, width - shift)
            if hi <= lo:
                continue
            for c in range(c0, c1):
                for ki in range(kh):
                    iy = y * sh - ph + ki
                    if iy < 0 or iy >= height:
                        continue
                    start = ((c - c0) * kh + ki) * kw
                    run = src[start + lo:start + hi]
                    dst = img[c, iy][shift + lo:shift + hi]
                    for t in range(hi - lo):
                        dst[t] += run[t]


class Im2colGemm(ColumnGemm):
    """The col matrix filled by im2col, the data gradient spread back by col2im."""
    name = "im2col + GEMM"

    def fill_col(self, image, ow, y0, y1, rows, col):
        """Rows [rows[0], rows[1]) of the col matrix of output rows [y0, y1)."""
        g = self.geometry
        im2col(image, g.kh, g.kw, g.ph, g.pw, g.sh, g.sw, g.dh, g.dw, ow, y0, y1, rows[0], rows[1], col)

    def backward_data(self, out_diff, weights, image_diff):
        """image_diff = col2im(W^T @ out_diff), band by band; each worker
        takes a slice of the image's channels, whose col2im no other touches."""
        g = self.geometry
        w = weights.reshape(self.group, weights.shape[0] // self.group, -1)
        c = image_diff.shape[0]
        cg, per = c // self.group, g.kh * g.kw
        oh, ow = out_diff.shape[1:]
        od = out_diff.reshape(self.group, -1, oh * ow)
        slices = self.slices(cg)
        image_diff[...] = 0
        if not self.caffe_order and (g.sh > 1 or g.sw > 1) and (g.dh, g.dw) == (1, 1):
            self.backward_data_by_pixel(od, w, image_diff, (oh, ow), slices)
            return
        for y0, y1 in self.bands(c, (oh, ow), w.size):
            col = WORKSPACE.get(c * per, (y1 - y0) * ow)
            col3 = col.reshape(self.group, cg * per, -1)

            def work(s):
                k, a, b = s
                np.matmul(w[k].T[a * per:b * per], od[k][:, y0 * ow:y1 * ow], out=col3[k][a * per:b * per])
                col2im(col, g.kh, g.kw, g.ph, g.pw, g.sh, g.sw, g.dh, g.dw, ow, y0, y1,
                       k * cg + a, k * cg + b, image_diff)
            self.workers.parallel(work, slices)

    def backward_data_by_pixel(self, od, w, image_diff, out_hw, slices):
        """backward_data for strided kernels (FCN's upsampling Deconvolutions
        run it forward): the col band transposed, one row per pixel, so that
        col2im adds contiguous runs (col2im_pixels). Each worker makes and
        adds its own slice of the channels. The sums are Caffe's, added in
        another order: not under engine: CAFFE or FCN_CONV=im2col."""
        g = self.geometry
        (oh, ow), per = out_hw, g.kh * g.kw
        cg = image_diff.shape[0] // self.group
        # Each worker's band of col holds only its own channels.
        for y0, y1 in self.bands(max(b - a for _, a, b in slices), (oh, ow), w.size):
            def work(s):
                k, a, b = s
                col_t = WORKSPACE.get((y1 - y0) * ow, (b - a) * per)
                np.matmul(od[k][:, y0 * ow:y1 * ow].T, w[k][:, a * per:b * per], out=col_t)
                col2im_pixels(col_t, g.kh, g.kw, g.ph, g.pw, g.sh, g.sw, ow, y0, y1,
                              k * cg + a, k * cg + b, image_diff)
            self.workers.parallel(work, slices)
