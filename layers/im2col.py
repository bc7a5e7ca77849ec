"""im2col + GEMM, the convolution algorithm Caffe itself runs, and its two
loops, im2col and col2im.

`col` has one row per (channel, kernel row, kernel column) and one column per
output pixel, Caffe's layout, so the GEMM operands stay contiguous. Both work
on a band of output rows [y0, y1), so a large layer runs band by band through
bounded buffers instead of one col matrix that can be nine times its input
(conv1_2 of FCN at 500x500 would need 1.1 GB). Both are serial and release
the GIL: the workers of layers.threads each run one on their own slice.
"""
import copy
import threading

import numba
import numpy as np

from layers.conv_algorithm import ConvAlgorithm
from layers.kernels import finish_rows, finish_rows_residual


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
# A second buffer per thread: the product of several images' GEMM before
# it is spread into their outputs.
PRODUCTS = Workspace()


def accumulate_gemm(a, b, c, budget):
    """c += a @ b, a block of c's columns at a time, so that the temporary
    product stays under `budget` floats (fc6's whole weight gradient is
    411 MB)."""
    step = max(1, budget // max(1, c.shape[0]))
    for k0 in range(0, c.shape[1], step):
        c[:, k0:k0 + step] += a @ b[:, k0:k0 + step]


class Epilogue:
    """What follows a convolution's GEMM on each block of its product:
    out = product * scale + bias, then ReLU, per output channel (rows)."""

    def __init__(self, kernels, bias, scale, relu_slope, group, residual=None):
        self.needed = bias is not None or scale is not None or relu_slope is not None
        self.scale = (np.ones(kernels, np.float32) if scale is None else scale).reshape(group, -1)
        self.shift = (np.zeros(kernels, np.float32) if bias is None else bias).reshape(group, -1)
        self.rectify, self.slope = relu_slope is not None, np.float32(relu_slope or 0)
        self.residual = None
        if residual is not None:       # (the other bottom (N, K, oh, ow), its coefficient, ours)
            other, c_other, c_self = residual
            self.residual = other.reshape(other.shape[0], group, kernels // group, -1)
            self.coefficients = np.float32(c_other), np.float32(c_self)

    def for_image(self, i):
        """This epilogue for image i of the batch (its residual)."""
        if self.residual is None:
            return self
        one = copy.copy(self)
        one.image = i
        return one

    def apply(self, src, columns, rows, k, dst, d0):
        """dst[rows, d0:...] = src[rows, columns] through the epilogue, for
        group k; src and dst are whole (rows of group k, pixels) matrices."""
        (c0, c1), (r0, r1) = columns, rows
        if self.residual is not None:
            finish_rows_residual(src, c0, c1, r0, r1, self.scale[k], self.shift[k], self.residual[self.image][k],
                                 *self.coefficients, self.rectify, self.slope, dst, d0)
        elif self.needed:
            finish_rows(src, c0, c1, r0, r1, self.scale[k], self.shift[k], self.rectify, self.slope, dst, d0)
        elif dst is not src or d0 != c0:
            dst[r0:r1, d0:d0 + c1 - c0] = src[r0:r1, c0:c1]


class Im2colGemm(ConvAlgorithm):
    """out (K, oh*ow) = W (K, C*kh*kw) @ col, through bands of output rows
    whose col matrix fits the options' budget (conv1_2 of FCN at 500x500
    would need a col of 1.1 GB whole)."""
    name = "im2col + GEMM"

    def col_floats(self, weights):
        """Floats of col matrix one pass may hold: the options' budget, more
        for a layer with many weights (up to 4x), since each pass streams
        them all from memory again (fc6 has 103M)."""
        limit = self.options.col_budget
        return min(max(limit, weights), 4 * limit)

    def bands(self, channels, out_hw, weights, least=1):
        """Bands [y0, y1) of output rows whose col matrix fits the budget."""
        g, (oh, ow) = self.geometry, out_hw
        return self.workers.even_split(oh, self.col_floats(weights) // max(1, channels * g.kh * g.kw * ow), least)

    def forward_bands_of(self, channels, out_hw, weights, images=1):
        """The forward pass's bands: at least one per worker when each
        worker's share of the map is wide enough (a ResNet's 14x14 maps for
        a lone image, its 56x56 maps for a batch) and the weights few
        enough for every worker to stream them all, so that each worker
        fills and multiplies its own band with no wait between the two.
        Otherwise few bands, and the workers split the output channels
        (several images side by side in one col matrix)."""
        oh, ow = out_hw
        per_worker = oh * ow // self.workers.count
        wide = (per_worker >= (96 if images == 1 else 1024) and weights <= 1 << 20 and oh >= self.workers.count)
        return self.bands(channels, out_hw, weights, self.workers.count if wide else 1)

    def fill_col(self, image, ow, y0, y1, rows, col):
        """Rows [rows[0], rows[1]) of the col matrix of output rows [y0, y1)."""
        g = self.geometry
        im2col(image, g.kh, g.kw, g.ph, g.pw, g.sh, g.sw, g.dh, g.dw, ow, y0, y1, rows[0], rows[1], col)

    def col_band(self, image, ow, y0, y1, parallel_rows=False):
        """The col matrix of output rows [y0, y1) of one (C, H, W) image, in
        this thread's workspace; its rows spread over the workers if asked."""
        g = self.geometry
        rows = image.shape[0] * g.kh * g.kw
        col = WORKSPACE.get(rows, (y1 - y0) * ow)
        if parallel_rows:
            self.workers.parallel(lambda span: self.fill_col(image, ow, y0, y1, span, col), self.workers.split(rows))
        else:
            self.fill_col(image, ow, y0, y1, (0, rows), col)
        return col

    def slices(self, rows):
        """(group, start, stop): the rows of each group cut for the workers."""
        parts = -(-self.workers.count // self.group)
        return [(k, a, b) for k in range(self.group) for a, b in self.workers.split(rows, parts)]

    takes_residual = True
    # Sums in Caffe's order (engine: CAFFE, FCN_CONV=im2col); set by choose().
    caffe_order = False

    def forward(self, images, weights, bias, out, relu_slope=None, scale=None, residual=None):
        """Large maps, many bands: image by image, one band per worker.
        Small maps: as many images as the budget allows side by side in one
        col matrix (a ResNet's 7x7 maps make GEMMs 49 columns wide, and
        stream the weights once per image), each worker a slice of the
        output channels. Scale, bias and ReLU while the product is in cache."""
        w = weights.reshape(self.group, weights.shape[0] // self.group, -1)
        n, _, oh, ow = out.shape
        epilogue = Epilogue(weights.shape[0], bias, scale, relu_slope, self.group, residual)
        band_list = self.forward_bands_of(images.shape[1], (oh, ow), w.size, n)
        if len(band_list) >= self.workers.count:
            for i in range(n):
                self.forward_bands(images[i], w, out[i], band_list, epilogue.for_image(i))
            return
        most = self.images_per_pass(images.shape[1], oh * ow, w.size)
        for i0, i1 in self.workers.split(n, -(-n // most)):
            self.forward_images(images[i0:i1], w, out[i0:i1], [epilogue.for_image(i) for i in range(i0, i1)])

    def forward_bands(self, image, w, out, band_list, epilogue):
        oh, ow = out.shape[1:]
        out3 = out.reshape(self.group, -1, oh * ow)

        # Columns of the product whose epilogue runs while they are still in
        # L2 (512 KB of output a step), unless that would make GEMMs narrow.
        step = max(512, (1 << 17) // w.shape[1])

        def band_work(band):
            y0, y1 = band
            col3 = self.col_band(image, ow, y0, y1).reshape(self.group, -1, (y1 - y0) * ow)
            for k in range(self.group):
                for c0 in range(y0 * ow, y1 * ow, step):
                    c1 = min(c0 + step, y1 * ow)
                    np.matmul(w[k], col3[k][:, c0 - y0 * ow:c1 - y0 * ow], out=out3[k][:, c0:c1])
                    epilogue.apply(out3[k], (c0, c1), (0, w.shape[1]), k, out3[k], c0)
        self.workers.parallel(band_work, band_list)

    def images_per_pass(self, channels, per_image, weights):
        """Images whose col matrices fit the budget side by side."""
        g = self.geometry
        return max(1, self.col_floats(weights) // max(1, channels * g.kh * g.kw * per_image))

    def forward_images(self, images, w, out, epilogues):
        """Every output row of `images` at once: one col matrix of (rows,
        images x pixels), one GEMM per slice of output channels."""
        m, (oh, ow) = images.shape[0], out.shape[2:]
        per_image = oh * ow
        if m == 1:
            col = self.col_band(images[0], ow, 0, oh, parallel_rows=True)
            product = out[0].reshape(-1, per_image)
        else:
            rows = images.shape[1] * self.geometry.kh * self.geometry.kw
            col = WORKSPACE.get(rows, m * per_image)
            spans = [(j, span) for j in range(m) for span in self.workers.split(rows)]
            self.workers.parallel(lambda item: self.fill_col(
                images[item[0]], ow, 0, oh, item[1], col[:, item[0] * per_image:(item[0] + 1) * per_image]), spans)
            product = PRODUCTS.get(out.shape[1], m * per_image)
        col3 = col.reshape(self.group, -1, m * per_image)
        product3 = product.reshape(self.group, -1, m * per_image)
        outs = [out[j].reshape(self.group, -1, per_image) for j in range(m)]

        def channel_work(s):
            k, a, b = s
            np.matmul(w[k][a:b], col3[k], out=product3[k][a:b])
            for j in range(m):
                epilogues[j].apply(product3[k], (j * per_image, (j + 1) * per_image), (a, b), k, outs[j][k], 0)
        self.workers.parallel(channel_work, self.slices(w.shape[1]))

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

    def weight_gradient(self, image, out_diff, weight_diff):
        """weight_diff += out_diff @ col^T, band by band; each worker takes
        a slice of the output channels."""
        wd = weight_diff.reshape(self.group, weight_diff.shape[0] // self.group, -1)
        oh, ow = out_diff.shape[1:]
        od = out_diff.reshape(self.group, -1, oh * ow)
        budget = self.options.product_budget
        for y0, y1 in self.bands(image.shape[0], (oh, ow), wd.size):
            col3 = self.col_band(image, ow, y0, y1, parallel_rows=True).reshape(self.group, -1, (y1 - y0) * ow)
            self.workers.parallel(lambda s: accumulate_gemm(od[s[0]][s[1]:s[2], y0 * ow:y1 * ow], col3[s[0]].T,
                                                            wd[s[0]][s[1]:s[2]], budget), self.slices(wd.shape[1]))
