"""Imports every layer module so that each registers its type names."""
from layers import (concat, convolution, crop, eltwise, input, lrn, neuron, pooling,  # noqa: F401
                    python_layer, scale, softmax, split)
