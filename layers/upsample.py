"""Upsample, SegNet's layer (an extension beyond BVLC Caffe; see
caffe.proto): with the mask a MAX Pooling wrote as its second top, max-
unpooling: each value goes back to the place its window's maximum came
from, the rest zero (Noh et al.'s and SegNet's decoders); with one bottom,
nearest-neighbour upsampling by the scale. The output is scale x the input
(less pad_out), or upsample_h x upsample_w, or (our extension) the height
and width of a third bottom, the pooling's own input, whatever Caffe's
rounding made of it."""
import numpy as np

from core.layer import Layer, register


@register("Upsample")
class Upsample(Layer):
    bottoms = (1, 3)

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0        # a mask and a size reference have no gradient

    def setup(self, bottom, top):
        p = self.param.upsample_param
        if p.HasField("upsample_h") != p.HasField("upsample_w"):
            raise self.error("upsample_h and upsample_w go together")
        if p.HasField("scale") and (p.HasField("scale_h") or p.HasField("scale_w")):
            raise self.error("give scale or scale_h and scale_w, not both")
        self.sh = p.scale_h if p.HasField("scale_h") else p.scale
        self.sw = p.scale_w if p.HasField("scale_w") else p.scale
        if min(self.sh, self.sw) < 1:
            raise self.error("the scale must be at least 1")
        if len(bottom) == 1 and len(top) and (p.HasField("upsample_h") or p.pad_out_h or p.pad_out_w):
            raise self.error("nearest-neighbour upsampling (one bottom) takes scale only")

    def reshape(self, bottom, top):
        p = self.param.upsample_param
        x = bottom[0]
        if x.num_axes != 4:
            raise self.error(f"needs 4-D (N, C, H, W) input, got {self.shapes_text(bottom)}")
        if len(bottom) > 1 and bottom[1].shape != x.shape:
            raise self.error(f"the mask must have the values' shape: {self.shapes_text(bottom)}")
        n, c, h, w = x.shape
        if len(bottom) == 3:
            oh, ow = bottom[2].shape[2:]
        elif p.HasField("upsample_h"):
            oh, ow = p.upsample_h, p.upsample_w
        else:
            oh, ow = h * self.sh - int(p.pad_out_h), w * self.sw - int(p.pad_out_w)
        if oh <= 0 or ow <= 0:
            raise self.error(f"output {oh}x{ow} from input {list(x.shape)}")
        top[0].reshape(n, c, oh, ow)

    def _places(self, bottom, out_hw):
        """Flat indices into each output plane of every input value, checked."""
        oh, ow = out_hw
        if len(bottom) == 1:
            n, c, h, w = bottom[0].shape
            ys, xs = np.arange(h)[:, None] * self.sh, np.arange(w)[None, :] * self.sw
            return None, (ys, xs)
        mask = bottom[1].data.astype(np.int64).reshape(bottom[1].shape[0], bottom[1].shape[1], -1)
        if mask.size and (mask.min() < 0 or mask.max() >= oh * ow):
            raise self.error(f"a mask index lies outside the {oh}x{ow} output: do the scale settings match "
                             "the pooling that wrote the mask?")
        return mask, None

    def forward(self, bottom, top):
        out = top[0].data
        mask, grid = self._places(bottom, out.shape[2:])
        if mask is None:
            up = np.repeat(np.repeat(bottom[0].data, self.sh, axis=2), self.sw, axis=3)
            out[...] = 0
            h, w = min(up.shape[2], out.shape[2]), min(up.shape[3], out.shape[3])
            out[:, :, :h, :w] = up[:, :, :h, :w]
            return
        flat = out.reshape(out.shape[0], out.shape[1], -1)
        flat[...] = 0
        values = bottom[0].data.reshape(mask.shape)
        np.put_along_axis(flat, mask, values, axis=2)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = top[0].diff
        mask, _ = self._places(bottom, dy.shape[2:])
        if mask is None:
            n, c, h, w = bottom[0].shape
            padded = np.zeros((n, c, h * self.sh, w * self.sw), np.float32)
            hh, ww = min(padded.shape[2], dy.shape[2]), min(padded.shape[3], dy.shape[3])
            padded[:, :, :hh, :ww] = dy[:, :, :hh, :ww]
            bottom[0].diff[...] = padded.reshape(n, c, h, self.sh, w, self.sw).sum(axis=(3, 5))
            return
        flat = dy.reshape(dy.shape[0], dy.shape[1], -1)
        bottom[0].diff[...] = np.take_along_axis(flat, mask, axis=2).reshape(bottom[0].shape)
