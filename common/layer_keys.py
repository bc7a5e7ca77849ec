"""Weights stored one array per key `layer/index` (HDF5 paths, npz and
safetensors keys): the key split, and each layer's arrays in index order."""
from common.errors import FCNError


def split_key(path: str, key: str) -> tuple[str, int]:
    """('conv1/7x7_s2', 0) of 'conv1/7x7_s2/0': the index follows the last '/'."""
    layer, _, index = key.rpartition("/")
    if not layer or not index.isdigit():
        raise FCNError(f"{path}: {key!r} is not <layer>/<index>")
    return layer, int(index)


def in_order(path: str, found: dict) -> dict:
    """{layer: [items]} of {layer: {index: item}}, indices 0..n-1 each."""
    out = {}
    for layer, items in found.items():
        if sorted(items) != list(range(len(items))):
            raise FCNError(f"{path}: layer {layer!r} has blobs {sorted(items)}, not 0..{len(items) - 1}")
        out[layer] = [items[i] for i in range(len(items))]
    return out
