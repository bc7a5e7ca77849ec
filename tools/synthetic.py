"""A small synthetic segmentation set in the on-disk layouts of PASCAL VOC
2011 and SBD, so that the whole FCN recipe runs where the real data is not.

Each image has a textured background and a few objects of a handful of the
21 classes; each class has its own colour and stripe texture, so appearance
determines the class. Labels are palette PNGs (VOC) and GTcls .mat files
(SBD), with a 255 band on object borders as in VOC.
"""
import os

import numpy as np
from PIL import Image

from common.atomic import atomic_path, write_atomic
from common.images import save_image
from common.palette import pil_palette

CLASSES = (1, 3, 7, 8, 12, 15)       # aeroplane, bird, car, cat, dog, person


def _texture(rng, size, hue):
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / rng.uniform(2, 5))
    return np.clip(hue[None, None, :] + 30 * stripes[..., None] + rng.normal(0, 12, (h, w, 3)), 0, 255)


# A distinct colour and stripe period per class: what the net can learn.
STYLES = {1: ((210, 60, 50), 2), 3: ((60, 90, 215), 3), 7: ((230, 205, 40), 4),
          8: ((150, 60, 195), 2), 12: ((50, 195, 190), 3), 15: ((245, 140, 60), 5)}


def class_style(cls):
    colour, period = STYLES[cls]
    return np.array(colour, np.float64), period


def make_example(rng, size=(72, 88), objects=(1, 3)):
    h, w = size
    grey = rng.uniform(70, 150)
    image = _texture(rng, size, grey + rng.uniform(-15, 15, 3))
    label = np.zeros(size, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(rng.integers(objects[0], objects[1] + 1)):
        cls = int(rng.choice(CLASSES))
        colour, period = class_style(cls)
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        ry, rx = rng.uniform(0.12, 0.3) * h, rng.uniform(0.12, 0.3) * w
        if rng.random() < 0.5:
            mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            mask = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        pattern = colour[None, None, :] + 35 * np.sign(np.sin(xx / period))[..., None]
        image[mask] = np.clip(pattern[mask] + rng.normal(0, 8, (mask.sum(), 3)), 0, 255)
        label[mask] = cls
    border = np.zeros(size, bool)
    border[1:, :] |= label[1:, :] != label[:-1, :]
    border[:, 1:] |= label[:, 1:] != label[:, :-1]
    label[border] = 255
    return image.astype(np.uint8), label


def write_dataset(root, train=60, val=16, seed=0, size=(72, 88)):
    """data/sbdd/dataset/{img,cls,train.txt} and
    data/pascal/VOC2011/{JPEGImages,SegmentationClass,ImageSets/Segmentation/seg11valid.txt}."""
    rng = np.random.default_rng(seed)
    sbdd = os.path.join(root, "sbdd", "dataset")
    voc = os.path.join(root, "pascal", "VOC2011")
    for folder in (os.path.join(sbdd, "img"), os.path.join(sbdd, "cls"), os.path.join(voc, "JPEGImages"),
                   os.path.join(voc, "SegmentationClass"), os.path.join(voc, "ImageSets", "Segmentation")):
        os.makedirs(folder, exist_ok=True)
    import scipy.io  # 0.1 s to import, which every `fcn` command would pay
    names = []
    for i in range(train):
        name = f"2008_{i:06d}"
        image, label = make_example(rng, size)
        save_image(Image.fromarray(image), os.path.join(sbdd, "img", f"{name}.jpg"), quality=95)
        with atomic_path(os.path.join(sbdd, "cls", f"{name}.mat")) as tmp:
            scipy.io.savemat(tmp, {"GTcls": {"Segmentation": label, "Boundaries": np.zeros(1),
                                             "CategoriesPresent": np.unique(label)}})
        names.append(name)
    write_atomic(os.path.join(sbdd, "train.txt"), "\n".join(names) + "\n")
    names = []
    for i in range(val):
        name = f"2011_{i:06d}"
        image, label = make_example(rng, size)
        save_image(Image.fromarray(image), os.path.join(voc, "JPEGImages", f"{name}.jpg"), quality=95)
        png = Image.fromarray(label, mode="P")
        png.putpalette(pil_palette())
        save_image(png, os.path.join(voc, "SegmentationClass", f"{name}.png"))
        names.append(name)
    write_atomic(os.path.join(voc, "ImageSets", "Segmentation", "seg11valid.txt"), "\n".join(names) + "\n")
    return sbdd, voc
