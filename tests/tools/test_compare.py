import json
import os
import subprocess
import sys

from tests.conftest import REFERENCE

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-train")


def fcn(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True)


def test_compare_backward_writes_json(tmp_path):
    out = tmp_path / "r.json"
    result = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--reference", f"{CASE}/blobs.h5", "--phase", "TRAIN", "--backward", "--layerwise",
                 "--json", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "0 failed" in result.stdout.splitlines()[-1]
    report = json.loads(out.read_text())
    assert set(report) == {"data", "diff", "param_diff"}
    entry = report["param_diff"]["conv1_1/0"]
    assert entry["ok"] and entry["shape"] == [4, 3, 3, 3] and entry["rel_err"] <= 1e-3


def test_compare_fails_with_exit_1_on_wrong_weights():
    other = os.path.join(REFERENCE, "solver-voc-fcn8s-narrow", "snap_iter_6.caffemodel")
    result = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", other,
                 "--reference", f"{CASE}/blobs.h5", "--phase", "TRAIN")
    assert result.returncode == 1
    assert "FAIL" in result.stdout


def test_compare_bad_reference_is_one_line(tmp_path):
    bogus = tmp_path / "blobs.h5"
    bogus.write_bytes(b"not hdf5")
    result = fcn("compare", "--model", f"{CASE}/net.prototxt", "--weights", f"{CASE}/weights.caffemodel",
                 "--reference", str(bogus))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(bogus) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_shapes_cli_json(tmp_path):
    out = tmp_path / "s.json"
    result = fcn("shapes", "--model", "voc-fcn32s", "--size", "100x120", "--json", str(out))
    assert result.returncode == 0
    shapes = json.loads(out.read_text())
    assert shapes["score"] == [1, 21, 100, 120] and shapes["data"] == [1, 3, 100, 120]


def test_shapes_of_tiny_input_and_bad_input_spec():
    result = fcn("shapes", "--model", "voc-fcn32s", "--input", "data=1,3,1,1", "--input", "label=1,1,1,1")
    assert result.returncode == 0  # pad 100 keeps even a 1x1 image valid, as in Caffe
    assert any(line.split()[0] == "score" and line.endswith("1 x 21 x 1 x 1") for line in result.stdout.splitlines())
    bad = fcn("shapes", "--model", "voc-fcn32s", "--input", "data=1,3,0,5")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "positive" in bad.stderr


def test_bad_net_errors_are_one_line(tmp_path):
    cases = {
        "unknown.prototxt": ('layer { name: "a" type: "Input" top: "x" input_param { shape { dim: 1 } } } '
                             'layer { name: "b" type: "Frobnicate" bottom: "x" top: "y" }', "unknown type 'Frobnicate'"),
        "dangling.prototxt": ('layer { name: "b" type: "ReLU" bottom: "nowhere" top: "y" }', "'nowhere'"),
        "syntax.prototxt": ('layer { name: "b" type: ReLU }', "syntax.prototxt:1:"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = fcn("shapes", "--model", str(path))
        assert result.returncode == 2, name
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
