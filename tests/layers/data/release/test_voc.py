import random

import numpy as np
import pytest
import scipy.io
from PIL import Image

from core.net import Net
from netspec import FCNError, caffe_pb2
from tools.synthetic import write_dataset

MEAN = (104.00699, 116.66877, 122.67892)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    sbdd, voc = write_dataset(str(root), train=7, val=4, size=(30, 40))
    return sbdd, voc


def data_net(layer, params, phase="TRAIN"):
    net = caffe_pb2.NetParameter()
    python = net.layer.add(name="data", type="Python", top=["data", "label"]).python_param
    python.module, python.layer = "voc_layers", layer
    python.param_str = params if isinstance(params, str) else repr(params)
    return Net(net, phase)


def expected_image(path):
    rgb = np.array(Image.open(path), dtype=np.float32)
    return (rgb[:, :, ::-1] - np.array(MEAN, np.float32)).transpose(2, 0, 1)


def test_sbdd_train_order_follows_the_seed(dataset):
    sbdd, _ = dataset
    net = data_net("SBDDSegDataLayer", dict(sbdd_dir=sbdd, seed=1337, split="train", mean=MEAN))
    names = open(f"{sbdd}/train.txt").read().splitlines()
    order = random.Random(1337)
    expected = [order.randint(0, len(names) - 1) for _ in range(5)]
    for index in expected:
        out = net.forward()
        name = names[index]
        np.testing.assert_allclose(out["data"] if "data" in out else net.blobs["data"].data,
                                   expected_image(f"{sbdd}/img/{name}.jpg")[None], rtol=1e-6)
        label = scipy.io.loadmat(f"{sbdd}/cls/{name}.mat")["GTcls"][0]["Segmentation"][0]
        np.testing.assert_array_equal(net.blobs["label"].data[0, 0], label)


def test_voc_val_in_order_and_wraps(dataset):
    _, voc = dataset
    net = data_net("VOCSegDataLayer", dict(voc_dir=voc, seed=1337, split="seg11valid", mean=MEAN), "TEST")
    names = open(f"{voc}/ImageSets/Segmentation/seg11valid.txt").read().splitlines()
    for step in range(len(names) + 1):
        net.forward()
        name = names[step % len(names)]
        assert net.blobs["data"].shape == (1, 3, 30, 40)
        np.testing.assert_array_equal(net.blobs["label"].data[0, 0],
                                      np.array(Image.open(f"{voc}/SegmentationClass/{name}.png")))


def test_rewind_restarts_the_sequence(dataset):
    sbdd, _ = dataset
    net = data_net("SBDDSegDataLayer", dict(sbdd_dir=sbdd, seed=5, split="train", mean=MEAN))
    first = [net.forward() and net.blobs["label"].data.copy() for _ in range(3)]
    net.layers[0].impl.rewind()
    again = [net.forward() and net.blobs["label"].data.copy() for _ in range(3)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_missing_file_is_named(dataset, tmp_path):
    _, voc = dataset
    with pytest.raises(FCNError, match="cannot read split list .*nope.txt"):
        data_net("VOCSegDataLayer", dict(voc_dir=voc, split="nope", mean=MEAN))
    broken = tmp_path / "VOC"
    (broken / "ImageSets" / "Segmentation").mkdir(parents=True)
    (broken / "ImageSets" / "Segmentation" / "val.txt").write_text("gone\n")
    net_error = pytest.raises(FCNError, match="missing file .*gone.jpg")
    with net_error:
        data_net("VOCSegDataLayer", dict(voc_dir=str(broken), split="val", mean=MEAN)).forward()


def test_grayscale_and_rgba_images_become_rgb(dataset, tmp_path):
    _, voc = dataset
    root = tmp_path / "VOC"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    Image.fromarray(np.full((5, 6), 100, np.uint8)).save(root / "JPEGImages" / "g.jpg")
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(root / "SegmentationClass" / "g.png")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("g\n")
    net = data_net("VOCSegDataLayer", dict(voc_dir=str(root), split="val", mean=(0, 0, 0)), "TEST")
    net.forward()
    assert net.blobs["data"].shape == (1, 3, 5, 6)
    assert np.allclose(net.blobs["data"].data, 100, atol=2)


def test_param_str_is_never_evaluated():
    with pytest.raises(FCNError, match="not a Python literal"):
        data_net("VOCSegDataLayer", "__import__('os').system('false')")
