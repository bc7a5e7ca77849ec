"""1x1 stride-1 unpadded convolutions (fc7, the score layers) as one GEMM
each, as Caffe runs them: the image itself is the col matrix."""
import numpy as np

from backends.cpu.column_gemm import ColumnGemm


class PointwiseGemm(ColumnGemm):
    name = "1x1 GEMM"

    def forward_bands_of(self, channels, out_hw, weights, images=1):
        """With no col matrix to fill, a band per worker pays only on wide
        maps with few output channels (FCN's score layers); otherwise the
        workers split the output channels."""
        if self.kernels > 64:
            return self.bands(channels, out_hw, weights)
        return super().forward_bands_of(channels, out_hw, weights, images=2)

    def images_per_pass(self, channels, per_image, weights):
        """An image is its own col matrix: several side by side cost a copy,
        worth it only where one image's GEMM would be narrow."""
        return 1 if per_image >= 1024 else super().images_per_pass(channels, per_image, weights)

    def bands(self, channels, out_hw, weights, least=1):
        """No col matrix to bound: one band, unless asked for more."""
        return self.workers.split(out_hw[0], least)

    def col_band(self, image, ow, y0, y1, parallel_rows=False):
        return image.reshape(image.shape[0], -1)[:, y0 * ow:y1 * ow]

    def fill_col(self, image, ow, y0, y1, rows, col):
        """Several images side by side: their pixels copied into one matrix."""
        col[rows[0]:rows[1]] = image.reshape(image.shape[0], -1)[rows[0]:rows[1], y0 * ow:y1 * ow]

    def backward_data(self, out_diff, weights, image_diff):
        """image_diff = W^T @ out_diff; each worker a slice of the channels."""
        w = weights.reshape(self.group, weights.shape[0] // self.group, -1)
        cg = image_diff.shape[0] // self.group
        od = out_diff.reshape(self.group, out_diff.shape[0] // self.group, -1)
        image3 = image_diff.reshape(self.group, cg, -1)
        self.workers.parallel(lambda s: np.matmul(w[s[0]].T[s[1]:s[2]], od[s[0]], out=image3[s[0]][s[1]:s[2]]),
                              self.slices(cg))
