"""The nets of the paper's tables that the release did not ship:
FCN-GoogLeNet and FCN-32s-fixed."""
import json
import os
import subprocess
import sys

import numpy as np

from core.net import Net
from netspec import fcn_models, read_net
from netspec import params as P
from netspec.prototxt import write_text
from tests.conftest import PUBLISHED
from tools.recipe import synthetic_nets
from tools.synthetic import write_dataset
from weights.caffemodel import copy_weights, save_weights

GOOGLENET = os.path.join(PUBLISHED, "ilsvrc-nets", "bvlc_googlenet", "deploy.prototxt")


def info(path_or_model, tmp_path):
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, "-m", "tools.cli", "info", str(path_or_model), "--json", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_googlenet_gives_the_tables_figures(tmp_path):
    """22 layers that learn, 6M parameters, stride 32; receptive field 715,
    and the table's 907 once BVLC's final 7x7 average pool is put back
    (715 + 6 x 32: the paper discards that pool, its table counts it)."""
    figures = info("voc-fcn-googlenet", tmp_path)
    assert figures["depth"] == 22 and round(figures["learnable_parameters"] / 1e6) == 6
    assert figures["receptive_field"] == 715 and figures["max_stride"] == 32
    with_pool = fcn_models.net("voc-fcn-googlenet", "deploy")
    assert [layer.name for layer in with_pool.layer[-3:]] == ["score_fr", "upscore", "score"]
    del with_pool.layer[-3:]            # back to the trunk
    pool = with_pool.layer.add(name="pool5/7x7_s1", type="Pooling", bottom=["inception_5b/output"],
                               top=["pool5/7x7_s1"])
    pool.pooling_param.pool, pool.pooling_param.kernel_size = P.Pooling.AVE, 7
    write_text(str(tmp_path / "with_pool.prototxt"), with_pool)
    assert info(tmp_path / "with_pool.prototxt", tmp_path)["receptive_field"] == 907


def test_googlenet_takes_bvlc_googlenet_weights_by_name(tmp_path):
    """Every layer of the FCN's trunk has the name and shape of BVLC's; the
    classifier (loss3/classifier) is left out, as Caffe leaves what the net lacks."""
    bvlc = Net(read_net(GOOGLENET), "TEST")
    rng = np.random.default_rng(0)
    for blobs in bvlc.params.values():
        for blob in blobs:
            blob.data[...] = rng.standard_normal(blob.shape)
    save_weights(bvlc, str(tmp_path / "bvlc_googlenet.caffemodel"))
    fcn = Net(fcn_models.net("voc-fcn-googlenet", "deploy"), "TEST")
    copy_weights(fcn, str(tmp_path / "bvlc_googlenet.caffemodel"))
    trunk = [name for name in fcn.params if name not in ("score_fr", "upscore")]
    assert len(trunk) == 57 and set(trunk) <= set(bvlc.params)
    for name in trunk:
        for mine, theirs in zip(fcn.params[name], bvlc.params[name]):
            assert mine.data.tobytes() == theirs.data.tobytes(), name


def test_each_trains_on_the_synthetic_set(tmp_path):
    """Two steps each: FCN-GoogLeNet and the max-unpooling decoder move every
    layer that learns; FCN-32s-fixed moves its score layer only."""
    from solvers.solver import Solver
    data = tmp_path / "data"
    write_dataset(str(data), train=3, val=2, size=(40, 48))
    for model, moving in (("voc-fcn-googlenet", None), ("voc-fcn32s-fixed", {"score_fr"}),
                          ("voc-fcn32s-unpool", None)):
        nets = synthetic_nets(str(data), widths={k: max(2, v // 8) for k, v in fcn_models.FULL_WIDTHS.items()},
                              model=model)
        param = fcn_models.solver(model)
        param.ClearField("train_net")
        param.ClearField("test_net")
        param.ClearField("test_iter")
        param.train_net_param.CopyFrom(nets["train"])
        param.base_lr, param.type, param.iter_size, param.snapshot = 1e-3, "Adam", 1, 0
        solver = Solver(param, model)
        before = {name: blobs[0].data.copy() for name, blobs in solver.net.params.items()}
        solver.step(2)
        changed = {name for name, blobs in solver.net.params.items() if not np.array_equal(blobs[0].data, before[name])}
        learning = {name for name, layer in zip(solver.net.layer_names, solver.net.layers)
                    if layer.blobs and all(spec.lr_mult for spec in layer.param.param)}
        assert changed == (moving if moving is not None else learning), model
        assert np.isfinite(solver.smoothed_loss)
