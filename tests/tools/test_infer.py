"""fcn infer: the demo pipeline, checked piece by piece against our own math."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from common.images import bgr_chw
from core.net import Net
from netspec import read_net
from tests.conftest import PUBLISHED, REFERENCE
from tools.infer import overlay
from weights.caffemodel import copy_weights

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")
DEMO = os.path.join(PUBLISHED, "demo", "image.jpg")
MEAN = np.array([104.00698793, 116.66876762, 122.67891434])


def fcn(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True)


def voc_colour(k):
    """The VOC devkit's colour map, bit by bit: bit j of k's every third
    bit goes to bit 7 - j of R, G or B."""
    r = g = b = 0
    for j in range(8):
        r |= ((k >> (3 * j)) & 1) << (7 - j)
        g |= ((k >> (3 * j + 1)) & 1) << (7 - j)
        b |= ((k >> (3 * j + 2)) & 1) << (7 - j)
    return r, g, b


def engine_argmax(rgb):
    """The full net (with its loss) on the image, fed by hand; the same net
    first gives real Caffe's scores on Caffe's own input."""
    import h5py
    net = Net(read_net(f"{CASE}/net.prototxt"), "TEST", keep_blobs=True)
    copy_weights(net, f"{CASE}/weights.caffemodel")
    with h5py.File(f"{CASE}/blobs.h5", "r") as f:
        net.forward(data=f["input/data"][...], label=f["input/label"][...])
        caffe_score = f["data/score"][...]
    assert np.abs(net.blobs["score"].data - caffe_score).max() <= 1e-4 * np.abs(caffe_score).max()
    bgr = rgb[:, :, ::-1].astype(np.float64) - MEAN
    h, w = rgb.shape[:2]
    net.blobs["data"].reshape(1, 3, h, w)
    net.blobs["label"].reshape(1, 1, h, w)
    net.forward(data=bgr.transpose(2, 0, 1)[None], label=np.zeros((1, 1, h, w)))
    return net.blobs["score"].data[0].argmax(axis=0)


def test_demo_image_labels_equal_the_engines_argmax(tmp_path):
    result = fcn("infer", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--out", str(tmp_path), "--overlay", DEMO)
    assert result.returncode == 0, result.stderr
    written = Image.open(tmp_path / "image.png")
    rgb = np.array(Image.open(DEMO).convert("RGB"))
    assert written.mode == "P" and written.size == (rgb.shape[1], rgb.shape[0])
    labels = np.array(written)
    np.testing.assert_array_equal(labels, engine_argmax(rgb))
    assert len(np.unique(labels)) > 1
    palette = np.array(written.getpalette()[:768]).reshape(256, 3)
    assert [tuple(palette[k]) for k in range(256)] == [voc_colour(k) for k in range(256)]
    vis = Image.open(tmp_path / "image_overlay.jpg")
    assert vis.size == written.size and vis.mode == "RGB"


def test_preprocessing_is_bgr_minus_mean_channels_first():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = bgr_chw(rgb, MEAN.astype(np.float32))
    assert out.shape == (3, 5, 7) and out.dtype == np.float32
    for c in range(3):
        np.testing.assert_allclose(out[c], rgb[:, :, 2 - c] - MEAN[c], atol=1e-4)


def test_overlay_blends_foreground_and_keeps_background():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, (4, 6))
    vis = overlay(rgb, labels, 21)
    for y, x in np.ndindex(labels.shape):
        if labels[y, x] == 0:
            assert tuple(vis[y, x]) == tuple(rgb[y, x])
        else:
            expected = 0.5 * rgb[y, x] + 0.5 * np.array(voc_colour(labels[y, x]))
            assert np.abs(vis[y, x] - expected).max() <= 1


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grayscale_and_rgba_images_are_segmented(tmp_path, mode):
    path = tmp_path / f"in_{mode}.png"
    Image.open(DEMO).convert(mode).resize((60, 40)).save(path)
    result = fcn("infer", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--out", str(tmp_path / "out"), str(path))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out" / f"in_{mode}.png").size == (60, 40)


@pytest.mark.parametrize("content,message", [(None, "no such image"), (b"not an image", "not a readable image"),
                                             (b"\x89PNG\r\n\x1a\n\x00\x00", "not a readable image")])
def test_bad_images_are_one_line(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    result = fcn("infer", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--out", str(tmp_path), str(path))
    assert result.returncode == 2
    assert "bad.png" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unknown_score_blob_and_bad_mean(tmp_path):
    base = ["infer", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
            "--out", str(tmp_path)]
    result = fcn(*base, "--blob", "nope", DEMO)
    assert result.returncode == 2 and "'nope'" in result.stderr
    result = fcn(*base, "--mean", "1,2", DEMO)
    assert result.returncode == 2 and "--mean" in result.stderr
