import sys
import textwrap

import h5py
import numpy as np
import pytest

from core.net import Net
from netspec import FCNError, caffe_pb2, parse_text


def write_h5(folder, name, rows, offset):
    path = folder / name
    with h5py.File(path, "w") as f:
        f["data"] = (np.arange(rows * 2, dtype=np.float32).reshape(rows, 2) + offset)
        f["label"] = np.arange(rows, dtype=np.float32).reshape(rows, 1) + offset
    return path


def test_hdf5_data_reads_rows_in_order_across_files_and_wraps(tmp_path):
    a = write_h5(tmp_path, "a.h5", 3, 0)
    b = write_h5(tmp_path, "b.h5", 2, 100)
    source = tmp_path / "list.txt"
    source.write_text(f"{a}\n{b}\n")
    net = Net(parse_text(f'layer {{ name: "d" type: "HDF5Data" top: "data" top: "label" '
                         f'hdf5_data_param {{ source: "{source}" batch_size: 2 }} }}',
                         caffe_pb2.NetParameter()), "TRAIN")
    seen = []
    for _ in range(4):
        out = net.forward()
        assert out["data"].shape == (2, 2)
        seen.extend(out["label"][:, 0].tolist())
    assert seen == [0, 1, 2, 100, 101, 0, 1, 2]


def test_hdf5_data_missing_source_names_it(tmp_path):
    with pytest.raises(FCNError, match="missing.txt"):
        Net(parse_text(f'layer {{ name: "d" type: "HDF5Data" top: "data" '
                       f'hdf5_data_param {{ source: "{tmp_path}/missing.txt" batch_size: 1 }} }}',
                       caffe_pb2.NetParameter()), "TRAIN")


def test_input_layer_shapes():
    net = Net(parse_text('layer { name: "i" type: "Input" top: "a" top: "b" '
                         'input_param { shape { dim: 1 dim: 2 } shape { dim: 3 } } }',
                         caffe_pb2.NetParameter()))
    assert net.blobs["a"].shape == (1, 2) and net.blobs["b"].shape == (3,)


PLUGIN = textwrap.dedent('''
    import ast
    import numpy as np
    from core.layer import Layer

    class Doubler(Layer):
        bottoms = (1, 1)
        def setup(self, bottom, top):
            self.factor = ast.literal_eval(self.param_str)["factor"]
        def reshape(self, bottom, top):
            top[0].reshape(bottom[0].shape)
        def forward(self, bottom, top):
            top[0].data[...] = bottom[0].data * self.factor
        def backward(self, top, propagate_down, bottom):
            bottom[0].diff[...] = top[0].diff * self.factor

    class Plain:
        def setup(self, bottom, top):
            pass
        def reshape(self, bottom, top):
            top[0].reshape(bottom[0].shape)
        def forward(self, bottom, top):
            top[0].data[...] = bottom[0].data + 1
        def backward(self, top, propagate_down, bottom):
            pass
''')

NET = ('layer {{ name: "i" type: "Input" top: "x" input_param {{ shape {{ dim: 2 dim: 3 }} }} }} '
       'layer {{ name: "p" type: "Python" bottom: "x" top: "y" '
       'python_param {{ module: "{module}" layer: "{layer}" param_str: "{{\'factor\': 3}}" }} }}')


def test_python_layers_from_sys_path(tmp_path, monkeypatch):
    (tmp_path / "my_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    for layer, expected in (("Doubler", 3.0), ("Plain", 2.0)):
        net = Net(parse_text(NET.format(module="my_plugin", layer=layer), caffe_pb2.NetParameter()))
        out = net.forward(x=np.ones((2, 3), np.float32))
        np.testing.assert_array_equal(out["y"], np.full((2, 3), expected))
    sys.modules.pop("my_plugin", None)


@pytest.mark.parametrize("module,layer,message", [("no_such_module_x", "L", "cannot import module"),
                                                  ("json", "NoSuchClass", "has no layer class")])
def test_python_layer_errors(module, layer, message):
    with pytest.raises(FCNError, match=message):
        Net(parse_text(NET.format(module=module, layer=layer), caffe_pb2.NetParameter()))


def test_python_layers_can_be_refused():
    from core.options import Options
    untrusted = Options(trust_python_layers=False)
    with pytest.raises(FCNError, match="refusing Python layer module .json."):
        Net(parse_text(NET.format(module="json", layer="x"), caffe_pb2.NetParameter()), options=untrusted)
