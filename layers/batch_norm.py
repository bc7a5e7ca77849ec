"""BatchNorm: normalize each channel by the batch's (train) or the stored
(test, use_global_stats) mean and variance. The three blobs hold running sums
of mean and variance and their scale factor, never learned (lr_mult 0), as in
Caffe; the affine part is a separate Scale layer."""
import numpy as np

from core.layer import Layer, register
from netspec import caffe_pb2


@register("BatchNorm")
class BatchNorm(Layer):
    def setup(self, bottom, top):
        p = self.param.batch_norm_param
        self.use_global = p.use_global_stats if p.HasField("use_global_stats") else self.phase == caffe_pb2.TEST
        self.fraction, self.eps = p.moving_average_fraction, p.eps
        channels = bottom[0].shape[1] if bottom[0].num_axes > 1 else 1
        for shape in ((channels,), (channels,), (1,)):
            self.add_param(shape)      # zeros: sums of statistics, never filled
        for i in range(3):
            if len(self.param.param) == i:
                self.param.param.add(lr_mult=0)
            elif self.param.param[i].lr_mult != 0:
                raise self.error("batch statistics cannot be learned parameters (lr_mult must be 0)")

    def reshape(self, bottom, top):
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)
        self.axes = (0,) + tuple(range(2, bottom[0].num_axes))
        self.view = (1, -1) + (1,) * (bottom[0].num_axes - 2)

    def forward(self, bottom, top):
        x = bottom[0].data
        if self.use_global:
            factor = self.blobs[2].data[0]
            factor = 0.0 if factor == 0 else 1.0 / factor
            mean, var = factor * self.blobs[0].data, factor * self.blobs[1].data
        else:
            mean = x.mean(axis=self.axes, dtype=np.float64).astype(np.float32)
            var = ((x - mean.reshape(self.view)) ** 2).mean(axis=self.axes, dtype=np.float64).astype(np.float32)
            m = x.size // x.shape[1]
            correction = m / (m - 1.0) if m > 1 else 1.0
            self.blobs[2].data[...] = self.blobs[2].data * self.fraction + 1
            self.blobs[0].data[...] = self.blobs[0].data * self.fraction + mean
            self.blobs[1].data[...] = self.blobs[1].data * self.fraction + correction * var
        self.inv_std = (1.0 / np.sqrt(var + np.float32(self.eps))).astype(np.float32).reshape(self.view)
        np.multiply(x - mean.reshape(self.view), self.inv_std, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy, y = top[0].diff, top[0].data
        if self.use_global:
            np.multiply(dy, self.inv_std, out=bottom[0].diff)
            return
        mean_dy = dy.mean(axis=self.axes, keepdims=True)
        mean_dy_y = (dy * y).mean(axis=self.axes, keepdims=True)
        np.multiply(dy - mean_dy - y * mean_dy_y, self.inv_std, out=bottom[0].diff)
