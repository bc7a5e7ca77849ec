"""Accuracy (top-k, with ignore_label and per-class accuracy) and ArgMax."""
import numpy as np

from common import sizes
from core.layer import Layer, register


@register("Accuracy")
class Accuracy(Layer):
    bottoms = (2, 2)
    tops = (1, 2)

    def reshape(self, bottom, top):
        p = self.param.accuracy_param
        scores, labels = bottom
        self.axis = scores.canonical_axis(p.axis)
        self.outer = sizes.count(scores.shape[:self.axis])
        self.inner = sizes.count(scores.shape[self.axis + 1:])
        if self.outer * self.inner != labels.count:
            raise self.error(f"needs one label per prediction: {self.shapes_text(bottom)}")
        if p.top_k > scores.shape[self.axis]:
            raise self.error(f"top_k {p.top_k} exceeds the {scores.shape[self.axis]} classes")
        top[0].reshape(())
        if len(top) == 2:
            top[1].reshape((scores.shape[self.axis],))

    def forward(self, bottom, top):
        p = self.param.accuracy_param
        classes = bottom[0].shape[self.axis]
        scores = bottom[0].data.reshape(self.outer, classes, self.inner)
        label = bottom[1].data.reshape(self.outer, self.inner).astype(np.int64)
        valid = np.ones(label.shape, bool) if not p.HasField("ignore_label") else label != p.ignore_label
        if (valid & ((label < 0) | (label >= classes))).any():
            raise self.error(f"labels must lie in [0, {classes}) (or be the ignore_label)")
        safe = np.where(valid, label, 0)
        truth = np.take_along_axis(scores, safe[:, None, :], axis=1)
        # Caffe counts classes scoring at least the true one (itself included).
        better = (scores >= truth).sum(axis=1) - 1
        correct = valid & (better < p.top_k)
        count = int(valid.sum())
        top[0].data[...] = correct.sum() / count if count else 0
        if len(top) == 2:
            seen = np.bincount(label[valid], minlength=classes)
            hits = np.bincount(label[correct], minlength=classes)
            top[1].data[...] = np.where(seen > 0, hits / np.maximum(seen, 1), 0)

    def backward(self, top, propagate_down, bottom):
        if any(propagate_down):
            raise self.error("has no gradient (as in Caffe)")


@register("ArgMax")
class ArgMax(Layer):
    def reshape(self, bottom, top):
        p = self.param.argmax_param
        shape = bottom[0].shape
        self.has_axis = p.HasField("axis")
        if self.has_axis:
            self.axis = bottom[0].canonical_axis(p.axis)
            size = shape[self.axis]
            new = list(shape)
            new[self.axis] = p.top_k
        else:
            size = bottom[0].count // shape[0]
            new = [1] * max(len(shape), 3)
            new[0], new[2] = shape[0], p.top_k
            if p.out_max_val:
                new[1] = 2
        if p.top_k < 1 or p.top_k > size:
            raise self.error(f"top_k {p.top_k} must lie in [1, {size}]")
        top[0].reshape(new)

    def forward(self, bottom, top):
        p = self.param.argmax_param
        x = bottom[0].data
        if self.has_axis:
            moved = np.moveaxis(x, self.axis, -1)
        else:
            moved = x.reshape(x.shape[0], -1)
        index = np.broadcast_to(np.arange(moved.shape[-1]), moved.shape)
        # Descending by value; ties go to the larger index, as Caffe's pair sort.
        order = np.lexsort((-index, -moved), axis=-1)[..., :p.top_k]
        values = np.take_along_axis(moved, order, axis=-1)
        if self.has_axis:
            result = values if p.out_max_val else order
            top[0].data[...] = np.moveaxis(result, -1, self.axis)
        else:
            out = top[0].data.reshape(x.shape[0], -1, p.top_k)
            out[:, 0] = order
            if p.out_max_val:
                out[:, 1] = values

    def backward(self, top, propagate_down, bottom):
        if any(propagate_down):
            raise self.error("has no gradient (Caffe's ArgMax refuses backward too)")
