"""Weights as {layer: [float32 arrays]} in the three formats, chosen by the
file's extension: `.caffemodel` (binary NetParameter; V2, V1 and legacy
dims read, V2 written), `.caffemodel.h5` / `.h5` (Caffe's HDF5 layout) and
`.npz` (keys `layer/i`, read with allow_pickle=False)."""

import numpy as np

from common.atomic import write_atomic
from common.errors import FCNError
from common.hdf5 import declared_bytes, open_hdf5, write_groups
from netspec import caffe_pb2
from weights.blobs import to_proto
from weights.caffemodel import hdf5_layers, is_hdf5, read_weights
from weights.npz import read_npz, write_npz
from weights.safetensors_io import describe_safetensors, read_safetensors, write_safetensors
from weights.wire import Caffemodel


def kind_of(path: str) -> str:
    if path.endswith(".npz"):
        return "npz"
    if path.endswith(".safetensors"):
        return "safetensors"
    if is_hdf5(path):
        return "hdf5"
    if path.endswith(".caffemodel"):
        return "caffemodel"
    raise FCNError(f"{path}: unknown weights format; use .caffemodel, .caffemodel.h5 (or .h5), .npz "
                   "or .safetensors")


def load_arrays(path: str) -> dict[str, list[np.ndarray]]:
    """{layer: [arrays]} of any weights file."""
    kind = kind_of(path)
    if kind == "npz":
        return read_npz(path)
    if kind == "safetensors":
        return read_safetensors(path)
    return read_weights(path)


def save_arrays(path: str, arrays: dict[str, list[np.ndarray]]) -> None:
    """Write {layer: [arrays]} to `path` in the format its extension names;
    a caffemodel gets each layer's name and blobs, all Caffe reads of one."""
    kind = kind_of(path)
    if kind == "npz":
        write_npz(path, arrays)
    elif kind == "safetensors":
        write_safetensors(path, arrays)
    elif kind == "hdf5":
        write_groups(path, [("data", arrays)])
    else:
        net = caffe_pb2.NetParameter()
        for name, blobs in arrays.items():
            net.layer.add(name=name).blobs.extend(to_proto(a) for a in blobs)
        write_atomic(path, net.SerializeToString())


def describe(path):
    """(format text, [(layer, type, [shapes])]) of a weights file."""
    kind = kind_of(path)
    if kind == "caffemodel":
        with Caffemodel(path) as model:
            layers = [(name, [blob.shape for blob in blobs]) for name, blobs in model.layers()]
            kinds, layouts = model.kinds, model.layouts
        text = "binary caffemodel, " + (" + ".join(sorted(layouts)) or "no layers")
        return text, [(name, kinds.get(name, ""), shapes) for name, shapes in layers]
    if kind == "safetensors":     # shapes from the header: no data read
        shapes, whole = describe_safetensors(path)
        text = "safetensors (keys layer/i" + (", with the caffemodel's NetParameter)" if whole else ")")
        return text, [(name, "", blobs) for name, blobs in shapes]
    if kind == "hdf5":     # shapes from the file's metadata: no data read
        with open_hdf5(path, "a weights file") as f:
            layers = hdf5_layers(path, f)
            for datasets in layers.values():
                for d in datasets:
                    declared_bytes(path, d)
            return "Caffe HDF5 weights", [(name, "", [tuple(d.shape) for d in ds]) for name, ds in layers.items()]
    arrays = load_arrays(path)
    return "npz arrays", [(name, "", [a.shape for a in blobs]) for name, blobs in arrays.items()]
