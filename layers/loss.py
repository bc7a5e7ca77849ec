"""EuclideanLoss and SigmoidCrossEntropyLoss (SoftmaxWithLoss lives with Softmax)."""
import numpy as np

from core.layer import Layer, register
from layers.softmax import normalizer
from netspec import caffe_pb2

LP = caffe_pb2.LossParameter


@register("EuclideanLoss")
class EuclideanLoss(Layer):
    bottoms = (2, 2)
    is_loss = True

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count or bottom[0].shape[:1] != bottom[1].shape[:1]:
            raise self.error(f"bottoms must hold the same values per item: {self.shapes_text(bottom)}")
        top[0].reshape(())

    def forward(self, bottom, top):
        self.difference = bottom[0].data - bottom[1].data.reshape(bottom[0].shape)
        top[0].data[...] = (self.difference.astype(np.float64) ** 2).sum() / bottom[0].shape[0] / 2

    def backward(self, top, propagate_down, bottom):
        alpha = top[0].diff.reshape(-1)[0] / bottom[0].shape[0]
        for sign, b, down in zip((1, -1), bottom, propagate_down):
            if down:
                b.diff[...] = (sign * alpha * self.difference).reshape(b.shape)


@register("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLoss(Layer):
    bottoms = (2, 2)
    is_loss = True

    def allow_force_backward(self, bottom_index):
        return bottom_index != 1

    def setup(self, bottom, top):
        p = self.param.loss_param
        if p.HasField("normalization"):
            self.mode = p.normalization
        elif p.HasField("normalize"):
            self.mode = LP.VALID if p.normalize else LP.BATCH_SIZE
        else:
            self.mode = LP.BATCH_SIZE   # Caffe's historical default for this loss
        self.ignore = p.ignore_label if p.HasField("ignore_label") else None

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count:
            raise self.error(f"needs one target per score: {self.shapes_text(bottom)}")
        self.outer = bottom[0].shape[0] if bottom[0].num_axes else 1
        self.inner = bottom[0].count // max(self.outer, 1)
        top[0].reshape(())

    def _valid(self, target):
        return np.ones(target.shape, bool) if self.ignore is None else target != self.ignore

    def forward(self, bottom, top):
        x = bottom[0].data.astype(np.float64)
        t = bottom[1].data.reshape(x.shape).astype(np.float64)
        valid = self._valid(t)
        positive = x >= 0
        loss = -(x * (t - positive) - np.log1p(np.exp(x - 2 * x * positive)))
        total = loss[valid].sum()
        top[0].data[...] = total / normalizer(self.mode, self.outer, self.inner, int(valid.sum()))

    def backward(self, top, propagate_down, bottom):
        if len(propagate_down) > 1 and propagate_down[1]:
            raise self.error("cannot backpropagate to the targets")
        if not propagate_down[0]:
            return
        x = bottom[0].data
        t = bottom[1].data.reshape(x.shape)
        valid = self._valid(t)
        sigmoid = 0.5 * np.tanh(0.5 * x) + 0.5
        scale = top[0].diff.reshape(-1)[0] / normalizer(self.mode, self.outer, self.inner, int(valid.sum()))
        bottom[0].diff[...] = (sigmoid - t) * valid * np.float32(scale)
