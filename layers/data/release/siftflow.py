"""SIFT Flow (33 semantic and 3 geometric classes): the `siftflow_layers` module."""
import os

import numpy as np

from layers.data.release.base import SegDataLayer

MEAN_BGR = (114.578, 115.294, 108.353)
SUBDIR = "spatial_envelope_256x256_static_8outdoorcategories"


class SIFTFlowSegDataLayer(SegDataLayer):
    required = ("siftflow_dir", "split")

    def configure(self, params, top):
        if len(top) != 3:
            raise self.error("needs three tops: data, semantic label, geometric label")
        self.root, self.split = params["siftflow_dir"], params["split"]

    def split_file(self):
        return os.path.join(self.root, f"{self.split}.txt")

    def load(self, name):
        image = self.load_bgr(os.path.join(self.root, "Images", SUBDIR, f"{name}.jpg"), MEAN_BGR)
        semantic = self.load_mat(os.path.join(self.root, "SemanticLabels", SUBDIR, f"{name}.mat"), "S")
        geometric = self.load_mat(os.path.join(self.root, "GeoLabels", SUBDIR, f"{name}.mat"), "S").copy()
        geometric[geometric == -1] = 0
        # Classes start at 1; 0 (void) wraps to 255, the ignore label.
        return (image,) + tuple((label.astype(np.uint8) - np.uint8(1))[np.newaxis] for label in (semantic, geometric))
