"""What the FCN data layers share: parameters from param_str (read with
ast.literal_eval), a split list, one item per pass in a seeded random order
for training splits and in file order otherwise, loading in reshape so that
the net takes each image at its own size."""
import ast
import os
import random

import numpy as np

from common.errors import FCNError
from common.images import bgr_chw, read_array, read_rgb
from core.layer import Layer


class SegDataLayer(Layer):
    bottoms = (0, 0)
    tops = (1, None)
    required: tuple[str, ...] = ()          # param_str keys that must be present

    def setup(self, bottom, top):
        try:
            params = ast.literal_eval(self.param_str)
        except (ValueError, SyntaxError) as err:
            raise self.error(f"param_str is not a Python literal: {err}") from None
        if not isinstance(params, dict):
            raise self.error("param_str must be a dict")
        missing = [key for key in self.required if key not in params]
        if missing:
            raise self.error(f"param_str lacks {', '.join(missing)}")
        self.params = params
        self.configure(params, top)
        self.indices = self.read_split()
        if not self.indices:
            raise self.error(f"split {self.split!r} lists no items")
        # Training splits go in random order from the seed, as published;
        # anything else in file order, so that evaluation is deterministic.
        self.random = params.get("randomize", True) and "train" in self.split
        self.seed = params.get("seed")
        self.rewind()

    def rewind(self):
        """Back to where setup left the layer (a restored solver's data layer);
        a shard of a data-parallel job starts at its own item."""
        self.idx = 0
        if self.random:
            self.rng = random.Random(self.seed)
            self.idx = self.rng.randint(0, len(self.indices) - 1)
        for _ in range(self.options.shard[0]):
            self._advance()

    def _advance(self):
        if self.random:
            self.idx = self.rng.randint(0, len(self.indices) - 1)
        else:
            self.idx = (self.idx + 1) % len(self.indices)

    def split_file(self):
        raise NotImplementedError

    def read_split(self):
        path = self.split_file()
        try:
            with open(path) as f:
                return f.read().splitlines()
        except OSError:
            raise self.error(f"cannot read split list {path}") from None

    def reshape(self, bottom, top):
        self.items = self.load(self.indices[self.idx])
        for blob, item in zip(top, self.items):
            blob.reshape((1,) + item.shape)

    def forward(self, bottom, top):
        for blob, item in zip(top, self.items):
            blob.data[...] = item
        for _ in range(self.options.shard[1]):      # the next item of this shard
            self._advance()

    def backward(self, top, propagate_down, bottom):
        pass

    # -- loading helpers ----------------------------------------------------
    def require(self, path):
        if not os.path.exists(path):
            raise self.error(f"missing file {path}")

    def read(self, reader, path, *args):
        """reader(path, ...) from common.images, its one-line error naming this layer."""
        self.require(path)
        try:
            return reader(path, *args)
        except FCNError as err:
            raise self.error(str(err)) from None

    def load_bgr(self, path, mean):
        """An image as float32 C x H x W, BGR, minus the mean; gray and RGBA become RGB."""
        return bgr_chw(self.read(read_rgb, path), mean)

    def load_png_label(self, path):
        return self.read(read_array, path)[np.newaxis]

    def load_mat(self, path, key):
        if not os.path.exists(path):
            raise self.error(f"missing file {path}")
        import scipy.io  # 0.1 s to import: only SBDD's labels need it
        try:
            return scipy.io.loadmat(path)[key]
        except (ValueError, KeyError, OSError, TypeError) as err:
            raise self.error(f"cannot read {key!r} from {path}: {err}") from None

