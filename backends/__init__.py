"""How the engine computes: algorithms and kernels behind the interfaces
the layers call (backends/conv_algorithm.py), one package per kind of
machine. backends/cpu/ is numpy and numba: im2col, the 1x1 GEMM, Winograd,
the numba kernels and the worker threads."""
