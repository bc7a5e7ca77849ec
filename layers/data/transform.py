"""Caffe's DataTransformer: an image (C x H x W, values as stored) to a
net's input: a crop (random in TRAIN, centred in TEST), a random mirror
(where asked, in either phase), the mean (a mean file's image or values
per channel) subtracted, then the scale. Shared by Data and ImageData."""
from __future__ import annotations

import numpy as np

from common.errors import FCNError
from netspec import caffe_pb2


class Transformer:
    def __init__(self, param: caffe_pb2.TransformationParameter, phase: int, rng, where: str):
        self.param, self.phase, self.rng, self.where = param, phase, rng, where
        self.crop = param.crop_size
        self.mean_image = None
        self.mean_values = np.array(param.mean_value, np.float32)
        if param.mean_file and len(param.mean_value):
            raise FCNError(f"{where}: give mean_file or mean_value, not both")
        if param.mean_file:
            self.mean_image = read_mean_file(param.mean_file, where)

    def output_shape(self, channels: int, height: int, width: int) -> tuple[int, int, int]:
        if self.crop:
            if self.crop > height or self.crop > width:
                raise FCNError(f"{self.where}: crop_size {self.crop} is larger than the {height}x{width} image")
            return channels, self.crop, self.crop
        return channels, height, width

    def __call__(self, image: np.ndarray, out: np.ndarray) -> None:
        """out (C x h x w) = the transformed image (C x H x W)."""
        channels, height, width = image.shape
        mirror = self.param.mirror and bool(self.rng.integers(2))
        y0 = x0 = 0
        if self.crop:
            if self.phase == caffe_pb2.TRAIN:
                y0 = int(self.rng.integers(height - self.crop + 1))
                x0 = int(self.rng.integers(width - self.crop + 1))
            else:
                y0, x0 = (height - self.crop) // 2, (width - self.crop) // 2
        h, w = out.shape[1:]
        window = image[:, y0:y0 + h, x0:x0 + w].astype(np.float32)
        if self.mean_image is not None:
            if self.mean_image.shape != image.shape:
                raise FCNError(f"{self.where}: the mean file's shape {list(self.mean_image.shape)} is not the "
                               f"image's {list(image.shape)}")
            window -= self.mean_image[:, y0:y0 + h, x0:x0 + w]
        elif len(self.mean_values):
            if len(self.mean_values) not in (1, channels):
                raise FCNError(f"{self.where}: {len(self.mean_values)} mean values for {channels} channels")
            window -= (self.mean_values if len(self.mean_values) == channels
                       else np.repeat(self.mean_values, channels))[:, None, None]
        if self.param.scale != 1:
            window *= np.float32(self.param.scale)
        out[...] = window[:, :, ::-1] if mirror else window


def read_mean_file(path: str, where: str) -> np.ndarray:
    """A binaryproto mean image (BlobProto, 1 x C x H x W or C x H x W) as C x H x W."""
    from netspec.prototxt import read_binary
    from weights.blobs import to_array
    blob = read_binary(path, caffe_pb2.BlobProto(), "mean file")
    mean = to_array(blob, f"{path}")
    if mean.ndim == 4 and mean.shape[0] == 1:
        mean = mean[0]
    if mean.ndim != 3:
        raise FCNError(f"{where}: {path} holds a mean of shape {list(mean.shape)}, not C x H x W")
    return mean
