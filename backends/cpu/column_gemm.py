"""Convolution as GEMMs over a column matrix: the template that im2col +
GEMM and the 1x1 GEMM share. A subclass says how a band of the column
matrix is filled (`fill_col`, `col_band`) and how the data gradient is
spread back (`backward_data`); this class cuts the work into bands that fit
the options' budget, runs the GEMMs on the workers and applies the
epilogue while the product is in cache."""
import numpy as np

from backends.conv_algorithm import ConvAlgorithm
from backends.cpu.epilogue import Epilogue, accumulate_gemm
from backends.cpu.workspace import PRODUCTS, WORKSPACE


class ColumnGemm(ConvAlgorithm):
    """out (K, oh*ow) = W (K, C*kh*kw) @ col, through bands of output rows
    whose col matrix fits the options' budget (conv1_2 of FCN at 500x500
    would need a col of 1.1 GB whole)."""

    def fill_col(self, image, ow, y0, y1, rows, col):
        """Rows [rows[0], rows[1]) of the col matrix of output rows [y0, y1)."""
        raise NotImplementedError

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
