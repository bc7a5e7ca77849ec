"""Every layer module, imported so that each registers its type names."""
from layers import (accuracy, batch_norm, concat, convolution, crop, eltwise, inner_product,  # noqa: F401
                    input, loss, lrn, neuron, pooling, python_layer, reduction, reshape, scale,
                    softmax, split, tile)
