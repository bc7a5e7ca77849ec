"""What follows a convolution's GEMM on each block of its product (scale,
bias, ReLU, a folded residual), and the GEMM that accumulates in blocks."""
import copy

import numpy as np

from backends.cpu.kernels import finish_rows, finish_rows_residual


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
