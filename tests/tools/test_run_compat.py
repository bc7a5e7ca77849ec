"""Scripts written against pycaffe, run unchanged by `fcn run` on the engine."""
import ast
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from netspec import caffe_pb2, fcn_models, read_text, write_text
from tests.conftest import PUBLISHED, REFERENCE
from tests.netspec.test_fcn_models import normalized
from tools.synthetic import write_dataset

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")


def fcn_run(script, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tools.cli", "run", os.path.join(SCRIPTS, script), *args],
                          capture_output=True, text=True, cwd=cwd)


def test_netspec_scripts_write_the_published_nets(tmp_path):
    for stride in (32, 16, 8):
        out = tmp_path / str(stride)
        out.mkdir()
        root = "../../data" if stride == 16 else "../data"     # as the release's folders have it
        result = fcn_run("voc_nets.py", str(stride), str(out), root)
        assert result.returncode == 0, result.stderr
        for split in ("train", "val"):
            ours = normalized(read_text(str(out / f"{split}.prototxt"), caffe_pb2.NetParameter()))
            published = read_text(os.path.join(PUBLISHED, f"voc-fcn{stride}s", f"{split}.prototxt"),
                                  caffe_pb2.NetParameter())
            assert ours == normalized(published), (stride, split)


def test_solve_script_trains_scores_snapshots_and_restores(tmp_path):
    data = tmp_path / "data"
    write_dataset(str(data), train=4, val=2, size=(40, 48))
    for split in ("train", "val"):
        net = fcn_models.net("voc-fcn8s", split, fcn_models.NARROW_WIDTHS)
        for layer in net.layer:
            if layer.type == "Python":
                params = ast.literal_eval(layer.python_param.param_str)
                key = "sbdd_dir" if "sbdd_dir" in params else "voc_dir"
                params[key] = str(data / ("sbdd/dataset" if key == "sbdd_dir" else "pascal/VOC2011"))
                layer.python_param.param_str = repr(params)
            elif layer.type == "Convolution":
                layer.convolution_param.weight_filler.type = "msra"
        write_text(str(tmp_path / f"{split}.prototxt"), net)
    solver = fcn_models.solver("voc-fcn8s")
    solver.base_lr, solver.test_iter[0], solver.snapshot_prefix = 1e-6, 2, "snapshot/train"
    write_text(str(tmp_path / "solver.prototxt"), solver)
    val = data / "pascal" / "VOC2011" / "ImageSets" / "Segmentation" / "seg11valid.txt"
    result = fcn_run("solve_voc.py", str(val), cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert [l for l in lines if "mean IU" in l][0].startswith(">>> Iteration 2 mean IU")
    assert [l for l in lines if "mean IU" in l][1].startswith(">>> Iteration 4 mean IU")
    labels = [np.array(Image.open(data / "pascal" / "VOC2011" / "SegmentationClass" / f"{name}.png"))
              for name in val.read_text().split()]
    assert f">>> Iteration 4 pixels {sum(int((l < 21).sum()) for l in labels)}" in lines   # all but 255s
    changed = [l for l in lines if l.startswith("changed:")][0].split()[1:]
    assert "conv1_1" in changed and "upscore8" not in changed     # frozen bilinear upsampling
    assert (tmp_path / "snapshot" / "train_iter_4.caffemodel").exists()
    assert "restored at 4" in lines


def test_infer_script_matches_fcn_infer(tmp_path):
    image = os.path.join(PUBLISHED, "demo", "image.jpg")
    deploy = tmp_path / "deploy.prototxt"
    net = read_text(f"{CASE}/net.prototxt", caffe_pb2.NetParameter())
    net.layer[0].ClearField("top")
    net.layer[0].top.append("data")
    del net.layer[0].input_param.shape[1]
    del net.layer[-1]                                  # the loss: no label here
    write_text(str(deploy), net)
    result = fcn_run("infer_voc.py", str(deploy), f"{CASE}/weights.caffemodel", image, str(tmp_path / "out.npy"))
    assert result.returncode == 0, result.stderr
    done = subprocess.run([sys.executable, "-m", "tools.cli", "infer", "--model", f"{CASE}/net.prototxt",
                           "--weights", f"{CASE}/weights.caffemodel", "--out", str(tmp_path), image],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.array(Image.open(tmp_path / "image.png")))
    # The same deploy net through pycaffe, on real Caffe's input: real Caffe's scores.
    import h5py
    with h5py.File(f"{CASE}/blobs.h5", "r") as f:
        np.save(tmp_path / "in.npy", f["input/data"][...])
        caffe_score = f["data/score"][...]
    result = fcn_run("forward_npy.py", str(deploy), f"{CASE}/weights.caffemodel", str(tmp_path / "in.npy"),
                     "score", str(tmp_path / "score.npy"))
    assert result.returncode == 0, result.stderr
    ours = np.load(tmp_path / "score.npy")
    assert ours.shape == caffe_score.shape
    assert np.abs(ours - caffe_score).max() <= 1e-4 * np.abs(caffe_score).max()


def test_script_errors_keep_their_exit_codes(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("import caffe\nnet = caffe.Net('missing.prototxt', caffe.TEST)\n")
    result = subprocess.run([sys.executable, "-m", "tools.cli", "run", str(script)], capture_output=True, text=True)
    assert result.returncode == 2 and "missing.prototxt" in result.stderr and "Traceback" not in result.stderr
    script.write_text("import sys\nsys.exit(3)\n")
    assert subprocess.run([sys.executable, "-m", "tools.cli", "run", str(script)]).returncode == 3
    missing = subprocess.run([sys.executable, "-m", "tools.cli", "run", str(tmp_path / "nope.py")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "nope.py: no such script" in missing.stderr


def test_scripts_end_the_normal_way_other_commands_at_once(tmp_path):
    """`fcn run` keeps a script's atexit handlers (the other commands end
    the process as soon as they return, their output flushed)."""
    marker = tmp_path / "atexit.txt"
    script = tmp_path / "at_exit.py"
    script.write_text("import atexit\n"
                      f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
                      "print('body')\n")
    result = subprocess.run([sys.executable, "-m", "tools.cli", "run", str(script)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "body\n" and marker.read_text() == "ran"
    info = subprocess.run([sys.executable, "-m", "tools.cli", "info", "voc-fcn8s"], capture_output=True, text=True)
    assert info.returncode == 0 and "fc6" in info.stdout and info.stdout.endswith("\n")
