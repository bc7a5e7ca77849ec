"""The release's vis.py: the VOC palette, class colours, the overlay."""
import numpy as np

from common.palette import make_palette  # noqa: F401  (the release's name)


def color_seg(seg, palette):
    """H x W class indices to H x W x 3 colours."""
    return palette[np.asarray(seg).flat].reshape(np.shape(seg) + (3,))


def vis_seg(img, seg, palette, alpha=0.5):
    """The colours blended over the image (H x W x 3 in [0, 255]) where the class is not 0."""
    vis = np.array(img, dtype=np.float32)
    seg = np.asarray(seg)
    mask = seg > 0
    vis[mask] *= 1.0 - alpha
    vis[mask] += alpha * palette[seg[mask].flat]
    return vis.astype(np.uint8)
