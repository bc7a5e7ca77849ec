import glob
import os

import numpy as np
import pytest

from netspec import FCNError, caffe_pb2, read_net, read_text
from netspec.prototxt import format_float32, format_message, parse_text
from tests.conftest import PUBLISHED, REFERENCE


@pytest.mark.parametrize("value,text", [(1e-4, "0.0001"), (1.0, "1"), (1e-14, "1e-14"), (0.5, "0.5"),
                                        (5e-4, "0.0005"), (0.99, "0.99"), (-2.0, "-2"), (1e20, "1e+20"),
                                        (104.00699, "104.00699"), (float("inf"), "inf")])
def test_float32_shortest_form(value, text):
    assert format_float32(value) == text


def test_float32_form_reads_back_exactly():
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(2000) * 10.0 ** rng.integers(-20, 20, 2000)).astype(np.float32)
    for value in values:
        assert np.float32(format_float32(float(value))) == value


PROTOTXTS = sorted(glob.glob(os.path.join(PUBLISHED, "*", "*.prototxt")))


@pytest.mark.parametrize("path", PROTOTXTS, ids=lambda p: os.path.relpath(p, PUBLISHED))
def test_parse_write_parse_is_identity(path):
    kind = caffe_pb2.SolverParameter if path.endswith("solver.prototxt") else caffe_pb2.NetParameter
    first = read_text(path, kind())
    text = format_message(first)
    assert parse_text(text, kind()) == first
    assert "9.99999" not in text and ".0\n" not in text


def test_layout_is_caffes():
    net = parse_text('layer { name: "c" type: "Convolution" param { lr_mult: 1 } '
                     'convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "xavier" } } }',
                     caffe_pb2.NetParameter())
    assert format_message(net) == (
        'layer {\n  name: "c"\n  type: "Convolution"\n  param {\n    lr_mult: 1\n  }\n'
        '  convolution_param {\n    num_output: 2\n    kernel_size: 3\n    weight_filler {\n'
        '      type: "xavier"\n    }\n  }\n}\n')


def test_strings_with_escapes_round_trip():
    net = caffe_pb2.NetParameter(name='a "quoted"\nname\t\\ é')
    assert parse_text(format_message(net), caffe_pb2.NetParameter()) == net


def test_comments_enums_and_repeated_fields():
    text = """# a comment
    layer { name: "p" type: "Pooling"  # trailing comment
      pooling_param { pool: AVE kernel_size: 3 }
      bottom: "a" bottom: "b" }"""
    net = parse_text(text, caffe_pb2.NetParameter())
    assert net.layer[0].pooling_param.pool == caffe_pb2.PoolingParameter.AVE
    assert list(net.layer[0].bottom) == ["a", "b"]


@pytest.mark.parametrize("text,expected", [
    ('layer { name: "a" typo: "b" }', "f.prototxt:1:19: .*typo"),
    ('layer {\n  name: "a"\n  pooling_param { pool: MEDIAN }\n}', "f.prototxt:3:25: .*MEDIAN"),
    ('layer { name: "a" ', "f.prototxt:1:.*"),
    ('layer { name: 3 }', "f.prototxt:1:15: "),
])
def test_syntax_errors_name_file_line_column(text, expected):
    with pytest.raises(FCNError, match=expected):
        parse_text(text, caffe_pb2.NetParameter(), "f.prototxt")


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(FCNError, match="no such file"):
        read_net(str(tmp_path / "missing.prototxt"))


CAFFEMODELS = sorted(glob.glob(os.path.join(REFERENCE, "*", "*.caffemodel")))
STATES = sorted(glob.glob(os.path.join(REFERENCE, "*", "*.solverstate")))


@pytest.mark.parametrize("path", CAFFEMODELS + STATES, ids=lambda p: os.path.relpath(p, REFERENCE))
def test_binary_round_trip_is_byte_identical(path):
    with open(path, "rb") as f:
        raw = f.read()
    kind = caffe_pb2.SolverState if path.endswith(".solverstate") else caffe_pb2.NetParameter
    message = kind()
    message.ParseFromString(raw)
    assert message.SerializeToString() == raw
