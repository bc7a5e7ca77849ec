"""tools/dump_caffe_blobs.py writes the reference layout; driven here
through the pycaffe compatibility package on Caffe's own inputs, checked
against what real Caffe wrote for them, and read back by fcn compare."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

from tests.conftest import REFERENCE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-train")


def test_dump_then_compare(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "compat"), ROOT]))
    out = tmp_path / "ref" / "blobs.h5"
    with h5py.File(f"{CASE}/blobs.h5", "r") as caffe:
        for name in ("data", "label"):
            np.save(tmp_path / f"{name}.npy", caffe[f"input/{name}"][...])
    dump = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dump_caffe_blobs.py"),
                           "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                           "--phase", "TRAIN", "--backward", "--input", f"data={tmp_path / 'data.npy'}",
                           "--input", f"label={tmp_path / 'label.npy'}", "--out", str(out)],
                          capture_output=True, text=True, env=env)
    assert dump.returncode == 0, dump.stderr
    with h5py.File(out, "r") as f, h5py.File(f"{CASE}/blobs.h5", "r") as caffe:
        assert set(f) == set(caffe)
        assert set(f["data"]) == set(caffe["data"]) and set(f["param_diff"]) == set(caffe["param_diff"])
        # What the dump wrote is what real Caffe wrote for the same inputs.
        for name in caffe["data"]:
            ours, theirs = f["data"][name][...], caffe["data"][name][...]
            assert ours.shape == theirs.shape, name
            assert np.abs(ours - theirs).max() <= 1e-4 * max(np.abs(theirs).max(), 1e-30), name
    meta = json.loads((tmp_path / "ref" / "meta.json").read_text())
    with open(f"{CASE}/meta.json") as f:
        assert meta["blob_order"] == json.load(f)["blob_order"]
    compare = subprocess.run([sys.executable, "-m", "tools.cli", "compare", "--model", f"{CASE}/net.prototxt",
                              "--weights", f"{CASE}/weights.caffemodel", "--reference", str(out), "--backward"],
                             capture_output=True, text=True, cwd=ROOT)
    assert compare.returncode == 0, compare.stdout[-1500:]
    assert "0 failed" in compare.stdout.splitlines()[-1]
    assert not list(tmp_path.glob("ref/.tmp-*")), "the dump writes through temporary files, renamed"
