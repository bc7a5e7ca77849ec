"""The release's other solve.py recipes, end to end on tiny sets in their
layouts with narrowed nets: SIFT Flow's two score heads, NYUD color-hha's
transplant of two base nets."""
import os

import numpy as np
import scipy.io
from PIL import Image

from core.net import Net
from netspec import fcn_models
from netspec.prototxt import write_text
from tools import recipe
from tools.cli import main
from weights.caffemodel import save_weights

RNG = np.random.default_rng(0)
NARROW = {k: 2 for k in recipe.SYNTHETIC_WIDTHS}
SIZE = (36, 44)


def write_model(root, model, test_iter=2):
    folder = root / model
    train, test = fcn_models.splits(model)
    for split in (train, test):
        write_text(str(folder / f"{split}.prototxt"), fcn_models.net(model, split, NARROW))
    solver = fcn_models.solver(model)
    solver.test_iter[0], solver.snapshot, solver.display = test_iter, 0, 1
    write_text(str(folder / "solver.prototxt"), solver)


def random_weights(root, model, split, path):
    net = Net(fcn_models.net(model, split, NARROW), "TEST")
    for blobs in net.params.values():
        for blob in blobs:
            blob.data[...] = RNG.standard_normal(blob.shape) * 0.01
    os.makedirs(os.path.dirname(root / path), exist_ok=True)
    save_weights(net, str(root / path))


def image(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, SIZE + (3,), dtype=np.uint8)).save(path)


def labels(path, key, low, high):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    scipy.io.savemat(path, {key: RNG.integers(low, high, SIZE).astype(np.int16)})


def test_siftflow_scores_both_heads(tmp_path, capsys):
    data = tmp_path / "data" / "sift-flow"
    sub = "spatial_envelope_256x256_static_8outdoorcategories"
    names = ["coast_a", "coast_b", "street_c"]
    for name in names:
        image(data / "Images" / sub / f"{name}.jpg")
        labels(data / "SemanticLabels" / sub / f"{name}.mat", "S", 0, 34)
        labels(data / "GeoLabels" / sub / f"{name}.mat", "S", -1, 4)
    (data / "trainval.txt").write_text("\n".join(names[:2]) + "\n")
    (data / "test.txt").write_text(names[2] + "\n")
    write_model(tmp_path, "siftflow-fcn32s", test_iter=1)
    random_weights(tmp_path, "siftflow-fcn32s", "deploy", "ilsvrc-nets/vgg16-fcn.caffemodel")
    assert main(["recipe", "siftflow-fcn32s", "--root", str(tmp_path), "--rounds", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("mean IU") == 2           # one seg test per head


def test_nyud_color_hha_transplants_base_nets(tmp_path, capsys):
    data = tmp_path / "data" / "nyud"
    for name in ("1", "2", "3"):
        image(data / "data" / "images" / f"img_{name}.png")
        image(data / "data" / "hha" / f"img_{name}.png")
        labels(data / "segmentation" / f"img_{name}.mat", "segmentation", 0, 41)
    (data / "trainval.txt").write_text("1\n2\n")
    (data / "test.txt").write_text("3\n")
    write_model(tmp_path, "nyud-fcn32s-color-hha", test_iter=1)
    for base in ("nyud-fcn32s-color", "nyud-fcn32s-hha"):
        write_model(tmp_path, base)
        random_weights(tmp_path, base, "deploy", f"{base}/{base}-heavy.caffemodel")
    assert main(["recipe", "nyud-fcn32s-color-hha", "--root", str(tmp_path), "--rounds", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "copying conv1_1 -> conv1_1color 0" in out and "copying conv1_1 -> conv1_1hha 0" in out
    assert "mean IU" in out


def test_missing_data_is_named(tmp_path, capsys):
    assert main(["recipe", "pascalcontext-fcn8s", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "missing" in out and "pascal-context" in out and "pascalcontext-fcn16s.caffemodel" in out
