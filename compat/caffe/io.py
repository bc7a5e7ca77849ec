"""caffe.io: protobuf blobs and datums to and from arrays, images in and out
of a net's layout (Transformer), as pycaffe's io module behaves.

Images load with Pillow and resize with scipy.ndimage (pycaffe uses
scikit-image for one- and three-channel images): values agree to the
interpolation's rounding, not bit for bit.
"""
import numpy as np

from common.errors import FCNError
from common.images import open_image
from netspec import caffe_pb2


# -- blobs and datums -------------------------------------------------------
def blobproto_to_array(blob, return_diff=False):
    """The blob's data (or diff) shaped by its legacy num/channels/height/
    width when set, else by its shape (a blob with neither holds a scalar)."""
    values = np.array(blob.diff if return_diff else blob.data, dtype=np.float32)
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return values.reshape(blob.num, blob.channels, blob.height, blob.width)
    return values.reshape(tuple(blob.shape.dim))


def array_to_blobproto(arr, diff=None):
    """A BlobProto of `arr` (and `diff`), shaped as the array."""
    arr = np.asarray(arr)
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(arr.shape)
    blob.data.extend(arr.astype(float).ravel())
    if diff is not None:
        blob.diff.extend(np.asarray(diff).astype(float).ravel())
    return blob


def arraylist_to_blobprotovector_str(arraylist):
    """The serialized BlobProtoVector of a list of arrays."""
    vector = caffe_pb2.BlobProtoVector()
    vector.blobs.extend(array_to_blobproto(a) for a in arraylist)
    return vector.SerializeToString()


def blobprotovector_str_to_arraylist(text):
    vector = caffe_pb2.BlobProtoVector()
    vector.ParseFromString(text)
    return [blobproto_to_array(blob) for blob in vector.blobs]


def array_to_datum(arr, label=None):
    """A Datum of a C x H x W array: uint8 as bytes, anything else as floats;
    the label only when given."""
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise ValueError("Incorrect array shape.")
    datum = caffe_pb2.Datum()
    datum.channels, datum.height, datum.width = arr.shape
    if arr.dtype == np.uint8:
        datum.data = arr.tobytes()
    else:
        datum.float_data.extend(arr.astype(float).ravel())
    if label is not None:
        datum.label = label
    return datum


def datum_to_array(datum):
    """The C x H x W array of a Datum (uint8 from bytes, else float)."""
    shape = (datum.channels, datum.height, datum.width)
    if len(datum.data):
        return np.frombuffer(datum.data, dtype=np.uint8).reshape(shape)
    return np.array(datum.float_data, dtype=float).reshape(shape)


# -- images -----------------------------------------------------------------
def load_image(filename, color=True):
    """H x W x 3 (or x 1 with color=False) float32 in [0, 1]."""
    try:
        with open_image(filename) as image:
            if color:
                pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
            else:
                pixels = np.asarray(image.convert("L"), dtype=np.float32)[:, :, np.newaxis]
    except FCNError as err:
        raise OSError(str(err)) from None
    return pixels / 255.0


def resize_image(im, new_dims, interp_order=1):
    """H x W x K float32 resized to new_dims (height, width), by spline
    interpolation of that order; a constant image stays that constant."""
    from scipy.ndimage import zoom
    im = np.asarray(im, dtype=np.float32)
    height, width = int(new_dims[0]), int(new_dims[1])
    if im.max() == im.min():
        return np.full((height, width, im.shape[-1]), im.min(), np.float32)
    factors = (height / im.shape[0], width / im.shape[1], 1)
    resized = zoom(im, factors, order=interp_order, mode="nearest", grid_mode=True)
    return resized[:height, :width].astype(np.float32)


def oversample(images, crop_dims):
    """Ten crops of each H x W x K image: its four corners and centre, then
    the same five mirrored left to right."""
    crop_h, crop_w = int(crop_dims[0]), int(crop_dims[1])
    first = np.asarray(images[0])
    height, width, channels = first.shape
    tops = [(0, 0), (0, width - crop_w), (height - crop_h, 0), (height - crop_h, width - crop_w),
            (int(height / 2.0 - crop_h / 2.0), int(width / 2.0 - crop_w / 2.0))]
    crops = np.empty((10 * len(images), crop_h, crop_w, channels), np.float32)
    for n, im in enumerate(images):
        im = np.asarray(im)
        five = [im[y:y + crop_h, x:x + crop_w, :] for y, x in tops]
        crops[10 * n:10 * n + 5] = five
        crops[10 * n + 5:10 * n + 10] = [c[:, ::-1, :] for c in five]
    return crops


class Transformer:
    """Images to a net's input layout and back: resize to the input's
    height and width, transpose, swap channels, scale the raw values,
    subtract the mean, scale the input; `deprocess` undoes all but the
    resize. `inputs`: {input name: its N x C x H x W shape}."""

    def __init__(self, inputs):
        self.inputs = {name: tuple(shape) for name, shape in inputs.items()}
        self.transpose, self.channel_swap = {}, {}
        self.raw_scale, self.mean, self.input_scale = {}, {}, {}

    def _check(self, in_):
        if in_ not in self.inputs:
            raise Exception(f"{in_} is not one of the net inputs: {self.inputs}")

    def preprocess(self, in_, data):
        self._check(in_)
        out = np.asarray(data).astype(np.float32, copy=False)
        size = self.inputs[in_][2:]
        if out.shape[:2] != tuple(size):
            out = resize_image(out, size)
        if in_ in self.transpose:
            out = out.transpose(self.transpose[in_])
        if in_ in self.channel_swap:
            out = out[self.channel_swap[in_], :, :]
        if in_ in self.raw_scale:
            out = out * self.raw_scale[in_]
        if in_ in self.mean:
            out = out - self.mean[in_]
        if in_ in self.input_scale:
            out = out * self.input_scale[in_]
        return out

    def deprocess(self, in_, data):
        self._check(in_)
        out = np.array(data).squeeze()
        if in_ in self.input_scale:
            out = out / self.input_scale[in_]
        if in_ in self.mean:
            out = out + self.mean[in_]
        if in_ in self.raw_scale:
            out = out / self.raw_scale[in_]
        if in_ in self.channel_swap:
            out = out[np.argsort(self.channel_swap[in_]), :, :]
        if in_ in self.transpose:
            out = out.transpose(np.argsort(self.transpose[in_]))
        return out

    def set_transpose(self, in_, order):
        """The axis order from the image's (H x W x K: (2, 0, 1)) to the net's."""
        self._check(in_)
        if len(order) != len(self.inputs[in_]) - 1:
            raise Exception("Transpose order needs to have the same number of dimensions as the input.")
        self.transpose[in_] = tuple(order)

    def set_channel_swap(self, in_, order):
        """The channels' new order (RGB to BGR: (2, 1, 0)), after the transpose."""
        self._check(in_)
        if len(order) != self.inputs[in_][1]:
            raise Exception("Channel swap needs to have the same number of dimensions as the input channels.")
        self.channel_swap[in_] = list(order)

    def set_raw_scale(self, in_, scale):
        """Scale the raw values (load_image's [0, 1] to [0, 255]: 255), before the mean."""
        self._check(in_)
        self.raw_scale[in_] = scale

    def set_mean(self, in_, mean):
        """A mean per channel (K values) or a whole C x H x W mean image."""
        self._check(in_)
        mean = np.asarray(mean)
        if mean.ndim == 1:
            if mean.shape[0] != self.inputs[in_][1]:
                raise ValueError("Mean channels incompatible with input.")
            mean = mean[:, np.newaxis, np.newaxis]
        elif mean.shape != tuple(self.inputs[in_][1:]):
            raise ValueError("Mean shape incompatible with input shape.")
        self.mean[in_] = mean

    def set_input_scale(self, in_, scale):
        """Scale the input after the mean is taken off."""
        self._check(in_)
        self.input_scale[in_] = scale


__all__ = ["Transformer", "array_to_blobproto", "array_to_datum", "arraylist_to_blobprotovector_str",
           "blobproto_to_array", "blobprotovector_str_to_arraylist", "datum_to_array", "load_image",
           "oversample", "resize_image"]
