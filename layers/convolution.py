"""Convolution and Deconvolution (its transpose), as im2col + GEMM, or as
Winograd's F(2x2, 3x3) for 3x3 stride-1 layers (layers.winograd).

Weights are (out, in/group, kh, kw) for Convolution and (in, out/group, kh,
kw) for Deconvolution, as in Caffe. Deconvolution runs Convolution's
backward-data pass forward, and its forward pass backward.
"""
import numpy as np

from layers import random, winograd
from layers.base import Layer, register
from layers.blob import Blob
from layers.fillers import fill
from layers.im2col import WORKSPACE, bands, col2im, im2col
from layers.neuron import relu_in_place
from layers.threads import WORKERS, parallel, split


class ConvGeometry:
    """Kernel, stride, pad and dilation of a 2-D convolution_param."""

    def __init__(self, layer, p):
        def pair(values, single_h, single_w, default, what):
            if p.HasField(single_h) or p.HasField(single_w):
                if len(values):
                    raise layer.error(f"give {what} or {single_h}/{single_w}, not both")
                return getattr(p, single_h), getattr(p, single_w)
            values = list(values) or [default]
            if len(values) == 1:
                return values[0], values[0]
            if len(values) == 2:
                return tuple(values)
            raise layer.error(f"{what} has {len(values)} values; 2-D convolution takes 1 or 2")

        if not len(p.kernel_size) and not (p.HasField("kernel_h") and p.HasField("kernel_w")):
            raise layer.error("kernel_size (or kernel_h and kernel_w) is required")
        self.kh, self.kw = pair(p.kernel_size, "kernel_h", "kernel_w", None, "kernel_size")
        self.sh, self.sw = pair(p.stride, "stride_h", "stride_w", 1, "stride")
        self.ph, self.pw = pair(p.pad, "pad_h", "pad_w", 0, "pad")
        dilation = list(p.dilation) or [1]
        if len(dilation) > 2:
            raise layer.error(f"dilation has {len(dilation)} values; 2-D convolution takes 1 or 2")
        self.dh, self.dw = (dilation * 2)[:2] if len(dilation) == 1 else dilation
        if min(self.kh, self.kw) <= 0 or min(self.sh, self.sw) <= 0 or min(self.dh, self.dw) <= 0:
            raise layer.error("kernel, stride and dilation must be positive")
        self.pointwise = (self.kh, self.kw, self.sh, self.sw, self.ph, self.pw) == (1, 1, 1, 1, 0, 0)

    def conv_out(self, h, w):
        eh = self.dh * (self.kh - 1) + 1
        ew = self.dw * (self.kw - 1) + 1
        return (h + 2 * self.ph - eh) // self.sh + 1, (w + 2 * self.pw - ew) // self.sw + 1

    def deconv_out(self, h, w):
        eh = self.dh * (self.kh - 1) + 1
        ew = self.dw * (self.kw - 1) + 1
        return self.sh * (h - 1) + eh - 2 * self.ph, self.sw * (w - 1) + ew - 2 * self.pw

    def bands(self, channels, out_hw, weights):
        """Bands of output rows to run one at a time (one if pointwise)."""
        oh, ow = out_hw
        return [(0, oh)] if self.pointwise else bands(channels * self.kh * self.kw, oh, ow, weights)

    def col_band(self, image, ow, y0, y1, parallel_rows=False):
        """The col matrix of output rows [y0, y1) of one (C, H, W) image, in
        this thread's workspace; its rows spread over the workers if asked."""
        c = image.shape[0]
        if self.pointwise:
            return image.reshape(c, -1)[:, y0 * ow:y1 * ow]
        rows = c * self.kh * self.kw
        col = WORKSPACE.get(rows, (y1 - y0) * ow)

        def fill(span):
            im2col(image, self.kh, self.kw, self.ph, self.pw, self.sh, self.sw, self.dh, self.dw,
                   ow, y0, y1, span[0], span[1], col)
        if parallel_rows:
            parallel(fill, split(rows))
        else:
            fill((0, rows))
        return col


# Floats of the temporary product accumulate_gemm may hold at once (16 MB).
PRODUCT_BUDGET = 1 << 22


def accumulate_gemm(a, b, c):
    """c += a @ b, a block of c's columns at a time, so that the temporary
    product stays small (fc6's whole weight gradient is 411 MB)."""
    step = max(1, PRODUCT_BUDGET // max(1, c.shape[0]))
    for k0 in range(0, c.shape[1], step):
        c[:, k0:k0 + step] += a @ b[:, k0:k0 + step]


class _ConvBase(Layer):
    bottoms = (1, None)
    tops = (1, None)
    transposed = False
    # The negative slope of an in-place ReLU right after this Convolution,
    # set by the Net for a pass that runs both: the output goes through the
    # ReLU while still in cache, and the ReLU layer is skipped.
    folded_relu = None

    def setup(self, bottom, top):
        p = self.param.convolution_param
        if bottom[0].num_axes != 4:
            raise self.error(f"needs 4-D (N, C, H, W) input, got {self.shapes_text(bottom)}")
        if p.axis not in (1, -3):
            raise self.error("only axis 1 (channels) is supported")
        self.geometry = ConvGeometry(self, p)
        if not p.HasField("num_output") or p.num_output == 0:
            raise self.error("num_output must be given and positive")
        self.num_output = p.num_output
        self.group = p.group
        channels = bottom[0].shape[1]
        self.channels = channels
        if self.group <= 0 or channels % self.group or self.num_output % self.group:
            raise self.error(f"group {self.group} must divide both the {channels} input channels "
                             f"and num_output {self.num_output}")
        g = self.geometry
        self.winograd_fits = winograd.suits(g, self.group, channels, self.num_output)
        if self.transposed:
            weight_shape = (channels, self.num_output // self.group, g.kh, g.kw)
        else:
            weight_shape = (self.num_output, channels // self.group, g.kh, g.kw)
        rng = random.rng()
        weight = Blob(weight_shape, name=f"{self.name}/0")
        weight.fill_with(lambda: fill(p.weight_filler, weight_shape, rng))
        self.blobs = [weight]
        self.bias_term = p.bias_term
        if self.bias_term:
            bias = Blob((self.num_output,), name=f"{self.name}/1")
            bias.fill_with(lambda: fill(p.bias_filler, (self.num_output,), rng))
            self.blobs.append(bias)

    def reshape(self, bottom, top):
        for b in bottom:
            if b.num_axes != 4 or b.shape[1] != self.channels:
                raise self.error(f"input must be (N, {self.channels}, H, W) as at setup, got {self.shapes_text(bottom)}")
        g = self.geometry
        for b, t in zip(bottom, top):
            n, _, h, w = b.shape
            oh, ow = g.deconv_out(h, w) if self.transposed else g.conv_out(h, w)
            if oh <= 0 or ow <= 0:
                raise self.error(f"input {b.name} {list(b.shape)} is too small for a "
                                 f"{g.kh}x{g.kw} kernel with pad {g.ph},{g.pw}: output would be {oh}x{ow}")
            t.reshape(n, self.num_output, oh, ow)

    # One group's weight as a 2-D matrix and its slices of channels.
    def _weights(self):
        w = self.blobs[0].data
        return w.reshape(self.group, w.shape[0] // self.group, -1)

    def _weight_diffs(self):
        d = self.blobs[0].diff
        return d.reshape(self.group, d.shape[0] // self.group, -1)

    def _group_slices(self):
        """(channels, kernels) of each group: its slice of the channels the
        kernels read and its slice of the weights' first axis (a
        Convolution's outputs, a Deconvolution's inputs)."""
        w = self.blobs[0].data
        per_kernel = w.shape[0] // self.group
        per_channel = self.num_output // self.group if self.transposed else self.channels // self.group
        return [(slice(k * per_channel, (k + 1) * per_channel), slice(k * per_kernel, (k + 1) * per_kernel))
                for k in range(self.group)]

    def _slices(self, rows):
        """(group, start, stop): the rows of each group cut for the workers."""
        parts = -(-WORKERS // self.group)
        return [(k, a, b) for k in range(self.group) for a, b in split(rows, parts)]

    def _conv_forward(self, image, out, w, bias=None, relu_slope=None):
        """out (M, oh*ow) = W (M, C*kh*kw) @ col (+ bias, and a folded ReLU,
        while the band is still in cache). Many bands: one band per worker.
        Few (small or pointwise layers): each worker takes a slice of the
        output channels, so fc6's 411 MB of weights stream once."""
        g = self.geometry
        if self.winograd_fits and winograd.ENABLED:
            for i, o in self._group_slices():
                winograd.convolve(image[i], self.blobs[0].data[o], None if bias is None else bias[o], (g.ph, g.pw),
                                  out[o], relu_slope=relu_slope)
            return
        oh, ow = out.shape[1:]
        out3 = out.reshape(self.group, -1, oh * ow)
        bias2 = None if bias is None else bias.reshape(self.group, -1, 1)
        band_list = g.bands(image.shape[0], (oh, ow), w.size)

        def finish(block, block_bias):
            if block_bias is not None:
                block += block_bias
            if relu_slope is not None:
                relu_in_place(block, np.float32(relu_slope))
        if len(band_list) >= WORKERS:
            def band_work(band):
                y0, y1 = band
                col3 = g.col_band(image, ow, y0, y1).reshape(self.group, -1, (y1 - y0) * ow)
                for k in range(self.group):
                    block = out3[k][:, y0 * ow:y1 * ow]
                    np.matmul(w[k], col3[k], out=block)
                    finish(block, None if bias2 is None else bias2[k])
            parallel(band_work, band_list)
            return
        for y0, y1 in band_list:
            col3 = g.col_band(image, ow, y0, y1, parallel_rows=True).reshape(self.group, -1, (y1 - y0) * ow)

            def channel_work(s):
                k, a, b = s
                block = out3[k][a:b, y0 * ow:y1 * ow]
                np.matmul(w[k][a:b], col3[k], out=block)
                finish(block, None if bias2 is None else bias2[k][a:b])
            parallel(channel_work, self._slices(w.shape[1]))

    def _conv_backward_data(self, out_diff, image_diff, w):
        """image_diff = col2im(W^T @ out_diff), band by band; each worker
        takes a slice of the image's channels, whose col2im no other touches.
        By Winograd: the convolution of out_diff with the kernels turned
        around, padded so that it comes back to the image's size."""
        g = self.geometry
        if self.winograd_fits and winograd.ENABLED:
            for i, o in self._group_slices():
                winograd.convolve(out_diff[o], self.blobs[0].data[o], None, (2 - g.ph, 2 - g.pw), image_diff[i],
                                  transposed=True)
            return
        c = image_diff.shape[0]
        cg, per = c // self.group, g.kh * g.kw
        oh, ow = out_diff.shape[1:]
        od = out_diff.reshape(self.group, -1, oh * ow)
        slices = self._slices(cg)
        if g.pointwise:
            image3 = image_diff.reshape(self.group, cg, oh * ow)
            parallel(lambda s: np.matmul(w[s[0]].T[s[1]:s[2]], od[s[0]], out=image3[s[0]][s[1]:s[2]]), slices)
            return
        image_diff[...] = 0
        for y0, y1 in g.bands(c, (oh, ow), w.size):
            col = WORKSPACE.get(c * per, (y1 - y0) * ow)
            col3 = col.reshape(self.group, cg * per, -1)

            def work(s):
                k, a, b = s
                np.matmul(w[k].T[a * per:b * per], od[k][:, y0 * ow:y1 * ow], out=col3[k][a * per:b * per])
                col2im(col, g.kh, g.kw, g.ph, g.pw, g.sh, g.sw, g.dh, g.dw, ow, y0, y1,
                       k * cg + a, k * cg + b, image_diff)
            parallel(work, slices)

    def _conv_weight_grad(self, image, out_diff, wd):
        """wd += out_diff @ col^T, band by band; each worker takes a slice of
        the output channels. By Winograd: summed over tiles in the
        transformed space, then carried back to the kernels."""
        g = self.geometry
        if self.winograd_fits and winograd.ENABLED:
            for i, o in self._group_slices():
                winograd.weight_gradient(image[i], out_diff[o], (g.ph, g.pw), self.blobs[0].diff[o])
            return
        oh, ow = out_diff.shape[1:]
        od = out_diff.reshape(self.group, -1, oh * ow)
        for y0, y1 in g.bands(image.shape[0], (oh, ow), wd.size):
            col3 = g.col_band(image, ow, y0, y1, parallel_rows=True).reshape(self.group, -1, (y1 - y0) * ow)
            parallel(lambda s: accumulate_gemm(od[s[0]][s[1]:s[2], y0 * ow:y1 * ow], col3[s[0]].T,
                                               wd[s[0]][s[1]:s[2]]), self._slices(wd.shape[1]))

    def forward(self, bottom, top):
        w = self._weights()
        bias = self.blobs[1].data if self.bias_term else None
        for b, t in zip(bottom, top):
            out = t.data
            for n in range(b.shape[0]):
                if self.transposed:
                    self._conv_backward_data(b.data[n], out[n], w)
                else:
                    self._conv_forward(b.data[n], out[n], w, bias, self.folded_relu)
            if self.transposed and bias is not None:
                out += bias.reshape(1, -1, 1, 1)

    def backward(self, top, propagate_down, bottom):
        w = self._weights()
        to_bottom = self._conv_forward if self.transposed else self._conv_backward_data
        for t, b, down in zip(top, bottom, propagate_down):
            diff = t.diff
            if self.bias_term and self.param_propagate_down[1]:
                self.blobs[1].diff += diff.sum(axis=(0, 2, 3))
            if self.param_propagate_down[0]:
                wd = self._weight_diffs()
                for n in range(b.shape[0]):
                    # Transposed, the roles swap: the top's columns against the bottom.
                    image, out = (diff[n], b.data[n]) if self.transposed else (b.data[n], diff[n])
                    self._conv_weight_grad(image, out, wd)
            if down:
                bd = b.diff
                for n in range(b.shape[0]):
                    to_bottom(diff[n], bd[n], w)


@register("Convolution")
class Convolution(_ConvBase):
    """Forward is im2col + GEMM; backward-data is GEMM + col2im."""


@register("Deconvolution")
class Deconvolution(_ConvBase):
    """Convolution's backward-data pass run forward, and its forward run backward."""
    transposed = True
