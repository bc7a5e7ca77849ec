"""`.caffemodel` (binary NetParameter) and `.caffemodel.h5` (Caffe's HDF5
layout: data/<layer>/<i>) read into a Net and written from one.

Loading follows Caffe's CopyTrainedLayersFrom: by layer name; layers absent
from the file keep their fillers; layers of the file absent from the net are
ignored; a count or shape mismatch is an error naming the layer and shapes.
"""
import os

import h5py
import numpy as np
from google.protobuf.message import DecodeError

from netspec import caffe_pb2
from netspec.errors import FCNError
from netspec.prototxt import write_atomic
from netspec.upgrade import upgrade_net
from weights.blobs import proto_shape, shapes_match, to_array, to_proto


def is_hdf5(path):
    return path.endswith(".h5") or path.endswith(".hdf5")


def read_caffemodel(path):
    """The upgraded NetParameter of a binary caffemodel."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FCNError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FCNError(f"{path}: is a directory, not a caffemodel") from None
    if not raw:
        raise FCNError(f"{path}: empty file, not a caffemodel")
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(raw)
    except DecodeError as err:
        raise FCNError(f"{path}: not a binary caffemodel (truncated or corrupt: {err})") from None
    return upgrade_net(net, path)


def read_weights(path):
    """{layer name: [arrays]} from a caffemodel or a caffemodel.h5, in file order."""
    if is_hdf5(path):
        return read_hdf5_weights(path)
    net = read_caffemodel(path)
    return {layer.name: [(blob, f"{path}: layer {layer.name!r} blob {i}") for i, blob in enumerate(layer.blobs)]
            for layer in net.layer}


def read_hdf5_weights(path):
    if not os.path.exists(path):
        raise FCNError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "data" not in f:
                raise FCNError(f"{path}: no 'data' group; not a Caffe HDF5 weights file")
            out = {}
            for name, group in f["data"].items():
                if not isinstance(group, h5py.Group):
                    raise FCNError(f"{path}: data/{name} is not a group of blobs")
                arrays = []
                for i in range(len(group)):
                    if str(i) not in group:
                        raise FCNError(f"{path}: data/{name} lacks blob {i}")
                    arrays.append(np.asarray(group[str(i)], dtype=np.float32))
                out[name] = arrays
            return out
    except OSError as err:
        raise FCNError(f"{path}: not a readable HDF5 file ({err})") from None


def copy_weights(net, path):
    """Load the weights file at `path` into `net` by layer name."""
    source = read_weights(path)
    for name, blobs in source.items():
        if name not in net.layer_names:
            continue
        layer = net.layer(name)
        targets = layer.blobs
        if len(blobs) != len(targets) and (len(blobs) > len(targets) or not is_hdf5(path)):
            raise FCNError(f"{path}: layer {name!r} has {len(blobs)} blobs in the file but "
                           f"{len(targets)} in the net")
        for i, (target, item) in enumerate(zip(targets, blobs)):
            if is_hdf5(path):
                array = item
                if array.shape != target.shape:
                    raise FCNError(f"{path}: layer {name!r} blob {i}: the file has shape {list(array.shape)}, "
                                   f"the net {list(target.shape)}")
            else:
                proto, where = item
                if not shapes_match(target.shape, proto):
                    raise FCNError(f"{path}: layer {name!r} blob {i}: the file has shape "
                                   f"{list(proto_shape(proto))}, the net {list(target.shape)}; rename the layer "
                                   "to learn it from scratch instead")
                array = to_array(proto, where).reshape(target.shape)
            target.data[...] = array


def net_to_proto(net, write_diff=False):
    """The NetParameter Caffe's Net::ToProto writes: every layer, with its blobs."""
    out = caffe_pb2.NetParameter(name=net.name)
    for layer in net.layers:
        param = out.layer.add()
        param.CopyFrom(layer.param)
        param.ClearField("blobs")
        for blob in layer.blobs:
            param.blobs.append(to_proto(blob.data, blob.diff if write_diff else None))
    return out


def save_caffemodel(net, path, write_diff=False):
    write_atomic(path, net_to_proto(net, write_diff).SerializeToString())


def save_hdf5(net, path, write_diff=False):
    """Caffe's layout: data/<layer>/<i> for every layer (empty groups included)."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        with h5py.File(tmp, "w") as f:
            groups = [("data", False)] + ([("diff", True)] if write_diff else [])
            for group_name, diff in groups:
                group = f.create_group(group_name)
                for layer in net.layers:
                    sub = group.create_group(layer.name)
                    for i, blob in enumerate(layer.blobs):
                        sub.create_dataset(str(i), data=blob.diff if diff else blob.data)
        os.replace(tmp, path)
    except OSError as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise FCNError(f"{path}: cannot write ({err})") from None


def save_weights(net, path, write_diff=False):
    (save_hdf5 if is_hdf5(path) else save_caffemodel)(net, path, write_diff)
