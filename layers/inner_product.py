"""InnerProduct: y = x W^T + b over the axes from `axis` on (W is (N, K),
or (K, N) with transpose: true), as Caffe's fully connected layer."""
import numpy as np

from common import sizes
from core.layer import Layer, register


@register("InnerProduct")
class InnerProduct(Layer):
    def setup(self, bottom, top):
        p = self.param.inner_product_param
        if not p.num_output:
            raise self.error("num_output must be given and positive")
        self.axis = bottom[0].canonical_axis(p.axis)
        self.k = sizes.count(bottom[0].shape[self.axis:])
        self.transpose = p.transpose
        shape = (self.k, p.num_output) if self.transpose else (p.num_output, self.k)
        self.add_param(shape, p.weight_filler)
        if p.bias_term:
            self.add_param((p.num_output,), p.bias_filler)

    def reshape(self, bottom, top):
        k = sizes.count(bottom[0].shape[self.axis:])
        if k != self.k:
            raise self.error(f"input {self.shapes_text(bottom)} has {k} values per row from axis "
                             f"{self.axis}, the weights expect {self.k}")
        top[0].reshape(bottom[0].shape[:self.axis] + (self.param.inner_product_param.num_output,))

    def _matrix(self):
        w = self.blobs[0].data
        return w if self.transpose else w.T        # (K, N)

    def forward(self, bottom, top):
        x = bottom[0].data.reshape(-1, self.k)
        out = top[0].data.reshape(x.shape[0], -1)
        np.matmul(x, self._matrix(), out=out)
        if len(self.blobs) == 2:
            out += self.blobs[1].data

    def backward(self, top, propagate_down, bottom):
        dy = top[0].diff.reshape(-1, top[0].shape[-1])
        x = bottom[0].data.reshape(-1, self.k)
        if self.param_propagate_down[0]:
            self.blobs[0].diff += (x.T @ dy) if self.transpose else (dy.T @ x)
        if len(self.blobs) == 2 and self.param_propagate_down[1]:
            self.blobs[1].diff += dy.sum(axis=0)
        if propagate_down[0]:
            np.matmul(dy, self._matrix().T, out=bottom[0].diff.reshape(x.shape))
