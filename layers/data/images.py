"""Images as the FCN release feeds them: read as RGB (grey and RGBA
converted), then float32, RGB to BGR, the mean subtracted, channels first."""
import numpy as np
from PIL import Image, UnidentifiedImageError

from common.errors import FCNError


def read_rgb(path):
    """An image file as an H x W x 3 uint8 RGB array, or a one-line error."""
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except FileNotFoundError:
        raise FCNError(f"{path}: no such image") from None
    except IsADirectoryError:
        raise FCNError(f"{path}: is a directory, not an image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise FCNError(f"{path}: not a readable image ({err})") from None


def bgr_chw(rgb, mean):
    """C x H x W float32: BGR, minus the B,G,R mean."""
    bgr = rgb.astype(np.float32)[:, :, ::-1] - np.asarray(mean, np.float32)
    return np.ascontiguousarray(bgr.transpose(2, 0, 1))
