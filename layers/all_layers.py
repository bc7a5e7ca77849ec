"""Every layer module, imported so that each registers its type names."""
from core.layer import REGISTRY  # noqa: F401  (the registry these modules fill)
from layers import (  # noqa: F401
    accuracy,
    batch_norm,
    concat,
    convolution,
    crop,
    eltwise,
    inner_product,
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
    upsample,
)
from layers.data import dummy_data, hdf5_data, image_data, input, lmdb_data, memory_data  # noqa: F401
