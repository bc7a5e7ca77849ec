"""HDF5 files read as untrusted input, and written through the atomic writer.

Every dataset's declared shape is checked before a byte of it is read or
decompressed: against what its file stores (no writer of Caffe's layouts
compresses, and deflate never expands more than 1032 to 1; chunks never
written read back as a fill value at no storage cost), against the
machine's memory, and, where the caller knows it, against the shape the
net needs.

Names holding '/' (GoogLeNet's `conv1/7x7_s2`) are stored as nested
groups, as HDF5 paths are; reading walks the nesting back into the name.
Real Caffe aborts when saving such a net to HDF5: this is our extension.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

from common import sizes
from common.atomic import atomic_path
from common.errors import FCNError
from common.layer_keys import in_order, split_key

# Below this a dataset is read whatever it claims: nothing to gain by refusing.
SMALL_BYTES = 1 << 20


@contextmanager
def open_hdf5(path: str, what: str):
    """An h5py.File for reading, or a one-line error."""
    import h5py  # 13 MB and 20 ms to import: only HDF5 files need it
    if not os.path.exists(path):
        raise FCNError(f"{path}: no such file")
    if os.path.isdir(path):
        raise FCNError(f"{path}: is a directory, not {what}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise FCNError(f"{path}: not a readable HDF5 file ({err})") from None
    try:
        with f:
            yield f
    except (OSError, RuntimeError, KeyError) as err:
        raise FCNError(f"{path}: broken HDF5 file ({err})") from None


def declared_bytes(path: str, dataset) -> int:
    """The bytes `dataset` claims, refused if its file cannot hold them."""
    if dataset.dtype.kind not in "fiub":
        raise FCNError(f"{path}: {dataset.name} holds {dataset.dtype}, not numbers")
    nbytes = sizes.count(dataset.shape) * 4     # read as float32
    if nbytes <= SMALL_BYTES:
        return nbytes
    stored = dataset.id.get_storage_size()
    filtered = bool(dataset.compression or dataset.scaleoffset or dataset.shuffle)
    own = sizes.count(dataset.shape) * dataset.dtype.itemsize
    if own > stored * (sizes.MAX_DEFLATE_RATIO if filtered else 1):
        raise FCNError(f"{path}: {dataset.name} claims shape {list(dataset.shape)} ({own:,} bytes) "
                       f"but stores {stored:,} bytes; refusing to read it")
    if not sizes.fits_in_memory(nbytes):
        raise FCNError(f"{path}: {dataset.name} claims shape {list(dataset.shape)} ({nbytes:,} bytes), "
                       f"more than this machine's {sizes.MACHINE_BYTES:,} bytes of memory")
    return nbytes


def read_checked(path: str, dataset, expected: tuple | None = None) -> np.ndarray:
    """A float32 copy of `dataset`, its claim checked first (and its shape
    against `expected`, where given)."""
    declared_bytes(path, dataset)
    if expected is not None and tuple(dataset.shape) != tuple(expected):
        raise FCNError(f"{path}: {dataset.name} has shape {list(dataset.shape)}, expected {list(expected)}")
    try:
        return np.asarray(dataset, dtype=np.float32)
    except (OSError, ValueError) as err:
        raise FCNError(f"{path}: cannot read {dataset.name} ({err})") from None


def datasets(group) -> dict:
    """{name: dataset} of every dataset below `group`, nested groups joined
    back into '/' names, in the file's order."""
    import h5py
    out = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            out[name] = item
    group.visititems(visit)
    return out


def layer_blobs(path: str, group) -> dict:
    """{layer: [datasets]} of the layout <layer>/<i> below `group`: a layer is
    a group holding datasets named by their index (or holding nothing, a
    layer without blobs, as Caffe writes them)."""
    import h5py
    found: dict = {}

    def visit(name, item):
        if isinstance(item, h5py.Group) and not len(item):
            found.setdefault(name, {})
        elif isinstance(item, h5py.Dataset):
            layer, index = split_key(path, item.name.removeprefix(group.name + "/"))
            found.setdefault(layer, {})[index] = item
    group.visititems(visit)
    return in_order(path, found)


def write_groups(path: str, groups) -> None:
    """[(group, {layer: [arrays]})] as group/<layer>/<i>, through a temporary file."""
    import h5py
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for group_name, layers in groups:
                group = f.require_group(group_name)
                for name, arrays in layers.items():
                    sub = group.require_group(name)
                    for i, array in enumerate(arrays):
                        sub.create_dataset(str(i), data=np.asarray(array, np.float32))
