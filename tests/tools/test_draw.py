import os
import re
import shutil
import subprocess
import sys

from netspec import fcn_models
from tests.conftest import REFERENCE

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")


def fcn(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True)


def test_every_layer_is_a_box_and_every_bottom_an_edge(tmp_path):
    out = tmp_path / "net.dot"
    assert fcn("draw", "voc-fcn8s", "--out", str(out)).returncode == 0
    dot = out.read_text()
    net = fcn_models.net("voc-fcn8s", "val")
    boxes = re.findall(r'^  layer\d+ \[label="([^"\\]+)\\n\(([^)]+)\)', dot, re.M)
    assert boxes == [(layer.name, layer.type) for layer in net.layer]
    assert len(re.findall(r" -> ", dot)) == sum(len(layer.bottom) for layer in net.layer)
    assert 'label="conv1_1\\n(Convolution)\\n64 out, kernel [3]\\nstride [1]\\npad [100]"' in dot
    assert '[label="fc6\\n1 x 4096 x 16 x 16"]' in dot     # shapes at 500x500 on the edges


def test_svg_with_graphviz_or_a_clear_error_without(tmp_path):
    out = tmp_path / "net.svg"
    result = fcn("draw", f"{CASE}/net.prototxt", "--out", str(out))
    if shutil.which("dot"):
        assert result.returncode == 0 and out.read_text().lstrip().startswith("<?xml")
    else:
        assert result.returncode == 2 and "Graphviz" in result.stderr and not out.exists()


def test_unknown_format_is_refused(tmp_path):
    result = fcn("draw", f"{CASE}/net.prototxt", "--out", str(tmp_path / "net.bmp"))
    assert result.returncode == 2 and ".dot, .svg or .png" in result.stderr
