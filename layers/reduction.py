"""Reduction: SUM, ASUM, SUMSQ or MEAN of every axis from `axis` on, times coeff."""
import numpy as np

from core.layer import Layer, register
from netspec import caffe_pb2

RP = caffe_pb2.ReductionParameter


@register("Reduction")
class Reduction(Layer):
    def reshape(self, bottom, top):
        self.axis = bottom[0].canonical_axis(self.param.reduction_param.axis) if bottom[0].num_axes else 0
        top[0].reshape(bottom[0].shape[:self.axis])

    def forward(self, bottom, top):
        p = self.param.reduction_param
        x = bottom[0].data.reshape(top[0].count, -1)
        op = {RP.SUM: x, RP.ASUM: np.abs(x), RP.SUMSQ: x * x, RP.MEAN: x}[p.operation]
        total = op.sum(axis=1, dtype=np.float64)
        if p.operation == RP.MEAN:
            total /= max(x.shape[1], 1)
        top[0].data[...] = (p.coeff * total).reshape(top[0].shape)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        p = self.param.reduction_param
        x = bottom[0].data.reshape(top[0].count, -1)
        dy = top[0].diff.reshape(-1, 1) * np.float32(p.coeff)
        grad = {RP.SUM: np.ones_like(x), RP.ASUM: np.sign(x), RP.SUMSQ: 2 * x,
                RP.MEAN: np.full_like(x, 1.0 / max(x.shape[1], 1))}[p.operation]
        bottom[0].diff[...] = (dy * grad).reshape(bottom[0].shape)
