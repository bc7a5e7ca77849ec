"""The release's scripts as it ships them, with its Python 2 helper
modules: through `fcn run`, on Python 3. The files here are the tests' own,
written the release's way (print statements, xrange, the same imports)."""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from core.net import Net
from netspec import caffe_pb2, fcn_models, read_text, write_text
from tests.conftest import PUBLISHED, REFERENCE
from tools.synthetic import write_dataset
from weights.caffemodel import save_weights

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PY2_SCORE = """from __future__ import division
import numpy as np
from datetime import datetime

def fast_hist(a, b, n):
    k = (a >= 0) & (a < n)
    return np.bincount(n * a[k].astype(int) + b[k], minlength=n**2).reshape(n, n)

def seg_tests(solver, save_format, dataset, layer='score', gt='label'):
    print '>>>', datetime.now(), 'Begin seg tests'
"""
PY2_SURGERY = """import numpy as np

def interp(net, layers):
    for l in layers:
        print 'interpolating', l
"""
PY2_VIS = """import numpy as np

def make_palette(num_classes):
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for k in xrange(0, num_classes):
        label = k
        i = 0
        while label:
            palette[k, 0] |= (((label >> 0) & 1) << (7 - i))
            palette[k, 1] |= (((label >> 1) & 1) << (7 - i))
            palette[k, 2] |= (((label >> 2) & 1) << (7 - i))
            label >>= 3
            i += 1
    return palette

def color_seg(seg, palette):
    return palette[seg.flat].reshape(seg.shape + (3,))
"""
SOLVE = """import caffe
import surgery, score

import numpy as np
import os
import sys

try:
    import setproctitle
    setproctitle.setproctitle(os.path.basename(os.getcwd()))
except:
    pass

weights = '../voc-fcn16s/voc-fcn16s.caffemodel'

# init
caffe.set_device(int(sys.argv[1]))
caffe.set_mode_gpu()

solver = caffe.SGDSolver('solver.prototxt')
solver.net.copy_from(weights)

# surgeries
interp_layers = [k for k in solver.net.params.keys() if 'up' in k]
surgery.interp(solver.net, interp_layers)

# scoring
val = np.loadtxt('../data/segvalid11.txt', dtype=str)

for _ in range(2):
    solver.step(1)
    score.seg_tests(solver, False, val, layer='score')
"""
INFER = """import numpy as np
from PIL import Image

import caffe
import vis

# the demo image is "2007_000129" from PASCAL VOC

# load image, switch to BGR, subtract mean, and make dims C x H x W for Caffe
im = Image.open('demo/image.jpg')
in_ = np.array(im, dtype=np.float32)
in_ = in_[:,:,::-1]
in_ -= np.array((104.00698793,116.66876762,122.67891434))
in_ = in_.transpose((2,0,1))

# load net
net = caffe.Net('voc-fcn8s/deploy.prototxt', 'voc-fcn8s/fcn8s-heavy-pascal.caffemodel', caffe.TEST)
# shape for input (data blob is N x C x H x W), set data
net.blobs['data'].reshape(1, *in_.shape)
net.blobs['data'].data[...] = in_
# run net and take argmax for prediction
net.forward()
out = net.blobs['score'].data[0].argmax(axis=0)

# visualize segmentation in PASCAL VOC colors
voc_palette = vis.make_palette(21)
out_im = Image.fromarray(vis.color_seg(out, voc_palette))
out_im.save('demo/output.png')
masked_im = Image.fromarray(vis.vis_seg(im, out, voc_palette))
masked_im.save('demo/visualization.jpg')
"""


def fcn_run(script, *args, cwd, pythonpath):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pythonpath, ROOT]))
    return subprocess.run([sys.executable, "-m", "tools.cli", "run", script, *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


def test_solve_py_as_shipped(tmp_path):
    for name, text in (("score.py", PY2_SCORE), ("surgery.py", PY2_SURGERY)):
        (tmp_path / name).write_text(text)
    _, voc = write_dataset(str(tmp_path / "data"), train=3, val=2, size=(36, 44))
    names = open(f"{voc}/ImageSets/Segmentation/seg11valid.txt").read().split()
    (tmp_path / "data" / "segvalid11.txt").write_text("\n".join(names) + "\n")
    narrow = fcn_models.NARROW_WIDTHS
    model = tmp_path / "voc-fcn8s"
    for split in ("train", "val"):      # narrowed, with the release's ../data paths
        write_text(str(model / f"{split}.prototxt"), fcn_models.net("voc-fcn8s", split, narrow))
    solver = fcn_models.solver("voc-fcn8s")
    solver.snapshot = 0
    write_text(str(model / "solver.prototxt"), solver)
    base = Net(fcn_models.net("voc-fcn16s", "deploy", narrow), "TEST")
    rng = np.random.default_rng(0)
    for blobs in base.params.values():
        for blob in blobs:
            blob.data[...] = rng.standard_normal(blob.shape) * 0.01
    save_weights(base, str(tmp_path / "voc-fcn16s" / "voc-fcn16s.caffemodel"))
    (model / "solve.py").write_text(SOLVE)
    done = fcn_run("solve.py", "0", cwd=model, pythonpath=str(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stderr.count("score.py is Python 2") == 1 and done.stderr.count("surgery.py is Python 2") == 1
    lines = done.stdout.splitlines()
    assert sum("Begin seg tests" in line for line in lines) == 2
    for it in (1, 2):
        for key in ("loss", "overall accuracy", "mean accuracy", "mean IU", "fwavacc"):
            assert any(line.startswith(">>> ") and f" Iteration {it} {key} " in line for line in lines), (it, key)


def test_infer_py_as_shipped_writes_what_fcn_infer_does(tmp_path):
    (tmp_path / "vis.py").write_text(PY2_VIS)
    (tmp_path / "infer.py").write_text(INFER)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "image.jpg").write_bytes(open(os.path.join(PUBLISHED, "demo", "image.jpg"), "rb").read())
    deploy = read_text(f"{CASE}/net.prototxt", caffe_pb2.NetParameter())
    deploy.layer[0].ClearField("top")
    deploy.layer[0].top.append("data")
    del deploy.layer[0].input_param.shape[1]
    del deploy.layer[-1]
    write_text(str(tmp_path / "voc-fcn8s" / "deploy.prototxt"), deploy)
    (tmp_path / "voc-fcn8s" / "fcn8s-heavy-pascal.caffemodel").write_bytes(open(f"{CASE}/weights.caffemodel", "rb").read())
    done = fcn_run("infer.py", cwd=tmp_path, pythonpath=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "vis.py is Python 2" in done.stderr
    ours = subprocess.run([sys.executable, "-m", "tools.cli", "infer", "--model", f"{CASE}/net.prototxt",
                           "--weights", f"{CASE}/weights.caffemodel", "--out", str(tmp_path / "fcn"),
                           str(tmp_path / "demo" / "image.jpg")], capture_output=True, text=True, cwd=ROOT)
    assert ours.returncode == 0, ours.stderr
    labels = Image.open(tmp_path / "fcn" / "image.png")
    expected = np.array(labels.convert("RGB"))
    assert len(np.unique(np.array(labels))) > 1
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "demo" / "output.png")), expected)
    assert Image.open(tmp_path / "demo" / "visualization.jpg").size == labels.size
