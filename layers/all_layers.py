"""Every layer module, imported so that each registers its type names."""
from layers import (  # noqa: F401
                    accuracy,
                    batch_norm,
                    concat,
                    convolution,
                    crop,
                    dummy_data,
                    eltwise,
                    inner_product,
                    input,
                    loss,
                    lrn,
                    neuron,
                    pooling,
                    python_layer,
                    reduction,
                    reshape,
                    scale,
                    softmax,
                    split,
                    tile,
)
from layers.base import REGISTRY  # noqa: F401  (the registry these modules fill)
