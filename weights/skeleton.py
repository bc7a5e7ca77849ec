"""A caffemodel cut into its blobs' packed values and the rest of its bytes
(the skeleton: every layer's parameters, names, types, shapes, unknown
fields, in the file's own layout, V0, V1 or V2), so that the values can
travel as tensors and the file be put back together byte for byte.

The cuts are made inside each packed field's payload: the field's key and
length stay in the skeleton, so every enclosing length stays true as long
as each tensor keeps its byte length. A splice is (offset in the skeleton,
tensor key, dtype, bytes). Data (field 5, or double_data 8 where a blob
has it) travels as the blob's tensor `layer/i`; a diff (6, 9) or a second
values field as `__extra__/...`, which weight readers pass over.
"""
from __future__ import annotations

import base64
import json
import sys

import numpy as np

from common.errors import FCNError
from weights.blobs import stored_shape
from weights.wire import Caffemodel

SKELETON_KEY = "caffemodel.skeleton"      # base64 of the skeleton's bytes
SPLICES_KEY = "caffemodel.splices"        # JSON [[offset, key, dtype, bytes], ...]
EXTRA_PREFIX = "__extra__/"
# A skeleton is parameters and names: kilobytes for the published nets.
# Past this the metadata would crowd the safetensors header's bound.
MAX_SKELETON = 32 << 20
DTYPE_OF_FIELD = {5: "<f4", 6: "<f4", 8: "<f8", 9: "<f8"}


def cut(model: Caffemodel) -> tuple[dict[str, np.ndarray], dict[str, str] | None]:
    """({key: array}, metadata) of an open caffemodel: each blob's data as
    `layer/i` (views of the map where packed: keep `model` open while they
    are used), and the metadata that puts the file back together, or None
    when its skeleton would be too large to carry."""
    buf = model.buf
    tensors: dict[str, np.ndarray] = {}
    cuts = []                   # (begin, stop, key, dtype)
    for name, blobs in model.layers():
        for i, blob in enumerate(blobs):
            key = f"{name}/{i}"
            if key in tensors:                  # a layer name the file repeats
                key = f"{EXTRA_PREFIX}{len(tensors)}/{key}"
            shape = stored_shape(model, name, i, blob)
            if blob.span is None or blob.values is not None:    # nothing packed, or values written one by one
                array = blob.array()
                if array.size != int(np.prod(shape, dtype=np.int64)):
                    raise FCNError(f"{model.path}: layer {name!r} blob {i}: shape {list(shape)} "
                                   f"but {array.size} values")
                tensors[key] = array.reshape(shape)
            for number, begin, stop in blob.packed:
                dtype = DTYPE_OF_FIELD[number]
                count = (stop - begin) // np.dtype(dtype).itemsize
                if count * np.dtype(dtype).itemsize != stop - begin:
                    raise FCNError(f"{model.path}: layer {name!r} blob {i}: field {number} holds "
                                   f"{stop - begin} bytes, not whole numbers")
                values = np.frombuffer(buf, dtype, count, begin)
                if blob.values is None and blob.span is not None and begin == blob.span[0]:
                    if count != int(np.prod(shape, dtype=np.int64)):
                        raise FCNError(f"{model.path}: layer {name!r} blob {i}: shape {list(shape)} "
                                       f"but {count} values")
                    part = key
                    tensors[part] = values.reshape(shape)
                else:
                    part = f"{EXTRA_PREFIX}{key}/{number}"
                    tensors[part] = values
                cuts.append((begin, stop, part, dtype))
    cuts.sort()
    pieces, splices, at, length = [], [], 0, 0
    for begin, stop, key, dtype in cuts:
        pieces.append(buf[at:begin])
        length += begin - at
        splices.append([length, key, dtype, stop - begin])
        at = stop
    pieces.append(buf[at:len(buf)])
    length += len(buf) - at
    if length > MAX_SKELETON:
        return tensors, None
    skeleton = b"".join(pieces)
    return tensors, {SKELETON_KEY: base64.b64encode(skeleton).decode("ascii"), SPLICES_KEY: json.dumps(splices)}


def splices_of(path: str, metadata: dict, tensors: dict) -> tuple[bytes, list] | None:
    """(skeleton, [(offset, key, bytes)]) from a safetensors file's metadata
    and its tensors {key: (dtype, shape, begin, end)}, checked; None if the
    file carries no skeleton, or (said on stderr) if its tensors no longer
    fit it: changed in size or type since the conversion."""
    if SKELETON_KEY not in metadata:
        return None
    try:
        skeleton = base64.b64decode(metadata[SKELETON_KEY], validate=True)
        splices = json.loads(metadata[SPLICES_KEY])
        checked, last = [], 0
        for offset, key, dtype, nbytes in splices:
            if not (isinstance(offset, int) and isinstance(nbytes, int) and last <= offset <= len(skeleton)):
                raise ValueError(f"splice at {offset!r}")
            last = offset
            checked.append((offset, key, dtype, nbytes))
    except (KeyError, TypeError, ValueError) as err:
        raise FCNError(f"{path}: its caffemodel skeleton is damaged ({err})") from None
    for _, key, dtype, nbytes in checked:
        have = tensors.get(key)
        if have is None or have[0] != dtype or have[3] - have[2] != nbytes:
            print(f"{path}: tensor {key!r} no longer fits the caffemodel it came from; "
                  "writing a new V2 caffemodel from the tensors instead", file=sys.stderr)
            return None
    return skeleton, [(offset, key, nbytes) for offset, key, _, nbytes in checked]
