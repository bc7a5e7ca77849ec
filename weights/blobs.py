"""BlobProto <-> numpy, including the legacy num/channels/height/width dims."""
import numpy as np

from common import sizes
from common.errors import FCNError
from netspec import caffe_pb2


def proto_shape(proto):
    if proto.HasField("shape"):
        return tuple(proto.shape.dim)
    if any(proto.HasField(f) for f in ("num", "channels", "height", "width")):
        return (proto.num, proto.channels, proto.height, proto.width)
    return (len(proto.data) or len(proto.double_data),)


def legacy_shape(shape):
    """A shape padded to 4 axes with leading 1s, as Caffe's LegacyShape."""
    return (1,) * (4 - len(shape)) + tuple(shape) if len(shape) <= 4 else tuple(shape)


# Layer types (V2, V1 and V0 names) whose blobs' true shapes follow from
# their legacy 4-D dims: Caffe's layers of these types create them so.
CONVOLUTIONS = {"Convolution", "Deconvolution", "CONVOLUTION", "DECONVOLUTION", "conv"}
INNER_PRODUCTS = {"InnerProduct", "INNER_PRODUCT", "innerproduct"}


def natural_shape(kind: str, index: int, legacy: tuple) -> tuple | None:
    """The shape Caffe's layer of type `kind` gives its blob `index`, for a
    blob stored with legacy dims (num, channels, height, width), as V1 files
    store every blob; None where the type does not say (the legacy shape
    then stands). Kernels keep all four axes, an InnerProduct's weights are
    (height, width), biases one axis."""
    n, c, h, w = legacy
    if kind not in CONVOLUTIONS and kind not in INNER_PRODUCTS:
        return None
    if index == 1 and n == c == h == 1:
        return (w,)
    if index == 0 and kind in CONVOLUTIONS:
        return tuple(legacy)
    if index == 0 and n == c == 1:
        return (h, w)
    return None


def stored_shape(model, name, index, blob, legacy_kept=None):
    """The shape a WireBlob of the open caffemodel `model` leaves the file
    in: its own, or for legacy dims the one its layer's type gives it
    (natural_shape); where that type does not say, the legacy dims, with
    (layer, index, dims) added to `legacy_kept`."""
    if blob.dims is not None or not blob.has_legacy:
        return blob.shape
    shape = natural_shape(model.kinds.get(name, ""), index, blob.legacy)
    if shape is None or sizes.count(shape) != sizes.count(blob.legacy):
        if legacy_kept is not None:
            legacy_kept.append((name, index, tuple(blob.legacy)))
        return tuple(blob.legacy)
    return shape


def to_array(proto, where):
    shape = proto_shape(proto)
    values = proto.double_data if len(proto.double_data) else proto.data
    count = sizes.count(shape)
    if len(values) != count:
        raise FCNError(f"{where}: blob of shape {list(shape)} holds {len(values)} values, not {count}")
    return np.asarray(values, dtype=np.float32).reshape(shape)


def _packed_floats(field, array):
    """The wire bytes of a packed float field: protobuf then parses them at
    C speed, where extending the repeated field walks every float in Python."""
    payload = np.ascontiguousarray(array, "<f4").tobytes()
    length, size = bytearray(), len(payload)
    while size >= 0x80:
        length.append(size & 0x7F | 0x80)
        size >>= 7
    length.append(size)
    return bytes([field << 3 | 2]) + bytes(length) + payload


def to_proto(array, diff=None):
    proto = caffe_pb2.BlobProto()
    proto.shape.dim.extend(array.shape)
    if array.size:
        proto.MergeFromString(_packed_floats(5, array))
    if diff is not None and diff.size:
        proto.MergeFromString(_packed_floats(6, diff))
    return proto
