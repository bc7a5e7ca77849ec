"""tools/dump_caffe_blobs.py writes the reference layout; driven here
through the pycaffe compatibility package and read back by fcn compare."""
import json
import os
import subprocess
import sys

import h5py

from tests.conftest import REFERENCE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-train")


def test_dump_then_compare(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "compat"), ROOT]))
    out = tmp_path / "ref" / "blobs.h5"
    dump = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dump_caffe_blobs.py"),
                           "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                           "--phase", "TRAIN", "--backward", "--label", "label=21", "--out", str(out)],
                          capture_output=True, text=True, env=env)
    assert dump.returncode == 0, dump.stderr
    with h5py.File(out, "r") as f, h5py.File(f"{CASE}/blobs.h5", "r") as caffe:
        assert set(f) == set(caffe)
        assert set(f["data"]) == set(caffe["data"]) and set(f["param_diff"]) == set(caffe["param_diff"])
        labels = f["input/label"][...]
        assert set(labels.ravel()) <= set(range(21)) | {255}
    meta = json.loads((tmp_path / "ref" / "meta.json").read_text())
    with open(f"{CASE}/meta.json") as f:
        assert meta["blob_order"] == json.load(f)["blob_order"]
    compare = subprocess.run([sys.executable, "-m", "tools.cli", "compare", "--model", f"{CASE}/net.prototxt",
                              "--weights", f"{CASE}/weights.caffemodel", "--reference", str(out), "--backward"],
                             capture_output=True, text=True, cwd=ROOT)
    assert compare.returncode == 0, compare.stdout[-1500:]
    assert "0 failed" in compare.stdout.splitlines()[-1]
