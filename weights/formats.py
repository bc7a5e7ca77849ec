"""Weights as {layer: [float32 arrays]} in the three formats, chosen by the
file's extension: `.caffemodel` (binary NetParameter; V2, V1 and legacy
dims read, V2 written), `.caffemodel.h5` / `.h5` (Caffe's HDF5 layout) and
`.npz` (keys `layer/i`, read with allow_pickle=False)."""
import zipfile

import numpy as np

from netspec import caffe_pb2
from common import sizes
from common.errors import FCNError, open_input
from common.atomic import atomic_path, write_atomic
from weights.blobs import to_proto
from weights.caffemodel import hdf5_layers, is_hdf5, read_weights
from weights.hdf5 import declared_bytes, open_hdf5, write_groups
from weights.wire import Caffemodel


def kind_of(path):
    if path.endswith(".npz"):
        return "npz"
    if is_hdf5(path):
        return "hdf5"
    if path.endswith(".caffemodel"):
        return "caffemodel"
    raise FCNError(f"{path}: unknown weights format; use .caffemodel, .caffemodel.h5 (or .h5) or .npz")


def load_arrays(path):
    """{layer: [arrays]} of any weights file."""
    kind = kind_of(path)
    if kind == "npz":
        return read_npz(path)
    return read_weights(path)


def read_npz(path):
    """{layer: [arrays]} of an .npz of keys layer/i. Each member's size (in
    the zip directory and in its .npy header) is checked before it is read
    or inflated; nothing is unpickled."""
    out = {}
    try:
        with open_input(path, "npz archive") as raw, zipfile.ZipFile(raw) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                layer, _, index = key.rpartition("/")
                if not layer or not index.isdigit():
                    raise FCNError(f"{path}: key {key!r} is not layer/index")
                out.setdefault(layer, []).append((int(index), _npy_member(path, archive, info, key)))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError) as err:
        raise FCNError(f"{path}: not a readable .npz of arrays ({err})") from None
    for layer, items in out.items():
        if sorted(i for i, _ in items) != list(range(len(items))):
            raise FCNError(f"{path}: layer {layer!r} has blobs {sorted(i for i, _ in items)}, "
                           f"not 0..{len(items) - 1}")
        out[layer] = [a for _, a in sorted(items, key=lambda item: item[0])]
    return out


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


def save_arrays(path, arrays):
    """Write {layer: [arrays]} to `path` in the format its extension names;
    a caffemodel gets each layer's name and blobs, all Caffe reads of one."""
    kind = kind_of(path)
    if kind == "npz":
        _write_npz(path, arrays)
    elif kind == "hdf5":
        write_groups(path, [("data", arrays)])
    else:
        net = caffe_pb2.NetParameter()
        for name, blobs in arrays.items():
            net.layer.add(name=name).blobs.extend(to_proto(a) for a in blobs)
        write_atomic(path, net.SerializeToString())


def _write_npz(path, arrays):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{f"{name}/{i}": a for name, blobs in arrays.items() for i, a in enumerate(blobs)})


def describe(path):
    """(format text, [(layer, type, [shapes])]) of a weights file."""
    kind = kind_of(path)
    if kind == "caffemodel":
        with Caffemodel(path) as model:
            layers = [(name, [blob.shape for blob in blobs]) for name, blobs in model.layers()]
            kinds, layouts = model.kinds, model.layouts
        text = "binary caffemodel, " + (" + ".join(sorted(layouts)) or "no layers")
        return text, [(name, kinds.get(name, ""), shapes) for name, shapes in layers]
    if kind == "hdf5":     # shapes from the file's metadata: no data read
        with open_hdf5(path, "a weights file") as f:
            layers = hdf5_layers(path, f)
            for datasets in layers.values():
                for d in datasets:
                    declared_bytes(path, d)
            return "Caffe HDF5 weights", [(name, "", [tuple(d.shape) for d in ds]) for name, ds in layers.items()]
    arrays = load_arrays(path)
    return "npz arrays", [(name, "", [a.shape for a in blobs]) for name, blobs in arrays.items()]
