"""fcn time and fcn info on every published net."""
import json
import os
import subprocess
import sys

import pytest

from netspec import fcn_models
from tests.conftest import REFERENCE
from tools.info import net_info
from tools.time import conv_gflop, time_net, timing_net

CASE = os.path.join(REFERENCE, "voc-fcn8s-narrow-test")
NETS = [(model, split) for model in fcn_models.model_names(extras=True) for split in (fcn_models.splits(model)[1], "deploy")]


def fcn(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("model,split", NETS)
def test_time_runs_every_net(model, split):
    net = timing_net(fcn_models.net(model, split, fcn_models.NARROW_WIDTHS), "TRAIN", (64, 64))
    result = time_net(net, 1)
    assert set(result["layers"]) == set(net.layer_names)
    assert result["forward_ms"] > 0 and conv_gflop(net) > 0
    assert (result["backward_ms"] > 0) == (split != "deploy")     # deploy nets have no loss


@pytest.mark.parametrize("model,split", NETS)
def test_info_describes_every_net(model, split, capsys, monkeypatch):
    monkeypatch.setattr(fcn_models, "net", lambda name, s, widths=None, _net=fcn_models.net: _net(name, split))
    net_info(model, (500, 500))
    out = capsys.readouterr().out
    assert "score" in out and "Convolution" in out and "parameters" in out


def test_time_cli_writes_json(tmp_path):
    out = tmp_path / "t.json"
    result = fcn("time", "--model", f"{CASE}/net.prototxt", "--iterations", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["forward_ms"] > 0 and report["backward_ms"] > 0
    assert report["layers"]["conv1_1"]["forward_ms"] > 0 and "upscore8" in report["layers"]
    assert abs(sum(t["forward_ms"] for t in report["layers"].values()) - report["forward_ms"]) \
        < 0.5 * report["forward_ms"]
    result = fcn("time", "--model", f"{CASE}/net.prototxt", "--iterations", "0")
    assert result.returncode == 2 and "--iterations" in result.stderr


def test_info_json_gives_the_papers_backbone_figures(tmp_path):
    """The paper's table: FCN-AlexNet 8 layers, 57M parameters, rf 355;
    FCN-VGG16 16, 134M, 404; both stride 32."""
    import json
    import subprocess
    import sys
    for model, depth, millions, rf in (("voc-fcn-alexnet", 8, 57, 355), ("voc-fcn32s", 16, 134, 404)):
        out = tmp_path / f"{model}.json"
        done = subprocess.run([sys.executable, "-m", "tools.cli", "info", model, "--json", str(out)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        figures = json.loads(out.read_text())
        assert figures["depth"] == depth and figures["receptive_field"] == rf and figures["max_stride"] == 32
        assert round(figures["learnable_parameters"] / 1e6) == millions
        assert figures["parameters"] > figures["learnable_parameters"]      # the frozen upsampling


def test_table_prints_the_papers_tables(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "tools.cli", "table", "--root", str(tmp_path), "--no-time"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    row = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines if line.startswith("| ")}
    assert row["conv. layers"] == ["8", "16", "22"] and row["parameters"] == ["57M", "134M", "6M"]
    assert row["rf size"] == ["355", "404", "715 (907 with the 7x7 average pool)"] and row["max stride"] == ["32"] * 3
    assert row["FCN-8s"][:4] == ["90.3", "75.9", "62.7", "83.2"] and "published" in row["FCN-8s"][4]
