"""PASCAL VOC (JPEGImages, palette PNG SegmentationClass) and SBD (img,
cls/*.mat with GTcls.Segmentation): the `voc_layers` module of the release."""
import os

import numpy as np

from layers.data.release.base import SegDataLayer


class VOCSegDataLayer(SegDataLayer):
    required = ("voc_dir", "split", "mean")

    def configure(self, params, top):
        if len(top) != 2:
            raise self.error("needs two tops: data and label")
        self.root, self.split, self.mean = params["voc_dir"], params["split"], params["mean"]

    def split_file(self):
        return os.path.join(self.root, "ImageSets", "Segmentation", f"{self.split}.txt")

    def load(self, name):
        return (self.load_bgr(os.path.join(self.root, "JPEGImages", f"{name}.jpg"), self.mean),
                self.load_png_label(os.path.join(self.root, "SegmentationClass", f"{name}.png")))


class SBDDSegDataLayer(SegDataLayer):
    required = ("sbdd_dir", "split", "mean")

    def configure(self, params, top):
        if len(top) != 2:
            raise self.error("needs two tops: data and label")
        self.root, self.split, self.mean = params["sbdd_dir"], params["split"], params["mean"]

    def split_file(self):
        return os.path.join(self.root, f"{self.split}.txt")

    def load(self, name):
        image = self.load_bgr(os.path.join(self.root, "img", f"{name}.jpg"), self.mean)
        mat = self.load_mat(os.path.join(self.root, "cls", f"{name}.mat"), "GTcls")
        try:
            label = mat[0]["Segmentation"][0].astype(np.uint8)
        except (IndexError, KeyError, ValueError):
            raise self.error(f"{self.root}/cls/{name}.mat: GTcls has no Segmentation") from None
        return image, label[np.newaxis]
