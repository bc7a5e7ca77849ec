"""`.caffemodel` (binary NetParameter) and `.caffemodel.h5` (Caffe's HDF5
layout: data/<layer>/<i>) read into a Net and written from one.

Loading follows Caffe's CopyTrainedLayersFrom: by layer name; layers absent
from the file keep their fillers; layers of the file absent from the net are
ignored; a count or shape mismatch is an error naming the layer and shapes.
"""
import importlib
from contextlib import contextmanager

import numpy as np
from google.protobuf.message import DecodeError

from common import sizes
from common.atomic import write_atomic
from common.errors import FCNError, open_input
from common.hdf5 import declared_bytes, layer_blobs, open_hdf5, read_checked, write_groups
from netspec import caffe_pb2
from netspec.upgrade import upgrade_net
from weights.blobs import legacy_shape, stored_shape, to_proto
from weights.npz import read_npz
from weights.wire import Caffemodel


def _madvise_switch():
    """numpy's switch for asking the kernel for huge pages (numpy 2, then 1)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._set_madvise_hugepage
        except (ImportError, AttributeError):
            continue
    return None


_set_madvise_hugepage = _madvise_switch()


@contextmanager
def ordinary_pages():
    """numpy asks the kernel for huge pages for large arrays; where the
    kernel then compacts memory to find them (THP defrag "madvise", the
    usual setting), a fresh 537 MB of weights waited anywhere from nothing
    to a second (a 2-core VM, 0.04-1.05 s), against a steady 0.2 s on
    ordinary pages. Start-up wants the steady one."""
    if _set_madvise_hugepage is None:
        yield
        return
    previous = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(previous)


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path):
    """By the name's ending, or (for a file that exists) by HDF5's signature
    at its start, as Caffe's H5Fis_hdf5 decides what CopyTrainedLayersFrom reads."""
    if path.endswith(".h5") or path.endswith(".hdf5"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def read_caffemodel(path):
    """The upgraded NetParameter of a binary caffemodel."""
    with open_input(path, "caffemodel") as f:
        raw = f.read()
    if not raw:
        raise FCNError(f"{path}: empty file, not a caffemodel")
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(raw)
    except DecodeError as err:
        raise FCNError(f"{path}: not a binary caffemodel (truncated or corrupt: {err})") from None
    return upgrade_net(net, path)


def read_weights(path: str, legacy_kept: list | None = None) -> dict[str, list[np.ndarray]]:
    """{layer name: [float32 arrays]} of a caffemodel or caffemodel.h5, in
    file order. Blobs stored with legacy 4-D dims (V1 files) take the shape
    their layer's type gives them, as Caffe's net does on loading, so that
    they leave for formats without legacy dims (HDF5, npz, a V2 caffemodel)
    in shapes real Caffe loads; where the type does not say, the legacy
    shape stands and (layer, index, shape) is added to `legacy_kept`."""
    if is_hdf5(path):
        return read_hdf5_weights(path)
    out = {}
    with Caffemodel(path) as model:
        for name, blobs in model.layers():
            out[name] = [_shaped(blob.array(), stored_shape(model, name, i, blob, legacy_kept),
                                 f"{path}: layer {name!r} blob {i}") for i, blob in enumerate(blobs)]
    return out


def _shaped(array, shape, where):
    if array.size != sizes.count(shape):
        raise FCNError(f"{where}: blob of shape {list(shape)} holds {array.size} values")
    return array.reshape(shape)


def read_hdf5_weights(path):
    """{layer: [float32 arrays]} of Caffe's HDF5 layout, data/<layer>/<i>."""
    with open_hdf5(path, "a weights file") as f:
        return {name: [read_checked(path, d) for d in blobs] for name, blobs in hdf5_layers(path, f).items()}


def hdf5_layers(path, f):
    if "data" not in f:
        raise FCNError(f"{path}: no 'data' group; not a Caffe HDF5 weights file")
    return layer_blobs(path, f["data"])


def copy_weights(net, path: str) -> None:
    """Load the weights file at `path` into `net` by layer name."""
    with ordinary_pages():
        _copy_weights(net, path)


def _copy_weights(net, path):
    offered, matched = 0, 0
    if is_hdf5(path) or path.endswith((".npz", ".safetensors")):
        with _named_arrays(path) as (layers, read):
            for name, items in layers.items():
                offered += bool(items)
                matched += bool(items) and name in net.layer_names
                for i, target, item in _targets(net, path, name, items, extra_allowed=True):
                    # Checked before anything is read. HDF5 and npz have no
                    # legacy dims of their own, but a V1 caffemodel converted
                    # to them keeps its [1, 1, 1, N] biases: accepted where the
                    # caffemodel is.
                    if tuple(item.shape) != target.shape and not _legacy_fit(item.shape, target.shape):
                        raise FCNError(f"{path}: layer {name!r} blob {i}: the file has shape "
                                       f"{list(item.shape)}, the net {list(target.shape)}")
                    target.overwrite()[...] = read(item).reshape(target.shape)
    else:
        with Caffemodel(path) as model:
            for name, blobs in model.layers():
                offered += bool(blobs)
                matched += bool(blobs) and name in net.layer_names
                _copy_layer(net, path, name, blobs)
    if offered and not matched:
        raise FCNError(f"{path}: none of its {offered} layers with weights is a layer of {net.source}; "
                       "are these the weights of another net?")


def _copy_layer(net, path, name, blobs):
    for i, target, blob in _targets(net, path, name, blobs, extra_allowed=False):
        declared = blob.shape
        fits = _legacy_fit(declared, target.shape) if blob.dims is None else target.shape == declared
        if not fits:
            raise FCNError(f"{path}: layer {name!r} blob {i}: the file has shape {list(declared)}, "
                           f"the net {list(target.shape)}; rename the layer to learn it from scratch instead")
        if blob.count != target.count:
            raise FCNError(f"{path}: layer {name!r} blob {i}: shape {list(declared)} but {blob.count} values")
        blob.copy_into(target.overwrite())


@contextmanager
def _named_arrays(path):
    """({layer: [items with a .shape]}, read(item) -> array) of an HDF5 or npz file."""
    if path.endswith((".npz", ".safetensors")):
        from weights.safetensors_io import read_safetensors
        yield (read_npz(path) if path.endswith(".npz") else read_safetensors(path)), lambda array: array
        return
    with open_hdf5(path, "a weights file") as f:
        layers = hdf5_layers(path, f)
        for datasets in layers.values():
            for dataset in datasets:
                declared_bytes(path, dataset)
        yield layers, lambda dataset: read_checked(path, dataset)


def _legacy_fit(declared, wanted):
    return len(declared) <= 4 and legacy_shape(tuple(declared)) == legacy_shape(tuple(wanted))


def _targets(net, path, name, blobs, extra_allowed):
    """(index, net blob, file blob) of layer `name`; none if the net lacks it
    (Caffe ignores such layers). HDF5 files may hold fewer blobs than the layer."""
    if name not in net.layer_names:
        return []
    targets = net.layer(name).blobs
    if len(blobs) > len(targets) or (len(blobs) < len(targets) and not extra_allowed):
        raise FCNError(f"{path}: layer {name!r} has {len(blobs)} blobs in the file but "
                       f"{len(targets)} in the net")
    return [(i, target, blob) for i, (target, blob) in enumerate(zip(targets, blobs))]


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
    groups = [("data", {layer.name: [b.data for b in layer.blobs] for layer in net.layers})]
    if write_diff:
        groups.append(("diff", {layer.name: [b.diff for b in layer.blobs] for layer in net.layers}))
    write_groups(path, groups)


def save_weights(net, path: str, write_diff: bool = False) -> None:
    (save_hdf5 if is_hdf5(path) else save_caffemodel)(net, path, write_diff)
