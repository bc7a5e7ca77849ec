"""Weights as {layer: [float32 arrays]} in the three formats, chosen by the
file's extension: `.caffemodel` (binary NetParameter; V2, V1 and legacy
dims read, V2 written), `.caffemodel.h5` / `.h5` (Caffe's HDF5 layout) and
`.npz` (keys `layer/i`, read with allow_pickle=False)."""
import zipfile

import numpy as np

from netspec import caffe_pb2
from netspec.errors import FCNError
from netspec.atomic import atomic_path, write_atomic
from weights.blobs import to_proto
from weights.caffemodel import is_hdf5, read_weights, write_hdf5_groups
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
    try:
        with np.load(path, allow_pickle=False) as archive:
            out = {}
            for key in archive.files:
                layer, _, index = key.rpartition("/")
                if not layer or not index.isdigit():
                    raise FCNError(f"{path}: key {key!r} is not layer/index")
                out.setdefault(layer, []).append((int(index), np.asarray(archive[key], np.float32)))
    except FileNotFoundError:
        raise FCNError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise FCNError(f"{path}: not a readable .npz of arrays ({err})") from None
    for layer, items in out.items():
        if sorted(i for i, _ in items) != list(range(len(items))):
            raise FCNError(f"{path}: layer {layer!r} has blobs {sorted(i for i, _ in items)}, "
                           f"not 0..{len(items) - 1}")
        out[layer] = [a for _, a in sorted(items, key=lambda item: item[0])]
    return out


def save_arrays(path, arrays):
    """Write {layer: [arrays]} to `path` in the format its extension names;
    a caffemodel gets each layer's name and blobs, all Caffe reads of one."""
    kind = kind_of(path)
    if kind == "npz":
        _write_npz(path, arrays)
    elif kind == "hdf5":
        write_hdf5_groups(path, [("data", arrays)])
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
    arrays = load_arrays(path)
    text = "Caffe HDF5 weights" if kind == "hdf5" else "npz arrays"
    return text, [(name, "", [a.shape for a in blobs]) for name, blobs in arrays.items()]
