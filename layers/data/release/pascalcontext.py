"""PASCAL-Context on VOC2010 images, 59 classes (or the full 400): the
`pascalcontext_layers` module. The 400 labels are mapped to the 59-class task
by name, with the release's three renamings."""
import os

import numpy as np

from layers.data.release.base import SegDataLayer

MEAN_BGR = (104.007, 116.669, 122.679)
RENAMED = {"diningtable": "table", "bedcloth": "bedclothes", "clothes": "cloth"}


def read_labels(path):
    """'index: name' lines -> names, spaces removed, in file order."""
    names = []
    with open(path) as f:
        for line in f:
            if ":" in line:
                names.append(line.split(":", 1)[1].strip().replace(" ", ""))
    return names


class PASCALContextSegDataLayer(SegDataLayer):
    required = ("voc_dir", "context_dir", "split")

    def configure(self, params, top):
        if len(top) != 2:
            raise self.error("needs two tops: data and label")
        self.voc = os.path.join(params["voc_dir"], "VOC2010")
        self.root, self.split = params["context_dir"], params["split"]
        self.classes = params.get("classes", 59)
        if self.classes not in (59, 400):
            raise self.error(f"classes must be 59 or 400, got {self.classes!r}")
        try:
            labels_400 = read_labels(os.path.join(self.root, "labels.txt"))
            labels_59 = [RENAMED.get(n, n) for n in read_labels(os.path.join(self.root, "59_labels.txt"))]
        except OSError as err:
            raise self.error(f"cannot read the label lists in {self.root}: {err.strerror}") from None
        try:
            # Class k of the 59 is label index (position in the 400 list + 1).
            self.lookup = np.zeros(len(labels_400) + 1, np.uint8)
            for k, name in enumerate(labels_59, 1):
                self.lookup[labels_400.index(name) + 1] = k
        except ValueError as err:
            raise self.error(f"59-class name missing from labels.txt: {err}") from None

    def split_file(self):
        return os.path.join(self.voc, "ImageSets", "Main", f"{self.split}.txt")

    def load(self, name):
        image = self.load_bgr(os.path.join(self.voc, "JPEGImages", f"{name}.jpg"), MEAN_BGR)
        full = self.load_mat(os.path.join(self.root, "trainval", f"{name}.mat"), "LabelMap")
        if self.classes == 400:
            return image, full.astype(np.uint16).astype(np.float32)[np.newaxis]
        full = np.clip(full, 0, len(self.lookup) - 1)
        return image, self.lookup[full][np.newaxis]
