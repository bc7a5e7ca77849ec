"""Convolution and Deconvolution (its transpose): the layers' semantics.
How the arithmetic runs is an algorithm chosen once at setup
(backends/factory.py: im2col + GEMM, 1x1 GEMM or Winograd).

Weights are (out, in/group, kh, kw) for Convolution and (in, out/group, kh,
kw) for Deconvolution, as in Caffe. Deconvolution runs Convolution's
backward-data pass forward, and its forward pass backward.
"""
import numpy as np

from backends.factory import choose
from core.layer import Layer, register
from netspec import caffe_pb2
from netspec.geometry import fields_of, read_window


class ConvGeometry:
    """Kernel, stride, pad and dilation of a 2-D convolution_param, with the
    output sizes they give."""

    def __init__(self, layer, p):
        window = read_window(fields_of(p), f"layer {layer.name!r} ({layer.param.type})")
        (self.kh, self.kw), (self.sh, self.sw) = window.kernel, window.stride
        (self.ph, self.pw), (self.dh, self.dw) = window.pad, window.dilation
        self.pointwise = (self.kh, self.kw, self.sh, self.sw, self.ph, self.pw) == (1, 1, 1, 1, 0, 0)

    def conv_out(self, h, w):
        eh = self.dh * (self.kh - 1) + 1
        ew = self.dw * (self.kw - 1) + 1
        return (h + 2 * self.ph - eh) // self.sh + 1, (w + 2 * self.pw - ew) // self.sw + 1

    def deconv_out(self, h, w):
        eh = self.dh * (self.kh - 1) + 1
        ew = self.dw * (self.kw - 1) + 1
        return self.sh * (h - 1) + eh - 2 * self.ph, self.sw * (w - 1) + ew - 2 * self.pw


class _ConvBase(Layer):
    bottoms = (1, None)
    tops = (1, None)
    transposed = False

    def setup(self, bottom, top):
        p = self.param.convolution_param
        if bottom[0].num_axes != 4:
            raise self.error(f"needs 4-D (N, C, H, W) input, got {self.shapes_text(bottom)}")
        if p.axis not in (1, -3):
            raise self.error("only axis 1 (channels) is supported")
        self.geometry = g = ConvGeometry(self, p)
        if not p.HasField("num_output") or p.num_output == 0:
            raise self.error("num_output must be given and positive")
        self.num_output, self.group = p.num_output, p.group
        self.channels = channels = bottom[0].shape[1]
        if self.group <= 0 or channels % self.group or self.num_output % self.group:
            raise self.error(f"group {self.group} must divide both the {channels} input channels "
                             f"and num_output {self.num_output}")
        # In the algorithm's terms (image -> output of the convolution), a
        # Deconvolution's top is the image and its bottom the output.
        image, kernels = (self.num_output, channels) if self.transposed else (channels, self.num_output)
        self.algorithm = choose(g, self.group, image, kernels, p.engine, self.options)
        self.add_param((kernels, image // self.group, g.kh, g.kw), p.weight_filler)
        self.bias_term = p.bias_term
        if self.bias_term:
            self.add_param((self.num_output,), p.bias_filler)

    def reshape(self, bottom, top):
        for b in bottom:
            if b.num_axes != 4 or b.shape[1] != self.channels:
                raise self.error(f"input must be (N, {self.channels}, H, W) as at setup, "
                                 f"got {self.shapes_text(bottom)}")
        g = self.geometry
        for b, t in zip(bottom, top):
            n, _, h, w = b.shape
            oh, ow = g.deconv_out(h, w) if self.transposed else g.conv_out(h, w)
            if oh <= 0 or ow <= 0:
                raise self.error(f"input {b.name} {list(b.shape)} is too small for a "
                                 f"{g.kh}x{g.kw} kernel with pad {g.ph},{g.pw}: output would be {oh}x{ow}")
            t.reshape(n, self.num_output, oh, ow)

    def forward(self, bottom, top):
        self._forward(bottom, top, None)

    def _forward(self, bottom, top, relu_slope):
        w = self.blobs[0].data
        bias = self.blobs[1].data if self.bias_term else None
        for b, t in zip(bottom, top):
            out = t.data
            if not self.transposed:
                self.algorithm.forward(b.data, w, bias, out, relu_slope)
                continue
            for n in range(b.shape[0]):
                self.algorithm.backward_data(b.data[n], w, out[n])
            if bias is not None:
                out += bias.reshape(1, -1, 1, 1)

    def backward(self, top, propagate_down, bottom):
        w = self.blobs[0].data
        for t, b, down in zip(top, bottom, propagate_down):
            diff = t.diff
            if self.bias_term and self.param_propagate_down[1]:
                self.blobs[1].diff += diff.sum(axis=(0, 2, 3))
            if self.param_propagate_down[0]:
                wd = self.blobs[0].diff
                for n in range(b.shape[0]):
                    # Transposed, the roles swap: the top is the image.
                    image, out = (diff[n], b.data[n]) if self.transposed else (b.data[n], diff[n])
                    self.algorithm.weight_gradient(image, out, wd)
            if down:
                bd = b.diff
                if self.transposed:
                    self.algorithm.forward(diff, w, None, bd)
                    continue
                for n in range(b.shape[0]):
                    self.algorithm.backward_data(diff[n], w, bd[n])


@register("Convolution")
class Convolution(_ConvBase):
    """out = W * image + bias. Fusions it declares: an in-place ReLU after
    it (same arithmetic), and, in a TEST net on the fastest algorithms, an
    in-place BatchNorm (global statistics) and per-channel Scale before it,
    folded into the weights and bias (results within rounding)."""

    def fuses_with(self, followers):
        kinds = [f.param.type for f in followers]
        if kinds.count("ReLU") > 1 or ("ReLU" in kinds and kinds[-1] != "ReLU"):
            return False
        folds = [f for f in followers if f.param.type != "ReLU"]
        if folds and (self.phase != caffe_pb2.TEST or self.options.convolution != "fastest"
                      or self.param.convolution_param.engine == caffe_pb2.ConvolutionParameter.CAFFE):
            return False
        order = [f.param.type for f in folds]
        if order not in ([], ["BatchNorm"], ["Scale"], ["BatchNorm", "Scale"]):
            return False
        return all(_foldable(f) for f in folds)

    def forward_fused(self, bottom, top, followers):
        """The followers applied while the output is made: BatchNorm and
        Scale as a per-channel affine map (factor, shift) applied with the
        bias to each band of the product while it is still in cache, then
        the ReLU. The weights stay as they are: nothing is cached, so a
        change to any of the blobs shows in the next pass, as in Caffe."""
        slope = None
        folds = [f for f in followers if f.param.type != "ReLU"]
        if followers[-1].param.type == "ReLU":
            slope = followers[-1].param.relu_param.negative_slope
        if not folds:
            self._forward(bottom, top, slope)
            return
        scale, shift = self._affine(folds)
        for x, t in zip(bottom, top):
            self.algorithm.forward(x.data, self.blobs[0].data, shift, t.data, slope, scale)

    def _affine(self, folds):
        """(scale, shift), float32 per output channel: the bias and the
        folded BatchNorm and Scale layers as out = conv * scale + shift,
        composed in float64."""
        k = self.num_output
        factor, shift = np.ones(k, np.float64), np.zeros(k, np.float64)
        for f in folds:
            if f.param.type == "BatchNorm":
                count = float(f.blobs[2].data[0])
                count = 0.0 if count == 0 else 1.0 / count
                mean, var = count * f.blobs[0].data.astype(np.float64), count * f.blobs[1].data.astype(np.float64)
                inv = 1.0 / np.sqrt(var + f.param.batch_norm_param.eps)
                factor, shift = factor * inv, (shift - mean) * inv
            else:
                gamma = f.blobs[0].data.astype(np.float64).reshape(-1)
                factor, shift = factor * gamma, shift * gamma
                if len(f.blobs) > 1:
                    shift = shift + f.blobs[1].data.astype(np.float64).reshape(-1)
        bias = self.blobs[1].data.astype(np.float64) if self.bias_term else np.zeros(k)
        return factor.astype(np.float32), (bias * factor + shift).astype(np.float32)

    def takes_residual(self, eltwise) -> bool:
        """Whether a residual block's end, an Eltwise SUM of this layer's
        output and one other blob (then perhaps an in-place ReLU), can fold
        into this layer's epilogue: TEST nets on the fastest algorithms, an
        algorithm whose epilogue takes a residual (im2col and 1x1 GEMM)."""
        return (self.phase == caffe_pb2.TEST and self.options.convolution == "fastest"
                and self.param.convolution_param.engine != caffe_pb2.ConvolutionParameter.CAFFE
                and self.algorithm.takes_residual and eltwise.param.type == "Eltwise"
                and eltwise.op == caffe_pb2.EltwiseParameter.SUM and len(eltwise.param.bottom) == 2)

    def forward_residual(self, bottom, folds, eltwise, mine, sum_bottom, sum_top, relus):
        """This layer, its in-place `folds` (BatchNorm, Scale), the Eltwise
        SUM after them (whose bottom `mine` is this layer's top) and the
        in-place ReLU after that, in one pass: the output goes straight to
        the Eltwise's top, never to this layer's own (which the Net frees
        unread)."""
        scale, shift = self._affine(folds)
        slope = relus[-1].param.relu_param.negative_slope if relus else None
        other = sum_bottom[1 - mine].data
        residual = (other, eltwise.coeff[1 - mine], eltwise.coeff[mine])
        self.algorithm.forward(bottom[0].data, self.blobs[0].data, shift, sum_top[0].data, slope, scale, residual)


def _foldable(layer):
    """A BatchNorm on stored statistics, or a Scale of one learned factor per channel."""
    if layer.param.type == "BatchNorm":
        return layer.use_global
    p = layer.param.scale_param
    return len(layer.blobs) >= 1 and layer.blobs[0].num_axes == 1 and p.axis in (1, -3)


@register("Deconvolution")
class Deconvolution(_ConvBase):
    """Convolution's backward-data pass run forward, and its forward run
    backward. FCN's upsampling layers (surgery's bilinear kernels) join no
    two different channels: when every such kernel is zero and the input
    finite, the forward pass runs channel by channel (as a grouped layer),
    21x fewer multiplications for VOC's 21 classes, with the same sums
    (the skipped terms are exact zeros; a NaN or infinity in the input
    takes the full pass, which spreads it across channels as Caffe does)."""
    transposed = True

    def setup(self, bottom, top):
        super().setup(bottom, top)
        self.per_channel = None       # the algorithm for a channel-by-channel pass, made when first used

    def _forward(self, bottom, top, relu_slope):
        kernels = self._diagonal()
        if kernels is None or not all(np.isfinite(b.data).all() for b in bottom):
            super()._forward(bottom, top, relu_slope)
            return
        if self.per_channel is None:
            self.per_channel = choose(self.geometry, self.channels, self.channels, self.channels,
                                      self.param.convolution_param.engine, self.options)
        for b, t in zip(bottom, top):
            out = t.data
            for n in range(b.shape[0]):
                self.per_channel.backward_data(b.data[n], kernels, out[n])
            if self.bias_term:
                out += self.blobs[1].data.reshape(1, -1, 1, 1)

    def _diagonal(self):
        """The kernels (C, 1, kh, kw) from each channel to itself, if every
        kernel between two different channels is zero; else None."""
        c = self.channels
        if self.group != 1 or self.num_output != c or c < 2:
            return None
        flat = self.blobs[0].data.reshape(c, c, -1)
        own = flat[np.arange(c), np.arange(c)]
        if np.count_nonzero(flat) != np.count_nonzero(own):
            return None
        return own.reshape(c, 1, self.geometry.kh, self.geometry.kw)
