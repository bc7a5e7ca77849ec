"""The PASCAL VOC colour palette: class k's colour spreads k's bits, three at
a time, over the high bits of R, G and B (the release's make_palette)."""
import numpy as np


def make_palette(num_classes):
    palette = np.zeros((num_classes, 3), np.uint8)
    for k in range(num_classes):
        label, bit = k, 0
        while label:
            for channel in range(3):
                palette[k, channel] |= ((label >> channel) & 1) << (7 - bit)
            label >>= 3
            bit += 1
    return palette


def pil_palette(num_classes=256):
    """A flat 768-entry palette for PIL 'P' images."""
    return make_palette(num_classes).ravel().tolist() + [0] * (768 - 3 * num_classes)
