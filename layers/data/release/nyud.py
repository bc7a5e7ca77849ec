"""NYUDv2 (color, depth, HHA; 40 classes): the `nyud_layers` module of the release."""
import os

import numpy as np

from common.images import read_array, read_rgb
from layers.data.release.base import SegDataLayer

MEAN_BGR = (116.190, 97.203, 92.318)
MEAN_HHA = (132.431, 94.076, 118.477)
MEAN_LOG_DEPTH = 7.844


class NYUDSegDataLayer(SegDataLayer):
    required = ("nyud_dir", "split", "tops")

    def configure(self, params, top):
        self.root, self.split, self.outputs = params["nyud_dir"], params["split"], list(params["tops"])
        if len(top) != len(self.outputs):
            raise self.error(f"param_str names {len(self.outputs)} tops, the layer has {len(top)}")
        unknown = set(self.outputs) - {"color", "depth", "hha", "label"}
        if unknown:
            raise self.error(f"unknown tops {sorted(unknown)}; use color, depth, hha, label")

    def split_file(self):
        return os.path.join(self.root, f"{self.split}.txt")

    def load(self, name):
        return tuple(getattr(self, f"load_{output}")(name) for output in self.outputs)

    def load_color(self, name):
        return self.load_bgr(os.path.join(self.root, "data", "images", f"img_{name}.png"), MEAN_BGR)

    def load_hha(self, name):
        path = os.path.join(self.root, "data", "hha", f"img_{name}.png")
        hha = self.read(read_rgb, path).astype(np.float32) - np.float32(MEAN_HHA)
        return np.ascontiguousarray(hha.transpose(2, 0, 1))

    def load_depth(self, name):
        path = os.path.join(self.root, "data", "depth", f"img_{name}.png")
        with np.errstate(divide="ignore"):
            depth = np.log(self.read(read_array, path, np.float32)) - np.float32(MEAN_LOG_DEPTH)
        return depth[np.newaxis]

    def load_label(self, name):
        label = self.load_mat(os.path.join(self.root, "segmentation", f"img_{name}.mat"), "segmentation")
        # Classes start at 1 in the files; 0 (unlabeled) wraps to 255, the ignore label.
        return (label.astype(np.uint8) - np.uint8(1))[np.newaxis]
