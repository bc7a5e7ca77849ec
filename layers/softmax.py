"""Softmax and SoftmaxWithLoss (multinomial logistic loss of the softmax)."""
import numpy as np

from common import sizes
from core.layer import Layer, register
from netspec import caffe_pb2

LP = caffe_pb2.LossParameter
FLT_MIN = np.float32(np.finfo(np.float32).tiny)


def softmax(x, axis, out):
    np.subtract(x, x.max(axis=axis, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=axis, keepdims=True)


@register("Softmax")
class Softmax(Layer):
    def reshape(self, bottom, top):
        self.axis = bottom[0].canonical_axis(self.param.softmax_param.axis)
        top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        softmax(bottom[0].data, self.axis, top[0].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            y, dy = top[0].data, top[0].diff
            dot = (dy * y).sum(axis=self.axis, keepdims=True)
            np.multiply(dy - dot, y, out=bottom[0].diff)


def normalizer(mode, outer, inner, valid):
    """Caffe's get_normalizer: what the summed loss is divided by (at least 1)."""
    if mode == LP.FULL:
        value = outer * inner
    elif mode == LP.VALID:
        value = outer * inner if valid < 0 else valid
    elif mode == LP.BATCH_SIZE:
        value = outer
    else:
        value = 1
    return max(1.0, float(value))


def normalization_mode(loss_param):
    """The legacy `normalize` flag counts only when `normalization` is unset."""
    if not loss_param.HasField("normalization") and loss_param.HasField("normalize"):
        return LP.VALID if loss_param.normalize else LP.BATCH_SIZE
    return loss_param.normalization


@register("SoftmaxWithLoss")
class SoftmaxWithLoss(Layer):
    bottoms = (2, 2)
    tops = (1, 2)
    is_loss = True

    def allow_force_backward(self, bottom_index):
        return bottom_index != 1

    def setup(self, bottom, top):
        p = self.param.loss_param
        self.ignore_label = p.ignore_label if p.HasField("ignore_label") else None
        self.prob = None           # the softmax backward reads
        self.mode = normalization_mode(p)

    def reshape(self, bottom, top):
        scores, labels = bottom
        self.axis = scores.canonical_axis(self.param.softmax_param.axis)
        self.outer = sizes.count(scores.shape[:self.axis])
        self.inner = sizes.count(scores.shape[self.axis + 1:])
        if self.outer * self.inner != labels.count:
            raise self.error(f"needs one label per prediction: scores {scores.name} {list(scores.shape)} "
                             f"(softmax over axis {self.axis}) against labels {labels.name} {list(labels.shape)}")
        top[0].reshape(())
        if len(top) == 2:
            top[1].reshape(scores.shape)
        if self.prob is None or self.prob.shape != scores.shape:
            self.prob = np.empty(scores.shape, np.float32)

    def _labels(self, bottom):
        scores, labels = bottom
        classes = scores.shape[self.axis]
        label = labels.data.reshape(self.outer, self.inner).astype(np.int64)
        valid = np.ones(label.shape, bool) if self.ignore_label is None else label != self.ignore_label
        bad = valid & ((label < 0) | (label >= classes))
        if bad.any():
            value = label[bad][0]
            raise self.error(f"label {value} of {labels.name} is outside the {classes} classes "
                             f"(ignore_label: {self.ignore_label})")
        return label, valid

    def forward(self, bottom, top):
        softmax(bottom[0].data, self.axis, self.prob)
        label, valid = self._labels(bottom)
        prob = self.prob.reshape(self.outer, -1, self.inner)
        safe = np.where(valid, label, 0)
        picked = np.take_along_axis(prob, safe[:, None, :], axis=1)[:, 0, :]
        loss = -np.log(np.maximum(picked[valid], FLT_MIN), dtype=np.float32).sum(dtype=np.float64)
        self.valid_count = int(valid.sum())
        top[0].data[...] = loss / normalizer(self.mode, self.outer, self.inner, self.valid_count)
        if len(top) == 2:
            np.copyto(top[1].data, self.prob)

    def backward(self, top, propagate_down, bottom):
        if len(propagate_down) > 1 and propagate_down[1]:
            raise self.error("cannot backpropagate to the labels")
        if not propagate_down[0]:
            return
        label, valid = self._labels(bottom)
        diff = bottom[0].diff
        np.copyto(diff, self.prob)
        d = diff.reshape(self.outer, -1, self.inner)
        safe = np.where(valid, label, 0)
        outer_index, inner_index = np.nonzero(valid)
        d[outer_index, safe[outer_index, inner_index], inner_index] -= 1
        d *= valid[:, None, :]
        scale = top[0].diff.reshape(-1)[0] / normalizer(self.mode, self.outer, self.inner, int(valid.sum()))
        diff *= np.float32(scale)
