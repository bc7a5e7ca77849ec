"""The interface every convolution algorithm implements, and the choice
among them, made once when a layer is set up.

An algorithm computes the three passes of a convolution in its own terms:
images (N, C, H, W) for the forward pass (so that it can share work across
a batch), one image (C, H, W) for the other two; K kernels as weights (K,
C/group, kh, kw); outputs (N, K, oh, ow) or (K, oh, ow). Convolution's forward is `forward`;
Deconvolution's forward is `backward_data` with its roles swapped (the
layer, not the algorithm, knows that). A new algorithm is a new module
with a subclass of ConvAlgorithm and a line in backends/factory.py; this
file imports no algorithm, and no algorithm imports another.
"""
from __future__ import annotations


class ConvAlgorithm:
    name = "?"

    def __init__(self, geometry, group: int, channels: int, kernels: int, options):
        self.geometry = geometry
        self.group = group
        self.channels = channels      # C: channels of the image
        self.kernels = kernels        # K: kernels, channels of the output
        self.options = options
        self.workers = options.workers

    # Whether forward takes a residual: an Eltwise SUM after the convolution
    # folded into it (out = c_self * conv + c_other * other, then the ReLU).
    takes_residual = False

    def forward(self, images, weights, bias, out, relu_slope=None, scale=None, residual=None) -> None:
        """out = the convolution of each image with weights, times scale (K,)
        unless None, + bias (K,) unless None, through Caffe's ReLU of that
        negative slope unless None. With a residual (other, c_other,
        c_self) (algorithms that take one), the ReLU applies to c_self times
        that plus c_other times other."""
        raise NotImplementedError

    def backward_data(self, out_diff, weights, image_diff) -> None:
        """image_diff = the transpose of the convolution applied to out_diff."""
        raise NotImplementedError

    def weight_gradient(self, image, out_diff, weight_diff) -> None:
        """weight_diff += the gradient of the weights."""
        raise NotImplementedError

    def group_slices(self):
        """(channels, kernels) of each group: its slice of the image's
        channels and of the weights' first axis."""
        per_channel, per_kernel = self.channels // self.group, self.kernels // self.group
        return [(slice(k * per_channel, (k + 1) * per_channel), slice(k * per_kernel, (k + 1) * per_kernel))
                for k in range(self.group)]
