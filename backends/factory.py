"""Caffe's layer factory for convolutions, on this machine's one backend
(the CPU): the algorithm a Convolution or Deconvolution layer runs,
chosen once at setup from its geometry, its `engine` field and the options."""
from __future__ import annotations

from backends.conv_algorithm import ConvAlgorithm
from backends.cpu.im2col import Im2colGemm
from backends.cpu.pointwise import PointwiseGemm
from backends.cpu.winograd import Winograd, suits
from netspec import caffe_pb2


def choose(geometry, group: int, channels: int, kernels: int, engine: int, options) -> ConvAlgorithm:
    """`engine: CAFFE` (or the options' "im2col") is im2col + GEMM in
    Caffe's order of arithmetic, 1x1 convolutions as Caffe runs them, one
    GEMM; DEFAULT (and CUDNN, meaningless here) is the fastest: Winograd
    F(2x2, 3x3) where it pays, its small maps on im2col + GEMM."""
    exact = engine == caffe_pb2.ConvolutionParameter.CAFFE or options.convolution == "im2col"
    if not exact and suits(geometry, group, channels, kernels):
        small_maps = Im2colGemm(geometry, group, channels, kernels, options)
        return Winograd(geometry, group, channels, kernels, options, small_maps)
    algorithm = (PointwiseGemm if geometry.pointwise else Im2colGemm)(geometry, group, channels, kernels, options)
    algorithm.caffe_order = exact
    return algorithm
