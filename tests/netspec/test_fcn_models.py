"""Every published prototxt is reproduced by our NetSpec code."""
import ast
import os

import pytest

from netspec import caffe_pb2, fcn_models, read_text
from netspec.prototxt import format_message, parse_text
from tests.conftest import PUBLISHED


def normalized(net):
    """param_str compared as a Python literal: dict key order is Python 2's there."""
    for layer in net.layer:
        if layer.HasField("python_param"):
            value = ast.literal_eval(layer.python_param.param_str)
            layer.python_param.param_str = repr(sorted(value.items()))
    return net


CASES = [(model, name) for model in fcn_models.model_names()
         for name in sorted(os.listdir(os.path.join(PUBLISHED, model)))]


def test_every_model_has_published_files():
    assert len(fcn_models.model_names()) == 15
    assert len(CASES) == 15 * 3 + 1  # two nets and a solver each, plus voc-fcn8s's deploy


@pytest.mark.parametrize("model,filename", CASES)
def test_published_file_reproduced(model, filename):
    path = os.path.join(PUBLISHED, model, filename)
    split = filename.split(".")[0]
    if split == "solver":
        assert fcn_models.solver(model) == read_text(path, caffe_pb2.SolverParameter())
    else:
        ours = normalized(fcn_models.net(model, split))
        assert ours == normalized(read_text(path, caffe_pb2.NetParameter()))


@pytest.mark.parametrize("model", fcn_models.model_names())
def test_deploy_replaces_data_layer_with_input(model):
    deploy = fcn_models.net(model, "deploy")
    test_split = fcn_models.splits(model)[1]
    full = fcn_models.net(model, test_split)
    first = deploy.layer[0]
    assert first.type == "Input" and first.name == "input"
    for shape in first.input_param.shape:
        assert list(shape.dim)[0] == 1 and list(shape.dim)[2:] == [500, 500]
    assert all(layer.type not in ("SoftmaxWithLoss", "Dropout", "Python") for layer in deploy.layer)
    kept = [layer.name for layer in full.layer if layer.type not in ("SoftmaxWithLoss", "Dropout", "Python")]
    assert [layer.name for layer in deploy.layer[1:]] == kept


@pytest.mark.parametrize("model", fcn_models.model_names())
def test_generated_text_parses_back(model):
    for split in fcn_models.splits(model) + ("deploy",):
        net = fcn_models.net(model, split)
        assert parse_text(format_message(net), caffe_pb2.NetParameter()) == net


def test_narrow_widths_match_reference_net():
    ours = fcn_models.net("voc-fcn8s", "val", widths=fcn_models.NARROW_WIDTHS)
    conv = {layer.name: layer.convolution_param.num_output for layer in ours.layer
            if layer.type == "Convolution"}
    assert conv["conv1_1"] == 4 and conv["conv5_3"] == 32 and conv["fc7"] == 64 and conv["score_fr"] == 21


def test_unknown_model_and_split():
    from netspec import FCNError
    with pytest.raises(FCNError, match="unknown model"):
        fcn_models.net("voc-fcn4s", "train")
    with pytest.raises(FCNError, match="splits"):
        fcn_models.net("nyud-fcn32s-hha", "train")
