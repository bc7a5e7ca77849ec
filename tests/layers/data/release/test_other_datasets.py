"""NYUD, SIFT Flow and PASCAL-Context layers on tiny sets in their layouts."""
import numpy as np
import scipy.io
from PIL import Image

from core.net import Net
from netspec import caffe_pb2

RNG = np.random.default_rng(0)


def data_net(module, layer, tops, params, phase="TEST"):
    net = caffe_pb2.NetParameter()
    python = net.layer.add(name="data", type="Python", top=tops).python_param
    python.module, python.layer, python.param_str = module, layer, repr(params)
    return Net(net, phase)


def rgb(path, size=(6, 7)):
    array = RNG.integers(0, 256, size + (3,), dtype=np.uint8)
    Image.fromarray(array).save(path)
    return array


def bgr_minus(array, mean):
    return (array[:, :, ::-1].astype(np.float32) - np.float32(mean)).transpose(2, 0, 1)


def test_nyud_color_depth_hha_label(tmp_path):
    for sub in ("data/images", "data/depth", "data/hha", "segmentation"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "test.txt").write_text("5001\n")
    color = rgb(tmp_path / "data/images/img_5001.png")
    hha = rgb(tmp_path / "data/hha/img_5001.png")
    depth = RNG.integers(500, 4000, (6, 7)).astype(np.uint16)
    Image.fromarray(depth).save(tmp_path / "data/depth/img_5001.png")
    segmentation = RNG.integers(0, 41, (6, 7)).astype(np.uint16)
    scipy.io.savemat(tmp_path / "segmentation/img_5001.mat", {"segmentation": segmentation})
    net = data_net("nyud_layers", "NYUDSegDataLayer", ["color", "depth", "hha", "label"],
                   dict(nyud_dir=str(tmp_path), split="test", tops=["color", "depth", "hha", "label"], seed=1337))
    net.forward()
    np.testing.assert_allclose(net.blobs["color"].data[0], bgr_minus(color, (116.190, 97.203, 92.318)), rtol=1e-6)
    np.testing.assert_allclose(net.blobs["hha"].data[0],
                               (hha.astype(np.float32) - np.float32((132.431, 94.076, 118.477))).transpose(2, 0, 1))
    np.testing.assert_allclose(net.blobs["depth"].data[0, 0], np.log(depth.astype(np.float32)) - np.float32(7.844),
                               rtol=1e-5)
    expected = segmentation.astype(np.int64) - 1
    expected[expected < 0] = 255          # unlabeled becomes the ignore label
    np.testing.assert_array_equal(net.blobs["label"].data[0, 0], expected)


def test_siftflow_semantic_and_geometric(tmp_path):
    sub = "spatial_envelope_256x256_static_8outdoorcategories"
    for folder in ("Images", "SemanticLabels", "GeoLabels"):
        (tmp_path / folder / sub).mkdir(parents=True)
    (tmp_path / "test.txt").write_text("coast_a1\n")
    image = rgb(tmp_path / "Images" / sub / "coast_a1.jpg")
    semantic = RNG.integers(0, 34, (6, 7)).astype(np.int16)
    geometric = RNG.integers(-1, 4, (6, 7)).astype(np.int16)
    scipy.io.savemat(tmp_path / "SemanticLabels" / sub / "coast_a1.mat", {"S": semantic})
    scipy.io.savemat(tmp_path / "GeoLabels" / sub / "coast_a1.mat", {"S": geometric})
    net = data_net("siftflow_layers", "SIFTFlowSegDataLayer", ["data", "sem", "geo"],
                   dict(siftflow_dir=str(tmp_path), split="test", seed=1337))
    net.forward()
    decoded = np.array(Image.open(tmp_path / "Images" / sub / "coast_a1.jpg"))
    np.testing.assert_allclose(net.blobs["data"].data[0], bgr_minus(decoded, (114.578, 115.294, 108.353)))
    sem = semantic.astype(np.int64) - 1
    sem[sem < 0] = 255
    geo = np.where(geometric == -1, 0, geometric).astype(np.int64) - 1
    geo[geo < 0] = 255
    np.testing.assert_array_equal(net.blobs["sem"].data[0, 0], sem)
    np.testing.assert_array_equal(net.blobs["geo"].data[0, 0], geo)
    assert image.shape[:2] == net.blobs["data"].shape[2:]


def test_pascalcontext_maps_400_to_59(tmp_path):
    voc = tmp_path / "pascal" / "VOC2010"
    (voc / "JPEGImages").mkdir(parents=True)
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    context = tmp_path / "context"
    (context / "trainval").mkdir(parents=True)
    (context / "labels.txt").write_text("1: accordion\n2: aeroplane\n3: table\n4: zebra\n5: bedclothes\n")
    (context / "59_labels.txt").write_text("1: aeroplane\n2: diningtable\n3: bedcloth\n")
    (voc / "ImageSets" / "Main" / "val.txt").write_text("2008_000002\n")
    rgb(voc / "JPEGImages" / "2008_000002.jpg")
    full = np.array([[0, 1, 2], [3, 4, 5]], np.uint16)
    scipy.io.savemat(context / "trainval" / "2008_000002.mat", {"LabelMap": full})
    params = dict(voc_dir=str(tmp_path / "pascal"), context_dir=str(context), split="val", seed=1337)
    net = data_net("pascalcontext_layers", "PASCALContextSegDataLayer", ["data", "label"], params)
    net.forward()
    # aeroplane (2) -> 1, table (3, renamed from diningtable) -> 2, bedclothes (5) -> 3, the rest -> 0
    np.testing.assert_array_equal(net.blobs["label"].data[0, 0], [[0, 0, 1], [2, 0, 3]])
    net400 = data_net("pascalcontext_layers", "PASCALContextSegDataLayer", ["data", "label"], dict(params, classes=400))
    net400.forward()
    np.testing.assert_array_equal(net400.blobs["label"].data[0, 0], full)
