"""Images read as untrusted input and written through the atomic writer.

Read as the FCN release feeds them: RGB (grey and RGBA converted), then
float32, RGB to BGR, the mean subtracted, channels first. An image's pixel
count, from its header, is bounded before it is decoded: a small PNG can
declare 30000 x 30000 (a decompression bomb)."""
from __future__ import annotations

import re
from contextlib import contextmanager

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.atomic import atomic_path
from common.errors import FCNError

# Pillow's own warning threshold (89,478,485 pixels, 9459 x 9459): an FCN
# at that size would need over 100 GB of activations anyway.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


@contextmanager
def open_image(path: str):
    """A PIL image whose size has been checked, not yet decoded; any failure
    to read or decode it inside the block is a one-line error."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise FCNError(f"{path}: {width} x {height} = {width * height:,} pixels, more than the "
                               f"{MAX_PIXELS:,} an image may have here")
            yield image
    except FileNotFoundError:
        raise FCNError(f"{path}: no such image") from None
    except IsADirectoryError:
        raise FCNError(f"{path}: is a directory, not an image") from None
    except Image.DecompressionBombError as err:
        # Pillow refuses twice its limit while opening, before we see the size.
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        count = f"{int(pixels.group(1)):,} pixels" if pixels else "too many pixels"
        raise FCNError(f"{path}: {count}, more than the {MAX_PIXELS:,} an image may have here") from None
    except _UNREADABLE as err:
        raise FCNError(f"{path}: not a readable image ({err})") from None


def read_rgb(path: str) -> np.ndarray:
    """An image file as an H x W x 3 uint8 RGB array, or a one-line error."""
    with open_image(path) as image:
        return np.array(image.convert("RGB"))


def read_gray(path: str) -> np.ndarray:
    """An image file as H x W uint8 luma (colour converted)."""
    with open_image(path) as image:
        return np.array(image.convert("L"))


def read_array(path: str, dtype=np.uint8) -> np.ndarray:
    """An image's stored values as they are (a palette PNG's class indices,
    a 16-bit depth map), H x W."""
    with open_image(path) as image:
        return np.array(image, dtype=dtype)


def bgr_chw(rgb: np.ndarray, mean) -> np.ndarray:
    """C x H x W float32: BGR, minus the B,G,R mean."""
    bgr = rgb.astype(np.float32)[:, :, ::-1] - np.asarray(mean, np.float32)
    return np.ascontiguousarray(bgr.transpose(2, 0, 1))


def save_image(image: Image.Image, path: str, **options) -> None:
    """PNG or JPEG by the path's ending, through a temporary file."""
    kind = "JPEG" if path.lower().endswith((".jpg", ".jpeg")) else "PNG"
    with atomic_path(path) as tmp:
        image.save(tmp, format=kind, **options)
