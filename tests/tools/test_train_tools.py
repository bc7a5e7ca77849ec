"""fcn test, fcn score and the synthetic recipe, end to end on small inputs."""
import os
import shutil

import numpy as np
from PIL import Image

from netspec.prototxt import write_text
from solvers.score import fast_hist, metrics
from tests.conftest import REFERENCE
from tools import recipe
from tools.cli import main
from tools.netload import build_net
from tools.synthetic import write_dataset
from weights.caffemodel import save_weights


def test_fcn_test_averages_the_loss(tmp_path, monkeypatch, capsys):
    shutil.copytree(os.path.join(REFERENCE, "solver-voc-fcn8s-narrow"), tmp_path / "case")
    monkeypatch.chdir(tmp_path / "case")
    assert main(["test", "--model", "train.prototxt", "--weights", "init.caffemodel", "--iterations", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    batches = [float(line.split("=")[1]) for line in lines if line.startswith("Batch")]
    assert len(batches) == 4 and len(set(batches)) == 4       # four different images
    mean = float(lines[-1].split("=")[1].split("(")[0])       # "loss = 82509.8 (* 1 = 82509.8 loss)", as Caffe
    assert abs(mean - np.mean(batches)) <= 1e-5 * np.mean(batches)
    assert lines[-1].endswith(" loss)") and any(line.startswith("Loss: ") for line in lines)


def test_fcn_score_matches_an_independent_count(tmp_path, capsys):
    data = tmp_path / "data"
    write_dataset(str(data), train=2, val=3, size=(40, 48))
    val = recipe.synthetic_nets(str(data), widths={k: 2 for k in recipe.SYNTHETIC_WIDTHS})["val"]
    write_text(str(tmp_path / "val.prototxt"), val)
    net = build_net(str(tmp_path / "val.prototxt"), "TEST")
    rng = np.random.default_rng(0)
    for blobs in net.params.values():
        for blob in blobs:
            blob.data[...] = rng.standard_normal(blob.shape) * 0.1
    save_weights(net, str(tmp_path / "w.caffemodel"))
    out = tmp_path / "pred"
    assert main(["score", "--model", str(tmp_path / "val.prototxt"), "--weights", str(tmp_path / "w.caffemodel"),
                 "--save", str(out)]) == 0
    printed = capsys.readouterr().out
    names = (data / "pascal/VOC2011/ImageSets/Segmentation/seg11valid.txt").read_text().split()
    hist = np.zeros((21, 21), int)
    for name in names:
        prediction = np.array(Image.open(out / f"{name}.png"))
        truth = np.array(Image.open(data / "pascal/VOC2011/SegmentationClass" / f"{name}.png"))
        hist += fast_hist(truth, prediction, 21)
    expected = metrics(hist)["mean IU"]
    line = [l for l in printed.splitlines() if "mean IU" in l][0]
    assert abs(float(line.split()[-1]) - expected) < 1e-5


def test_synthetic_recipe_pipeline(tmp_path, capsys):
    parser_args = type("Args", (), dict(model="voc-fcn8s", root=str(tmp_path), weights=None, rounds=1,
                                        iterations=2, synthetic=True, solver_type="Adam", base_lr=1e-3))()
    code = recipe.run(parser_args)
    out = capsys.readouterr().out
    assert code == 1 and "did not learn" in out           # two steps cannot learn: the check says so
    assert "SYNTHETIC" in out and "mean IU" in out
    picture = Image.open(tmp_path / "build/synthetic/voc-fcn8s/demo.png")
    assert picture.width == 2 * 3 * 88 and picture.height == 2 * 4 * 72


def test_synthetic_recipe_learns(tmp_path, capsys):
    """The main job's synthetic run, shortened (120 of 600 steps): mean IU
    from the seg tests (scored against the ground-truth PNGs by an
    independent count in test_fcn_score_matches_an_independent_count) rises
    from below chance to far above it."""
    args = type("Args", (), dict(model="voc-fcn8s", root=str(tmp_path), weights=None, rounds=1,
                                 iterations=120, synthetic=True, solver_type="Adam", base_lr=1e-3))()
    assert recipe.run(args) == 0
    out = capsys.readouterr().out
    line = [l for l in out.splitlines() if l.startswith("mean IU:")][0]
    before, after = (float(word.rstrip(",")) for word in line.split()[2:5:2])
    chance = 1 / 7
    assert before < chance and after > 4 * chance, line


def test_published_recipe_on_real_layout(tmp_path, capsys):
    """The real-data branch, end to end: data in the release's layout under
    data/, the model folder with its nets (narrowed here to stay fast) and the
    voc-fcn16s weights that solve.py starts from."""
    from core.net import Net
    from netspec import fcn_models
    from netspec.prototxt import write_text as write
    write_dataset(str(tmp_path / "data"), train=3, val=2, size=(40, 48))
    narrow = {k: 2 for k in recipe.SYNTHETIC_WIDTHS}
    model = tmp_path / "voc-fcn8s"
    for split in ("train", "val"):
        write(str(model / f"{split}.prototxt"), fcn_models.net("voc-fcn8s", split, narrow))
    solver = fcn_models.solver("voc-fcn8s")
    solver.test_iter[0], solver.snapshot, solver.display = 2, 0, 1
    write(str(model / "solver.prototxt"), solver)
    base = Net(fcn_models.net("voc-fcn16s", "deploy", narrow), "TEST")
    rng = np.random.default_rng(0)
    for blobs in base.params.values():
        for blob in blobs:
            blob.data[...] = rng.standard_normal(blob.shape) * 0.01
    (tmp_path / "voc-fcn16s").mkdir()
    save_weights(base, str(tmp_path / "voc-fcn16s" / "voc-fcn16s.caffemodel"))
    assert main(["recipe", "voc-fcn8s", "--root", str(tmp_path), "--rounds", "2", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("mean IU") == 2 and "Iteration 2 mean IU" in out and "SYNTHETIC" not in out
