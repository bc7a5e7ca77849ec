"""`fcn infer`: the release's demo pipeline (infer.py) over any number of images.

Each image: loaded with Pillow as RGB (grayscale and RGBA converted), float32,
RGB to BGR, the mean subtracted, channels first; the net reshaped to it; one
forward pass; the argmax over the score blob's classes written as a palette
PNG in the VOC colours, and with --overlay the colours blended over the image
as the release's vis_seg does (background left as it is).
"""
import os
import threading

import numpy as np
from PIL import Image

from backends.cpu.kernels import relu_forward
from common.errors import FCNError
from common.images import bgr_chw, read_rgb, save_image
from common.palette import make_palette, pil_palette
from core.net import Net
from tools.netload import image_net
from tools.progress import progress
from weights.caffemodel import copy_weights

HELP = "segment images with a deploy net: palette PNGs of the class of every pixel"
# The release's infer.py mean, to all the digits it gives.
DEMO_MEAN = (104.00698793, 116.66876762, 122.67891434)
OVERLAY_ALPHA = 0.5


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="deploy prototxt (or a published model name)")
    parser.add_argument("--weights", required=True, help=".caffemodel or .caffemodel.h5")
    parser.add_argument("--out", default=".", help="folder for <image>.png (default: here)")
    parser.add_argument("--mean", help="B,G,R mean to subtract (default: the release's)")
    parser.add_argument("--blob", help="score blob (default: the net's last blob)")
    parser.add_argument("--overlay", action="store_true", help="also write <image>_overlay.jpg")
    parser.add_argument("images", nargs="+", metavar="IMAGE")


def parse_mean(text):
    if text is None:
        return np.array(DEMO_MEAN, np.float32)
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise FCNError(f"--mean {text!r}: expected three numbers B,G,R")
    return np.array(values, np.float32)


def input_blob(net):
    """The blob images go into: 'data' if the net has it, else its first input."""
    if "data" in net.blobs:
        return "data"
    if net.inputs:
        return net.inputs[0]
    raise FCNError(f"{net.source}: the net has no input blob to feed images into")


def segment(net, image, blob_in, blob_out):
    net.blobs[blob_in].reshape(1, *image.shape)
    net.blobs[blob_in].data[...] = image
    net.forward()
    score = net.blobs[blob_out].data
    if score.ndim != 4 or score.shape[0] != 1:
        raise FCNError(f"blob {blob_out!r} has shape {list(score.shape)}; a score blob is 1 x classes x H x W")
    return score[0].argmax(axis=0), score.shape[1]


def label_image(labels, classes):
    """A palette PNG image of class indices; 16-bit grey beyond 256 classes."""
    if classes > 256:
        return Image.fromarray(labels.astype(np.uint16))
    image = Image.fromarray(labels.astype(np.uint8), "P")
    image.putpalette(pil_palette(256))
    return image


def overlay(rgb, labels, classes, alpha=OVERLAY_ALPHA):
    """The release's vis_seg: colours blended over every non-background pixel."""
    palette = make_palette(max(classes, 1)).astype(np.float32)
    vis = rgb.astype(np.float32)
    mask = labels > 0
    vis[mask] *= 1.0 - alpha
    vis[mask] += alpha * palette[labels[mask]]
    return vis.astype(np.uint8)


def warm_up_numba():
    """numba's first call of any compiled kernel sets up LLVM (a quarter of
    a second), which releases the GIL: done on the side while the weights
    load, it is off the path of the first image."""
    one = np.zeros(1, np.float32)
    threading.Thread(target=relu_forward, args=(one, np.float32(0), one, 0, 1), daemon=True).start()


def run(args):
    mean = parse_mean(args.mean)
    warm_up_numba()
    net_param, source = image_net(args.model)
    net = Net(net_param, "TEST", source=source, options=args.options)
    copy_weights(net, args.weights)
    blob_in = input_blob(net)
    blob_out = args.blob or net.top_vecs[-1][-1].name
    if blob_out not in net.blobs:
        raise FCNError(f"--blob {blob_out!r} is not a blob of {args.model}")
    net.keep(blob_out)
    os.makedirs(args.out, exist_ok=True)
    for path in progress(args.images, "infer"):
        rgb = read_rgb(path)
        labels, classes = segment(net, bgr_chw(rgb, mean), blob_in, blob_out)
        stem = os.path.splitext(os.path.basename(path))[0]
        save_image(label_image(labels, classes), os.path.join(args.out, f"{stem}.png"))
        if args.overlay:
            save_image(Image.fromarray(overlay(rgb, labels, classes)), os.path.join(args.out, f"{stem}_overlay.jpg"),
                  quality=95)
    return 0
