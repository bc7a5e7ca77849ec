import os
import subprocess
import sys

from netspec import caffe_pb2, fcn_models, read_text
from tools.cli import main


def test_writes_published_layout(tmp_path):
    assert main(["nets", "--out", str(tmp_path), "voc-fcn8s", "siftflow-fcn16s"]) == 0
    assert sorted(os.listdir(tmp_path / "voc-fcn8s")) == ["deploy.prototxt", "solver.prototxt",
                                                           "train.prototxt", "val.prototxt"]
    assert sorted(os.listdir(tmp_path / "siftflow-fcn16s")) == ["deploy.prototxt", "solver.prototxt",
                                                                 "test.prototxt", "trainval.prototxt"]
    written = read_text(str(tmp_path / "voc-fcn8s" / "train.prototxt"), caffe_pb2.NetParameter())
    assert written == fcn_models.net("voc-fcn8s", "train")


def test_all_models_by_default(tmp_path):
    assert main(["nets", "--out", str(tmp_path)]) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(fcn_models.model_names(extras=True))


def test_unknown_model_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tools.cli", "nets", "--out", str(tmp_path), "voc-fcn4s"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown model 'voc-fcn4s'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not os.listdir(tmp_path)


def test_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "tools.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "nets" in result.stdout
