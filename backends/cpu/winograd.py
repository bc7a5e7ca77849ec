"""3x3 stride-1 convolution by Winograd's minimal filtering, F(2x2, 3x3).

Each 2x2 block of output pixels (a tile) is computed from the 4x4 block of
input around it with 16 multiplications per channel pair instead of 36: the
input tile and the kernel are each carried into a 4x4 "transformed" space
(V = B^T d B, U = G g G^T), multiplied there element by element, and the 16
products carried back (Y = A^T M A). Summed over channels, the element-wise
products become 16 independent GEMMs, M[e] = U[e] @ V[e], so the layer does
2.25x fewer multiply-adds than im2col + GEMM, and its transformed input is
4x (not 9x) the size of the image. The transforms' constants are 0, +-1 and
1/2, all exact in float32, so results differ from im2col + GEMM only by
rounding (a few units in the sixth digit).

The same transforms serve the three passes of a convolution: forward, its
transpose (backward-data, with the kernels turned around), and the weight
gradient, which sums the transformed input times the transformed output
gradient over the tiles and carries the 16 sums back to the 3x3 kernels.

Like im2col it runs band by band (a band is a block of tiles) through a
per-thread workspace, one band per worker.
"""
import numba
import numpy as np

from backends.conv_algorithm import ConvAlgorithm
from backends.cpu.kernels import relu
from backends.cpu.workspace import WORKSPACE


def suits(geometry, group, channels_in, channels_out):
    """Whether Winograd beats im2col for this layer: 3x3, stride 1, no
    dilation, and no thin side in a group (conv1_1's three input channels
    cost more to transform than the multiplications saved). Groups run
    one after the other."""
    g = geometry
    return ((g.kh, g.kw, g.sh, g.sw, g.dh, g.dw) == (3, 3, 1, 1, 1, 1)
            and min(channels_in, channels_out) // group >= 16)


@numba.njit(nogil=True, cache=True)
def transform_weights(w, flip, u, k0, k1):
    """u[e, k, c] = (G g G^T)[e] for g = w[k, c], k in [k0, k1); with `flip`,
    for g = w[c, k] turned by 180 degrees, the kernel whose convolution is
    the transpose."""
    cols = u.shape[2]
    g = np.empty((3, 3), np.float32)
    t = np.empty((4, 3), np.float32)
    for k in range(k0, k1):
        for c in range(cols):
            for i in range(3):
                for j in range(3):
                    g[i, j] = w[c, k, 2 - i, 2 - j] if flip else w[k, c, i, j]
            for j in range(3):
                t[0, j] = g[0, j]
                t[1, j] = 0.5 * (g[0, j] + g[1, j] + g[2, j])
                t[2, j] = 0.5 * (g[0, j] - g[1, j] + g[2, j])
                t[3, j] = g[2, j]
            for i in range(4):
                u[4 * i, k, c] = t[i, 0]
                u[4 * i + 1, k, c] = 0.5 * (t[i, 0] + t[i, 1] + t[i, 2])
                u[4 * i + 2, k, c] = 0.5 * (t[i, 0] - t[i, 1] + t[i, 2])
                u[4 * i + 3, k, c] = t[i, 2]


@numba.njit(nogil=True, cache=True)
def transform_input(img, ph, pw, ty0, ty1, tx0, tx1, v):
    """v[e, c, tile] = (B^T d B)[e] for the input tile d of each tile of the
    band, tiles numbered row by row. Pads may be negative (a crop)."""
    channels, height, width = img.shape
    span = 2 * (tx1 - tx0) + 2
    first = 2 * tx0 - pw                  # input column of the band's first
    lo = max(0, -first)
    hi = min(span, width - first)
    rows = np.zeros((4, span), np.float32)
    r = np.empty((4, span), np.float32)
    per_row = tx1 - tx0
    for c in range(channels):
        for ty in range(ty0, ty1):
            for i in range(4):
                iy = 2 * ty - ph + i
                if iy < 0 or iy >= height or hi <= lo:
                    rows[i, :] = 0.0
                else:
                    rows[i, :lo] = 0.0
                    rows[i, lo:hi] = img[c, iy, first + lo:first + hi]
                    rows[i, hi:] = 0.0
            for x in range(span):
                r[0, x] = rows[0, x] - rows[2, x]
                r[1, x] = rows[1, x] + rows[2, x]
                r[2, x] = rows[2, x] - rows[1, x]
                r[3, x] = rows[1, x] - rows[3, x]
            base = (ty - ty0) * per_row
            for i in range(4):
                for t in range(per_row):
                    x = 2 * t
                    v[4 * i, c, base + t] = r[i, x] - r[i, x + 2]
                    v[4 * i + 1, c, base + t] = r[i, x + 1] + r[i, x + 2]
                    v[4 * i + 2, c, base + t] = r[i, x + 2] - r[i, x + 1]
                    v[4 * i + 3, c, base + t] = r[i, x + 1] - r[i, x + 3]


@numba.njit(nogil=True, cache=True, inline="always")
def finish(v, rectify, slope):
    return relu(v, slope) if rectify else v


@numba.njit(nogil=True, cache=True)
def transform_output(m, scale, bias, rectify, slope, ty0, ty1, tx0, tx1, out):
    """The 2x2 output tiles (A^T M A, times scale, plus bias, through relu
    if `rectify`) of the band from its products m[e, k, tile]; an odd last
    row or column is left out."""
    channels, height, width = out.shape
    per_row = tx1 - tx0
    for k in range(channels):
        a, b = scale[k], bias[k]
        for ty in range(ty0, ty1):
            y = 2 * ty
            base = (ty - ty0) * per_row
            for tx in range(tx0, tx1):
                t = base + tx - tx0
                x = 2 * tx
                s0 = m[0, k, t] + m[4, k, t] + m[8, k, t]
                s1 = m[1, k, t] + m[5, k, t] + m[9, k, t]
                s2 = m[2, k, t] + m[6, k, t] + m[10, k, t]
                s3 = m[3, k, t] + m[7, k, t] + m[11, k, t]
                out[k, y, x] = finish((s0 + s1 + s2) * a + b, rectify, slope)
                if x + 1 < width:
                    out[k, y, x + 1] = finish((s1 - s2 - s3) * a + b, rectify, slope)
                if y + 1 < height:
                    s0 = m[4, k, t] - m[8, k, t] - m[12, k, t]
                    s1 = m[5, k, t] - m[9, k, t] - m[13, k, t]
                    s2 = m[6, k, t] - m[10, k, t] - m[14, k, t]
                    s3 = m[7, k, t] - m[11, k, t] - m[15, k, t]
                    out[k, y + 1, x] = finish((s0 + s1 + s2) * a + b, rectify, slope)
                    if x + 1 < width:
                        out[k, y + 1, x + 1] = finish((s1 - s2 - s3) * a + b, rectify, slope)


@numba.njit(nogil=True, cache=True)
def transform_gradient(dy, ty0, ty1, tx0, tx1, m):
    """m[e, k, tile] = (A dY A^T)[e] for the 2x2 block dY of the output's
    gradient at each tile of the band (zero past an odd last row or
    column): the adjoint of transform_output, which the weight gradient
    pairs with the transformed input."""
    channels, height, width = dy.shape
    per_row = tx1 - tx0
    z = np.zeros((2, 2), np.float32)
    p = np.empty((4, 2), np.float32)
    for k in range(channels):
        for ty in range(ty0, ty1):
            base = (ty - ty0) * per_row
            for tx in range(tx0, tx1):
                for a in range(2):
                    for b in range(2):
                        y, x = 2 * ty + a, 2 * tx + b
                        z[a, b] = dy[k, y, x] if y < height and x < width else 0.0
                for b in range(2):
                    p[0, b] = z[0, b]
                    p[1, b] = z[0, b] + z[1, b]
                    p[2, b] = z[0, b] - z[1, b]
                    p[3, b] = -z[1, b]
                t = base + tx - tx0
                for i in range(4):
                    m[4 * i, k, t] = p[i, 0]
                    m[4 * i + 1, k, t] = p[i, 0] + p[i, 1]
                    m[4 * i + 2, k, t] = p[i, 0] - p[i, 1]
                    m[4 * i + 3, k, t] = -p[i, 1]


@numba.njit(nogil=True, cache=True)
def untransform_weights(s, wd, k0, k1):
    """wd[k, c] += G^T S G for S = s[:, k, c] as 4x4, k in [k0, k1): the
    adjoint of transform_weights, carrying a gradient in the transformed
    space back to the 3x3 kernels."""
    cols = s.shape[2]
    r = np.empty((3, 4), np.float32)
    for k in range(k0, k1):
        for c in range(cols):
            for j in range(4):
                s0, s1, s2, s3 = s[j, k, c], s[4 + j, k, c], s[8 + j, k, c], s[12 + j, k, c]
                r[0, j] = s0 + 0.5 * (s1 + s2)
                r[1, j] = 0.5 * (s1 - s2)
                r[2, j] = 0.5 * (s1 + s2) + s3
            for i in range(3):
                wd[k, c, i, 0] += r[i, 0] + 0.5 * (r[i, 1] + r[i, 2])
                wd[k, c, i, 1] += 0.5 * (r[i, 1] - r[i, 2])
                wd[k, c, i, 2] += 0.5 * (r[i, 1] + r[i, 2]) + r[i, 3]


def plane_stride(floats):
    """Floats between two of the 16 planes of a band or of the transformed
    kernels: one cache line past a multiple of 4 KB. The transforms read or
    write all 16 planes at once, and 16 streams a multiple of 4 KB apart
    would share one set of the L1 cache (conv1_2 at 250x250 ran at two
    thirds of its speed at 500x500; 512x512 kernels took three times as
    long to transform)."""
    return -(-floats // 1024) * 1024 + 16


def band_planes(band, channels, k):
    """The transformed input v (16, channels, tiles) and products m (16, k,
    tiles) of a band, in this thread's workspace."""
    ty0, ty1, tx0, tx1 = band
    tiles = (ty1 - ty0) * (tx1 - tx0)
    v_plane, m_plane = plane_stride(channels * tiles), plane_stride(k * tiles)
    buffer = WORKSPACE.get(16, v_plane + m_plane)
    v = buffer[:, :channels * tiles].reshape(16, channels, tiles)
    m = buffer[:, v_plane:v_plane + k * tiles].reshape(16, k, tiles)
    return v, m


class Winograd(ConvAlgorithm):
    """F(2x2, 3x3) for the three passes; a grouped layer runs its groups one
    after the other. Bands of tiles hold at most the options' tile budget
    of transformed input and products (32 MB: im2col's largest band, so
    the workspace never grows past it)."""
    name = "Winograd F(2x2, 3x3)"

    def __init__(self, geometry, group, channels, kernels, options, small_maps: ConvAlgorithm):
        super().__init__(geometry, group, channels, kernels, options)
        # Small maps have too few tiles to repay transforming the kernels
        # (16 floats for each 9): they run on `small_maps` (im2col + GEMM,
        # given by the factory) instead.
        self.small_maps = small_maps

    def forward(self, images, weights, bias, out, relu_slope=None, scale=None, residual=None):
        """Each group's kernels transformed once for the whole batch (no
        residual: takes_residual is False)."""
        n, k, oh, ow = out.shape
        # A batch shares the kernels' transform: half the tiles suffice.
        least, share = self.options.winograd_least_tiles, min(n, 2)
        if -(-oh // 2) * -(-ow // 2) * share < least:
            self.small_maps.forward(images, weights, bias, out, relu_slope, scale)
            return
        ph, pw = self.geometry.ph, self.geometry.pw
        bias = np.zeros(k, np.float32) if bias is None else bias
        scale = np.ones(k, np.float32) if scale is None else scale
        for i, o in self.group_slices():
            u = self.transformed(weights[o], False)
            for j in range(n):
                self.convolve(images[j][i], u, scale[o], bias[o], (ph, pw), out[j][o], relu_slope)

    def backward_data(self, out_diff, weights, image_diff):
        """The convolution of out_diff with the kernels turned around, padded
        so that it comes back to the image's size."""
        ph, pw = self.geometry.ph, self.geometry.pw
        for i, o in self.group_slices():
            c = image_diff[i].shape[0]
            self.convolve(out_diff[o], self.transformed(weights[o], True), np.ones(c, np.float32),
                          np.zeros(c, np.float32), (2 - ph, 2 - pw), image_diff[i])

    def weight_gradient(self, image, out_diff, weight_diff):
        """Summed over tiles in the transformed space, then carried back to the kernels."""
        ph, pw = self.geometry.ph, self.geometry.pw
        for i, o in self.group_slices():
            self.kernel_gradient(image[i], out_diff[o], (ph, pw), weight_diff[o])

    def tile_bands(self, tiles_h, tiles_w, per_tile):
        """Bands (ty0, ty1, tx0, tx1) of at most tile_budget // per_tile tiles,
        even in size: whole rows of tiles, at least one band per worker; a row
        too wide for the budget is cut across."""
        most = max(1, self.options.tile_budget // per_tile)
        split = self.workers.even_split
        if tiles_w <= most:
            return [(y0, y1, 0, tiles_w) for y0, y1 in split(tiles_h, most // tiles_w, self.workers.count)]
        return [(y, y + 1, x0, x1) for y in range(tiles_h) for x0, x1 in split(tiles_w, most)]

    def transformed(self, weights, transposed):
        """U = G g G^T of every kernel, (16, K, C) for weights (K, C, 3, 3);
        with `transposed`, for weights (C, K, 3, 3) turned around, whose
        convolution is the transpose of theirs (backward-data of a
        convolution, or deconvolution)."""
        k, channels = (weights.shape[1], weights.shape[0]) if transposed else weights.shape[:2]
        u = np.empty((16, plane_stride(k * channels)), np.float32)[:, :k * channels].reshape(16, k, channels)
        self.workers.in_slices(transform_weights, k, weights, transposed, u)
        return u

    def convolve(self, image, u, scale, bias, pad, out, relu_slope=None):
        """out (K, oh, ow) = the 3x3 stride-1 convolution of image (C, h, w)
        with the transformed kernels u (16, K, C) and pad (ph, pw), times
        scale (K,), plus bias (K,), through a ReLU of that negative slope
        unless None."""
        channels, k = image.shape[0], out.shape[0]
        rectify, slope = relu_slope is not None, np.float32(relu_slope or 0)
        tiles_h, tiles_w = -(-out.shape[1] // 2), -(-out.shape[2] // 2)

        def band_work(band):
            ty0, ty1, tx0, tx1 = band
            v, m = band_planes(band, channels, k)
            transform_input(image, pad[0], pad[1], ty0, ty1, tx0, tx1, v)
            np.matmul(u, v, out=m)
            transform_output(m, scale, bias, rectify, slope, ty0, ty1, tx0, tx1, out)
        self.workers.parallel(band_work, self.tile_bands(tiles_h, tiles_w, 16 * (channels + k)))

    def kernel_gradient(self, image, out_diff, pad, wd):
        """wd (K, C, 3, 3) += the gradient of the 3x3 stride-1 convolution of
        image (C, h, w) with pad (ph, pw) whose output's gradient is out_diff
        (K, oh, ow). With U = G g G^T, each tile's output is A^T (U * V) A, so
        dU sums (A dY A^T) * V over the tiles, 16 GEMMs of (K, tiles) by
        (tiles, C), and dg = G^T dU G. Each worker sums its own bands."""
        channels, k = image.shape[0], out_diff.shape[0]
        tiles_h, tiles_w = -(-out_diff.shape[1] // 2), -(-out_diff.shape[2] // 2)
        band_list = self.tile_bands(tiles_h, tiles_w, 16 * (channels + k))
        sums = [np.zeros((16, k, channels), np.float32) for _ in range(min(self.workers.count, len(band_list)))]

        def worker_bands(index):
            total = sums[index]
            product = np.empty_like(total)
            for ty0, ty1, tx0, tx1 in band_list[index::len(sums)]:
                v, m = band_planes((ty0, ty1, tx0, tx1), channels, k)
                transform_input(image, pad[0], pad[1], ty0, ty1, tx0, tx1, v)
                transform_gradient(out_diff, ty0, ty1, tx0, tx1, m)
                np.matmul(m, v.transpose(0, 2, 1), out=product)
                total += product
        self.workers.parallel(worker_bands, range(len(sums)))
        total = sums[0]
        for other in sums[1:]:
            total += other
        self.workers.in_slices(untransform_weights, k, total, wd)
