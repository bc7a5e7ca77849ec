"""Crop: cut bottom[0] to the shape of bottom[1] from `axis` on, at offsets."""
import numpy as np

from core.layer import Layer, register


@register("Crop")
class Crop(Layer):
    bottoms = (2, 2)

    def reshape(self, bottom, top):
        big, ref = bottom
        p = self.param.crop_param
        if big.num_axes != ref.num_axes:
            raise self.error(f"bottoms have different axis counts: {self.shapes_text(bottom)}")
        start = big.canonical_axis(p.axis)
        cropped = big.num_axes - start
        if len(p.offset) not in (0, 1, cropped):
            raise self.error(f"gives {len(p.offset)} offsets for {cropped} cropped axes; give 0, 1 or {cropped}")
        self.slices = []
        shape = []
        for i, size in enumerate(big.shape):
            if i < start:
                self.slices.append(slice(None))
                shape.append(size)
                continue
            offset = 0 if not len(p.offset) else p.offset[0 if len(p.offset) == 1 else i - start]
            if offset + ref.shape[i] > size:
                raise self.error(f"crop of axis {i} to size {ref.shape[i]} at offset {offset} falls outside "
                                 f"{big.name} {list(big.shape)} (reference {ref.name} {list(ref.shape)})")
            self.slices.append(slice(offset, offset + ref.shape[i]))
            shape.append(ref.shape[i])
        self.slices = tuple(self.slices)
        top[0].reshape(shape)

    def forward(self, bottom, top):
        np.copyto(top[0].data, bottom[0].data[self.slices])

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            diff = bottom[0].diff
            diff[...] = 0
            diff[self.slices] = top[0].diff

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0
