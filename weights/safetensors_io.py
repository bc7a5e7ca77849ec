""".safetensors weights: one float32 tensor a key `layer/i`, as in npz
(names holding '/' keep them: the index is what follows the last one).

Read as untrusted input by its layout, before any tensor is touched: an
8-byte little-endian header length (bounded by the file and by 100 MB),
a JSON header of {key: {dtype, shape, data_offsets}}, then the bytes;
every tensor's offsets must lie inside the file, match its shape and
dtype, and not overlap another's. Written with the `safetensors` package
(the `safetensors` extra), through a temporary file.
"""
from __future__ import annotations

import json
import mmap
import os

import numpy as np

from common import sizes
from common.atomic import atomic_path
from common.errors import FCNError, open_input
from common.layer_keys import in_order, split_key

MAX_HEADER = 100 << 20
DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?"}


def read_header(path: str, raw, size: int) -> tuple[dict, int]:
    """({key: (dtype, shape, begin, end)}, where the data starts), checked;
    `raw` holds at least the header, `size` is the file's."""
    if size < 8 or len(raw) < 8:
        raise FCNError(f"{path}: {size} bytes, too short for a safetensors file")
    length = int.from_bytes(raw[:8], "little")
    if length > min(MAX_HEADER, size - 8):
        raise FCNError(f"{path}: a header of {length:,} bytes in a file of {size:,}; not a safetensors file")
    if len(raw) < 8 + length:
        raise FCNError(f"{path}: truncated in its header")
    try:
        header = json.loads(bytes(raw[8:8 + length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise FCNError(f"{path}: the header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise FCNError(f"{path}: the header is not a JSON object")
    start, room = 8 + length, size - 8 - length
    tensors, spans = {}, []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], [int(d) for d in entry["shape"]], entry["data_offsets"]
            begin, end = int(begin), int(end)
        except (TypeError, KeyError, ValueError):
            raise FCNError(f"{path}: tensor {key!r} has no dtype, shape and data_offsets") from None
        if dtype not in DTYPES:
            raise FCNError(f"{path}: tensor {key!r} holds {dtype}, not numbers this reads")
        nbytes = sizes.count(shape) * np.dtype(DTYPES[dtype]).itemsize
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= room or end - begin != nbytes:
            raise FCNError(f"{path}: tensor {key!r} of shape {shape} ({dtype}) claims bytes {begin}..{end} "
                           f"of the {room:,} the file holds")
        tensors[key] = (DTYPES[dtype], tuple(shape), begin, end)
        spans.append((begin, end, key))
    spans.sort()
    for (_, end, key), (begin, _, other) in zip(spans, spans[1:]):
        if begin < end:
            raise FCNError(f"{path}: tensors {key!r} and {other!r} overlap")
    return tensors, start


def read_safetensors(path: str) -> dict[str, list[np.ndarray]]:
    """{layer: [float32 arrays]} of a .safetensors file of keys layer/i."""
    with open_input(path, "safetensors file") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise FCNError(f"{path}: empty file, not a safetensors file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            tensors, start = read_header(path, raw, len(raw))
            found: dict[str, dict[int, np.ndarray]] = {}
            for key, (dtype, shape, begin, _) in tensors.items():
                layer, index = split_key(path, key)
                found.setdefault(layer, {})[index] = _copy(raw, dtype, shape, start + begin)
    return in_order(path, found)


def _copy(raw, dtype, shape, offset):
    """A float32 copy of a tensor in `raw` (no view of the map outlives it)."""
    return np.frombuffer(raw, dtype=dtype, count=sizes.count(shape), offset=offset).reshape(shape).astype(np.float32)


def describe_safetensors(path: str) -> list[tuple[str, list[tuple]]]:
    """[(layer, [shapes])] from the header alone."""
    with open_input(path, "safetensors file") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else 0
        raw = head + f.read(min(length, MAX_HEADER))
    tensors, _ = read_header(path, raw, os.path.getsize(path))
    layers: dict[str, dict[int, tuple]] = {}
    for key, (_, shape, _, _) in tensors.items():
        layer, _, index = key.rpartition("/")
        layers.setdefault(layer, {})[int(index) if index.isdigit() else 0] = shape
    return [(layer, [shapes[i] for i in sorted(shapes)]) for layer, shapes in layers.items()]


def write_safetensors(path: str, arrays: dict[str, list[np.ndarray]]) -> None:
    try:
        from safetensors.numpy import save_file
    except ImportError:
        raise FCNError(f"{path}: writing safetensors needs the safetensors package "
                       "(pip install 'fcn-caffe[safetensors]')") from None
    tensors = {f"{name}/{i}": np.ascontiguousarray(a, np.float32) for name, blobs in arrays.items()
               for i, a in enumerate(blobs)}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp)
