"""`.npz` weights: keys `layer/i`, one float32 array each; names with '/'
keep them (the index is what follows the last one). Read as untrusted
input: each member's declared sizes are checked before it is inflated, and
nothing is unpickled."""
import zipfile

import numpy as np

from common import sizes
from common.atomic import atomic_path
from common.errors import FCNError, open_input
from common.layer_keys import in_order, split_key


def read_npz(path):
    """{layer: [arrays]} of an .npz of keys layer/i. Each member's size (in
    the zip directory and in its .npy header) is checked before it is read
    or inflated; nothing is unpickled."""
    found: dict[str, dict] = {}
    try:
        with open_input(path, "npz archive") as raw, zipfile.ZipFile(raw) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                layer, index = split_key(path, key)
                found.setdefault(layer, {})[index] = _npy_member(path, archive, info, key)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError) as err:
        raise FCNError(f"{path}: not a readable .npz of arrays ({err})") from None
    return in_order(path, found)


def _npy_member(path, archive, info, key):
    if info.file_size > max(info.compress_size, 1) * sizes.MAX_DEFLATE_RATIO or \
            not sizes.fits_in_memory(info.file_size):
        raise FCNError(f"{path}: member {key!r} claims {info.file_size:,} bytes from "
                       f"{info.compress_size:,}; refusing to inflate it")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = header(member)
        if dtype.hasobject or dtype.kind not in "fiub":
            raise FCNError(f"{path}: member {key!r} holds {dtype}, not numbers")
        if sizes.count(shape) * dtype.itemsize > info.file_size:
            raise FCNError(f"{path}: member {key!r} claims shape {list(shape)} of {dtype}, "
                           f"more than its {info.file_size:,} bytes")
    with archive.open(info) as member:
        return np.asarray(np.lib.format.read_array(member, allow_pickle=False), np.float32)


def write_npz(path, arrays):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{f"{name}/{i}": a for name, blobs in arrays.items() for i, a in enumerate(blobs)})
