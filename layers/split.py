"""Split (one blob to many readers, gradients summed) and Silence."""
import numpy as np

from core.layer import Layer, register


@register("Split")
class Split(Layer):
    tops = (1, None)

    def reshape(self, bottom, top):
        for t in top:
            t.reshape(bottom[0].shape)

    def forward(self, bottom, top):
        for t in top:
            t.share_data(bottom[0])

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            diff = bottom[0].diff
            np.copyto(diff, top[0].diff)
            for t in top[1:]:
                diff += t.diff


@register("Silence")
class Silence(Layer):
    bottoms = (1, None)
    tops = (0, 0)

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        pass

    def backward(self, top, propagate_down, bottom):
        for b, down in zip(bottom, propagate_down):
            if down:
                b.diff[...] = 0
