"""ImageData: images named in a list file (`path label` a line), as Caffe's
ImageDataLayer reads them: in list order or shuffled each pass, resized
to new_height x new_width when both are given (bilinear, half-pixel
centres as OpenCV's INTER_LINEAR), BGR (or grey with is_color: false),
through the DataTransformer. Tops: data (N x C x H x W), label (N,). A
batch takes the shape of its first image, so with batch_size 1 images of
any size pass."""
import os

import numpy as np
from scipy.ndimage import zoom

from common.errors import FCNError, open_input
from common.images import read_gray, read_rgb
from core.layer import Layer, register
from layers.data.transform import Transformer


def resized(image, height, width):
    """H x W x C to height x width, bilinear with half-pixel centres."""
    factors = (height / image.shape[0], width / image.shape[1], 1)
    out = zoom(image.astype(np.float32), factors, order=1, mode="nearest", grid_mode=True)
    return out[:height, :width]


@register("ImageData")
class ImageData(Layer):
    bottoms = (0, 0)
    tops = (1, 2)

    def setup(self, bottom, top):
        p = self.param.image_data_param
        where = f"layer {self.name!r} (ImageData)"
        if not p.source:
            raise self.error("image_data_param.source (a list of `image label` lines) is required")
        self.items = []
        with open_input(p.source, "list of images", "r") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                path, _, label = line.rpartition(" ")
                try:
                    self.items.append((path or label, int(label) if path else 0))
                except ValueError:
                    raise FCNError(f"{p.source}:{number}: {line!r} is not `path label`") from None
        if not self.items:
            raise self.error(f"{p.source} lists no images")
        if (p.new_height > 0) != (p.new_width > 0):
            raise self.error("new_height and new_width go together")
        self.batch_size = p.batch_size
        if self.batch_size <= 0:
            raise self.error("batch_size must be positive")
        self.transform = Transformer(self.param.transform_param, self.phase, self.rng, where)
        self.position = 0
        if p.shuffle:
            self.rng.shuffle(self.items)
        if p.rand_skip:
            self.position = int(self.rng.integers(p.rand_skip)) % len(self.items)
        self.pending = None
        self.reshape(bottom, top)

    def load(self, path):
        p = self.param.image_data_param
        full = os.path.join(p.root_folder, path) if p.root_folder else path
        try:
            image = read_rgb(full)[:, :, ::-1] if p.is_color else read_gray(full)[:, :, np.newaxis]
        except FCNError as err:
            raise self.error(str(err)) from None
        if p.new_height > 0:
            image = resized(image, p.new_height, p.new_width)
        return np.ascontiguousarray(image.transpose(2, 0, 1))

    def reshape(self, bottom, top):
        """Read the next batch now: its first image gives the batch's shape."""
        if self.pending is None:
            batch = []
            for _ in range(self.batch_size):
                path, label = self.items[self.position]
                batch.append((self.load(path), label, path))
                self.position += 1
                if self.position == len(self.items):
                    self.position = 0
                    if self.param.image_data_param.shuffle:
                        self.rng.shuffle(self.items)
            self.pending = batch
        first = self.pending[0][0]
        self.shape = (self.batch_size, *self.transform.output_shape(*first.shape))
        top[0].reshape(self.shape)
        if len(top) > 1:
            top[1].reshape((self.batch_size,))

    def forward(self, bottom, top):
        for i, (image, label, path) in enumerate(self.pending):
            if self.transform.output_shape(*image.shape) != self.shape[1:]:
                raise self.error(f"{path} is {list(image.shape)}; this batch takes {list(self.shape[1:])} "
                                 "(give new_height/new_width or crop_size, or batch_size 1)")
            self.transform(image, top[0].data[i])
            if len(top) > 1:
                top[1].data[i] = label
        self.pending = None

    def rewind(self):
        self.position, self.pending = 0, None
