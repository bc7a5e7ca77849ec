"""Eltwise: SUM (with coefficients), PROD and MAX of same-shaped bottoms."""
import numba
import numpy as np

from backends.cpu.kernels import relu, relu_forward
from core.layer import Layer, register
from netspec import caffe_pb2

EP = caffe_pb2.EltwiseParameter


@numba.njit(nogil=True, cache=True)
def sum_relu(a, b, ca, cb, slope, out, lo, hi):
    """out = relu(ca * a + cb * b) over [lo, hi): a residual block's sum
    and the ReLU after it in one pass over memory. With coefficients of 1
    the products are exact, so the sum is the unfused layer's."""
    a, b, out = a[lo:hi], b[lo:hi], out[lo:hi]
    for i in range(out.size):
        out[i] = relu(a[i] * ca + b[i] * cb, slope)


@register("Eltwise")
class Eltwise(Layer):
    bottoms = (2, None)

    def setup(self, bottom, top):
        p = self.param.eltwise_param
        self.op = p.operation
        if len(p.coeff) and self.op != EP.SUM:
            raise self.error("coefficients apply to SUM only")
        if len(p.coeff) not in (0, len(bottom)):
            raise self.error(f"gives {len(p.coeff)} coefficients for {len(bottom)} bottoms")
        self.coeff = [np.float32(c) for c in p.coeff] or [np.float32(1)] * len(bottom)

    def reshape(self, bottom, top):
        if any(b.shape != bottom[0].shape for b in bottom):
            raise self.error(f"bottoms must have one shape: {self.shapes_text(bottom)}")
        top[0].reshape(bottom[0].shape)

    def fuses_with(self, followers):
        """An in-place ReLU after it (a ResNet's block ends in one)."""
        return len(followers) == 1 and followers[0].param.type == "ReLU"

    def forward_fused(self, bottom, top, followers):
        slope = np.float32(followers[0].param.relu_param.negative_slope)
        out = top[0].data.reshape(-1)
        if self.op == EP.SUM and len(bottom) == 2:
            a, b = (np.ascontiguousarray(x.data).reshape(-1) for x in bottom)
            self.workers.in_slices(sum_relu, out.size, a, b, self.coeff[0], self.coeff[1], slope, out)
            return
        self.forward(bottom, top)
        self.workers.in_slices(relu_forward, out.size, out, slope, out)

    def forward(self, bottom, top):
        out = top[0].data
        if self.op == EP.SUM:
            if self.coeff[0] != 1:
                np.multiply(bottom[0].data, self.coeff[0], out=out)
            else:
                np.copyto(out, bottom[0].data)
            for c, b in zip(self.coeff[1:], bottom[1:]):
                out += b.data if c == 1 else c * b.data
        elif self.op == EP.PROD:
            np.copyto(out, bottom[0].data)
            for b in bottom[1:]:
                out *= b.data
        else:
            stacked = np.stack([b.data for b in bottom])
            self.argmax = stacked.argmax(axis=0)   # first maximum wins, as in Caffe
            np.copyto(out, np.take_along_axis(stacked, self.argmax[None], 0)[0])

    def backward(self, top, propagate_down, bottom):
        dy = top[0].diff
        for i, (b, down) in enumerate(zip(bottom, propagate_down)):
            if not down:
                continue
            if self.op == EP.SUM:
                np.multiply(dy, self.coeff[i], out=b.diff)
            elif self.op == EP.PROD:
                others = np.ones_like(dy)
                for j, other in enumerate(bottom):
                    if j != i:
                        others *= other.data
                np.multiply(dy, others, out=b.diff)
            else:
                np.multiply(dy, self.argmax == i, out=b.diff)
