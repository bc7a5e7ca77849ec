"""Data: Datum records from an LMDB (as `convert_imageset` writes them), in
key order, wrapping round at the end, through the DataTransformer: how
most Caffe classification nets train. Tops: data (N x C x H x W) and, if
asked, label (N,).

Raw datums hold C x H x W uint8 (or float) values in the order convert_imageset
stored them (OpenCV's BGR); encoded ones hold a JPEG or PNG, decoded here to
BGR as OpenCV decodes it. LevelDB (Caffe's default backend) is not read:
convert it, or write the LMDB with `convert_imageset -backend lmdb`.
Needs the `lmdb` package (the `lmdb` extra).
"""
import os

import numpy as np

from common.errors import FCNError
from core.layer import Layer, register
from layers.data.transform import Transformer
from netspec import caffe_pb2


def datum_image(datum, where, force_color=False, force_gray=False):
    """C x H x W of a Datum: uint8 or float values, or a decoded image (BGR)."""
    if datum.encoded:
        import io

        from PIL import Image, UnidentifiedImageError

        from common.images import MAX_PIXELS
        try:
            with Image.open(io.BytesIO(datum.data)) as image:
                if image.size[0] * image.size[1] > MAX_PIXELS:
                    raise FCNError(f"{where}: an encoded image of {image.size[0]} x {image.size[1]} pixels")
                gray = force_gray or (image.mode in ("L", "I;16", "I") and not force_color)
                pixels = np.asarray(image.convert("L" if gray else "RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise FCNError(f"{where}: cannot decode the encoded image ({err})") from None
        return pixels[np.newaxis] if gray else np.ascontiguousarray(pixels[:, :, ::-1].transpose(2, 0, 1))
    shape = (datum.channels, datum.height, datum.width)
    count = shape[0] * shape[1] * shape[2]
    if len(datum.data):
        if len(datum.data) != count:
            raise FCNError(f"{where}: a datum of {list(shape)} holds {len(datum.data)} bytes, not {count}")
        return np.frombuffer(datum.data, np.uint8).reshape(shape)
    if len(datum.float_data) != count:
        raise FCNError(f"{where}: a datum of {list(shape)} holds {len(datum.float_data)} floats, not {count}")
    return np.array(datum.float_data, np.float32).reshape(shape)


# LMDB opens a database once a process: the train and test nets of a solver
# reading one share its environment (a cache of open handles).
_ENVIRONMENTS: dict = {}


def _environment(path, where):
    try:
        import lmdb
    except ImportError:
        raise FCNError(f"{where}: reading an LMDB needs the lmdb package "
                       "(pip install 'fcn-caffe[lmdb]')") from None
    key = os.path.realpath(path)
    if key not in _ENVIRONMENTS:
        try:
            _ENVIRONMENTS[key] = lmdb.open(path, readonly=True, lock=False, readahead=False, max_readers=126)
        except lmdb.Error as err:
            raise FCNError(f"{where}: cannot open the LMDB {path} ({err})") from None
    return _ENVIRONMENTS[key]


class LMDBCursor:
    """Records of an LMDB in key order, round and round."""

    def __init__(self, path, where):
        self.env = _environment(path, where)
        self.txn = self.env.begin()
        self.cursor = self.txn.cursor()
        if not self.cursor.first():
            raise FCNError(f"{where}: the LMDB {path} holds no records")
        self.where = where

    def value(self):
        datum = caffe_pb2.Datum()
        try:
            datum.ParseFromString(self.cursor.value())
        except Exception as err:    # protobuf's DecodeError and its kin
            raise FCNError(f"{self.where}: record {self.cursor.key()!r} is not a Datum ({err})") from None
        return datum

    def next(self):
        if not self.cursor.next():
            self.cursor.first()


@register("Data")
class Data(Layer):
    bottoms = (0, 0)
    tops = (1, 2)

    def setup(self, bottom, top):
        p = self.param.data_param
        where = f"layer {self.name!r} (Data)"
        if not p.source:
            raise self.error("data_param.source (an LMDB folder) is required")
        if p.backend != caffe_pb2.DataParameter.LMDB:
            raise self.error("only backend: LMDB is read here (LevelDB is not); "
                             "write the database with convert_imageset -backend lmdb")
        if p.batch_size <= 0:
            raise self.error("batch_size must be positive")
        self.batch_size = p.batch_size
        self.cursor = LMDBCursor(p.source, where)
        if p.rand_skip:
            for _ in range(int(self.rng.integers(p.rand_skip))):
                self.cursor.next()
        t = self.param.transform_param
        self.force = (t.force_color or p.force_encoded_color, t.force_gray)
        self.transform = Transformer(t, self.phase, self.rng, where)
        first = datum_image(self.cursor.value(), where, *self.force)
        self.shape = (self.batch_size, *self.transform.output_shape(*first.shape))
        self.reshape(bottom, top)

    def reshape(self, bottom, top):
        top[0].reshape(self.shape)
        if len(top) > 1:
            top[1].reshape((self.batch_size,))

    def forward(self, bottom, top):
        where = f"layer {self.name!r} (Data)"
        for i in range(self.batch_size):
            datum = self.cursor.value()
            image = datum_image(datum, where, *self.force)
            if self.transform.output_shape(*image.shape) != self.shape[1:]:
                raise self.error(f"record {self.cursor.cursor.key()!r} is {list(image.shape)}; the batch "
                                 f"takes {list(self.shape[1:])} (give crop_size, or images of one size)")
            self.transform(image, top[0].data[i])
            if len(top) > 1:
                top[1].data[i] = datum.label
            self.cursor.next()

    def rewind(self):
        """Back to the first record, where a restored Caffe starts."""
        self.cursor.cursor.first()
