""".safetensors weights: one float32 tensor a key `layer/i`, as in npz
(names holding '/' keep them: the index is what follows the last one).

Read as untrusted input by its layout, before any tensor is touched: an
8-byte little-endian header length (bounded by the file and by 100 MB),
a JSON header of {key: {dtype, shape, data_offsets}}, then the bytes;
every tensor's offsets must lie inside the file, match its shape and
dtype, and not overlap another's. Written with the `safetensors` package
(the `safetensors` extra), through a temporary file.

Converted from a caffemodel, the file also carries that caffemodel's
skeleton in its metadata (weights/skeleton.py): every field but the blob
values, so that the way back gives the same file byte for byte.
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
from weights.skeleton import EXTRA_PREFIX, SKELETON_KEY, cut, splices_of
from weights.wire import Caffemodel

MAX_HEADER = 100 << 20
DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?"}


def read_header(path: str, raw, size: int) -> tuple[dict, int, dict[str, str]]:
    """({key: (dtype, shape, begin, end)}, where the data starts, the
    header's __metadata__), checked; `raw` holds at least the header,
    `size` is the file's."""
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
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FCNError(f"{path}: __metadata__ is not a map of strings")
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
    return tensors, start, metadata


def read_safetensors(path: str) -> dict[str, list[np.ndarray]]:
    """{layer: [float32 arrays]} of a .safetensors file of keys layer/i."""
    with open_input(path, "safetensors file") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise FCNError(f"{path}: empty file, not a safetensors file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            tensors, start, _ = read_header(path, raw, len(raw))
            found: dict[str, dict[int, np.ndarray]] = {}
            for key, (dtype, shape, begin, _) in tensors.items():
                if key.startswith(EXTRA_PREFIX):     # a caffemodel's diffs, kept for the way back
                    continue
                layer, index = split_key(path, key)
                found.setdefault(layer, {})[index] = _copy(raw, dtype, shape, start + begin)
    return in_order(path, found)


def _copy(raw, dtype, shape, offset):
    """A float32 copy of a tensor in `raw` (no view of the map outlives it)."""
    return np.frombuffer(raw, dtype=dtype, count=sizes.count(shape), offset=offset).reshape(shape).astype(np.float32)


def describe_safetensors(path: str) -> tuple[list[tuple[str, list[tuple]]], bool]:
    """([(layer, [shapes])], whether it carries a caffemodel's skeleton)
    from the header alone."""
    with open_input(path, "safetensors file") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else 0
        raw = head + f.read(min(length, MAX_HEADER))
    tensors, _, metadata = read_header(path, raw, os.path.getsize(path))
    layers: dict[str, dict[int, tuple]] = {}
    for key, (_, shape, _, _) in tensors.items():
        if key.startswith(EXTRA_PREFIX):
            continue
        layer, _, index = key.rpartition("/")
        layers.setdefault(layer, {})[int(index) if index.isdigit() else 0] = shape
    shapes = [(layer, [shapes[i] for i in sorted(shapes)]) for layer, shapes in layers.items()]
    return shapes, SKELETON_KEY in metadata


def write_safetensors(path: str, arrays: dict[str, list[np.ndarray]]) -> None:
    write_tensors(path, {f"{name}/{i}": np.ascontiguousarray(a, np.float32) for name, blobs in arrays.items()
                         for i, a in enumerate(blobs)})


def write_tensors(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    try:
        from safetensors.numpy import save_file
    except ImportError:
        raise FCNError(f"{path}: writing safetensors needs the safetensors package "
                       "(pip install 'fcn-caffe[safetensors]')") from None
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)


def caffemodel_to_safetensors(source: str, path: str) -> bool:
    """A caffemodel's blobs as tensors `layer/i`, its skeleton in the
    metadata; whether the skeleton fitted (else the tensors alone)."""
    with Caffemodel(source) as model:
        tensors, metadata = cut(model)
        try:
            write_tensors(path, tensors, metadata)
        finally:
            tensors.clear()         # views of the map: gone before it closes
    return metadata is not None


def safetensors_to_caffemodel(source: str, path: str) -> bool:
    """The caffemodel a safetensors file was cut from, byte for byte, if it
    carries one and its tensors still fit; whether it did."""
    with open_input(source, "safetensors file") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise FCNError(f"{source}: empty file, not a safetensors file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            tensors, start, metadata = read_header(source, raw, len(raw))
            found = splices_of(source, metadata, tensors)
            if found is None:
                return False
            skeleton, splices = found
            with atomic_path(path) as tmp, open(tmp, "wb") as out:
                at = 0
                for offset, key, _ in splices:
                    out.write(skeleton[at:offset])
                    _, _, begin, end = tensors[key]
                    out.write(raw[start + begin:start + end])
                    at = offset
                out.write(skeleton[at:])
    return True
