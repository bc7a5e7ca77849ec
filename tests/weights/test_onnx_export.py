"""ONNX export held against ONNX Runtime: every published deploy net
(narrowed, random weights) at two sizes from one file, and nets made to
exercise each layer type and geometry; outputs within 1e-4 relative."""
import numpy as np
import onnxruntime as ort
import pytest

from core.net import Net
from netspec import FCNError, caffe_pb2, fcn_models, parse_text
from weights.onnx_export import export

RNG = np.random.default_rng(0)


def randomize(net):
    for blobs in net.params.values():
        for blob in blobs:
            blob.data[...] = RNG.standard_normal(blob.shape) * 0.1
    for layer in net.layers:
        if layer.param.type == "BatchNorm":
            layer.blobs[1].data[...] = np.abs(layer.blobs[1].data) + 0.5
            layer.blobs[2].data[...] = 2.0


def compare(net, path, sizes):
    export(net, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    output = net.top_vecs[-1][-1].name
    for size in sizes:
        feeds = {}
        for name in net.inputs:
            shape = net.blobs[name].shape
            shape = shape[:2] + tuple(size) if size else shape
            feeds[name] = RNG.normal(0, 20, shape).astype(np.float32)
        ours = net.forward(**feeds)[output].copy()
        theirs = session.run([output], feeds)[0]
        assert theirs.shape == ours.shape, (size, theirs.shape, ours.shape)
        assert np.abs(theirs - ours).max() <= 1e-4 * max(np.abs(ours).max(), 1e-6), size


PUBLISHED = fcn_models.model_names(extras=True)


@pytest.mark.parametrize("model", [m for m in PUBLISHED if m != "voc-fcn32s-unpool"])
def test_published_deploy_nets_run_in_onnx_runtime_at_any_size(model, tmp_path):
    net = Net(fcn_models.net(model, "deploy", fcn_models.NARROW_WIDTHS), "TEST", keep_blobs=True)
    randomize(net)
    compare(net, tmp_path / "net.onnx", [(64, 80), (77, 59)])      # one odd: Caffe's pooling rounding


def net_of(text):
    return Net(parse_text(text, caffe_pb2.NetParameter()), "TEST", keep_blobs=True)


INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 6 dim: 13 dim: 11 } } }\n'
LAYERS = {
    "pool max pad ceil": 'layer { name: "p" type: "Pooling" bottom: "data" top: "out" '
                         'pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }',
    "pool ave pad ceil": 'layer { name: "p" type: "Pooling" bottom: "data" top: "out" '
                         'pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }',
    "pool ave no pad": 'layer { name: "p" type: "Pooling" bottom: "data" top: "out" '
                       'pooling_param { pool: AVE kernel_size: 2 stride: 2 } }',
    "pool 2x3 rect": 'layer { name: "p" type: "Pooling" bottom: "data" top: "out" '
                     'pooling_param { pool: MAX kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2 } }',
    "global ave": 'layer { name: "p" type: "Pooling" bottom: "data" top: "out" '
                  'pooling_param { pool: AVE global_pooling: true } }',
    "lrn across": 'layer { name: "n" type: "LRN" bottom: "data" top: "out" '
                  'lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 k: 2 } }',
    "lrn within": 'layer { name: "n" type: "LRN" bottom: "data" top: "out" '
                  'lrn_param { local_size: 3 alpha: 0.01 beta: 0.75 norm_region: WITHIN_CHANNEL } }',
    "conv group dilation": 'layer { name: "c" type: "Convolution" bottom: "data" top: "out" '
                           'convolution_param { num_output: 4 kernel_size: 3 dilation: 2 pad: 2 group: 2 stride: 2 } }',
    "deconv group": 'layer { name: "c" type: "Deconvolution" bottom: "data" top: "out" '
                    'convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 group: 3 } }',
    "eltwise coefficients": 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
                            'layer { name: "e" type: "Eltwise" bottom: "data" bottom: "r" top: "out" '
                            'eltwise_param { operation: SUM coeff: 0.5 coeff: -2 } }',
    "eltwise prod max": 'layer { name: "s" type: "Sigmoid" bottom: "data" top: "s" }\n'
                        'layer { name: "t" type: "TanH" bottom: "data" top: "t" }\n'
                        'layer { name: "m" type: "Eltwise" bottom: "s" bottom: "t" top: "m" eltwise_param { operation: MAX } }\n'
                        'layer { name: "e" type: "Eltwise" bottom: "m" bottom: "s" bottom: "t" top: "out" '
                        'eltwise_param { operation: PROD } }',
    "neurons": 'layer { name: "a" type: "AbsVal" bottom: "data" top: "a" }\n'
               'layer { name: "p" type: "Power" bottom: "a" top: "p" power_param { power: 0.5 scale: 2 shift: 1 } }\n'
               'layer { name: "l" type: "Log" bottom: "p" top: "l" }\n'
               'layer { name: "x" type: "Exp" bottom: "l" top: "x" exp_param { base: 2 scale: 0.5 } }\n'
               'layer { name: "b" type: "BNLL" bottom: "x" top: "b" }\n'
               'layer { name: "u" type: "ELU" bottom: "data" top: "u" elu_param { alpha: 0.7 } }\n'
               'layer { name: "r" type: "ReLU" bottom: "u" top: "u" relu_param { negative_slope: 0.1 } }\n'
               'layer { name: "w" type: "PReLU" bottom: "u" top: "w" }\n'
               'layer { name: "h" type: "Threshold" bottom: "data" top: "h" threshold_param { threshold: 0.3 } }\n'
               'layer { name: "c" type: "Concat" bottom: "b" bottom: "w" bottom: "h" top: "out" }',
    "resnet block": 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                    'convolution_param { num_output: 6 kernel_size: 3 pad: 1 bias_term: false } }\n'
                    'layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" }\n'
                    'layer { name: "sc" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }\n'
                    'layer { name: "r" type: "ReLU" bottom: "c" top: "c" }\n'
                    'layer { name: "sum" type: "Eltwise" bottom: "data" bottom: "c" top: "s" }\n'
                    'layer { name: "d" type: "Dropout" bottom: "s" top: "s" }\n'
                    'layer { name: "b" type: "Bias" bottom: "s" top: "out" }',
    "slice and softmax": 'layer { name: "s" type: "Slice" bottom: "data" top: "a" top: "b" slice_param { slice_point: 2 } }\n'
                         'layer { name: "x" type: "Softmax" bottom: "b" top: "x" }\n'
                         'layer { name: "m" type: "ArgMax" bottom: "a" top: "m" argmax_param { axis: 1 } }\n'
                         'layer { name: "c" type: "Concat" bottom: "x" bottom: "m" top: "out" }',
}
FIXED = {
    "inner product": 'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
                     'inner_product_param { num_output: 7 } }\n'
                     'layer { name: "f" type: "Flatten" bottom: "data" top: "f" }\n'
                     'layer { name: "re" type: "Reshape" bottom: "f" top: "re" reshape_param { shape { dim: 0 dim: -1 } } }\n'
                     'layer { name: "ip2" type: "InnerProduct" bottom: "re" top: "ip2" '
                     'inner_product_param { num_output: 7 transpose: true } }\n'
                     'layer { name: "sum" type: "Eltwise" bottom: "ip" bottom: "ip2" top: "out" }',
}


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_type_at_two_sizes(name, tmp_path):
    net = net_of(INPUT + LAYERS[name])
    randomize(net)
    compare(net, tmp_path / "net.onnx", [(13, 11), (10, 17)])


def test_fixed_size_nets(tmp_path):
    net = net_of(INPUT + FIXED["inner product"])
    randomize(net)
    compare(net, tmp_path / "net.onnx", [None])


def test_a_layer_without_onnx_is_named(tmp_path):
    net = net_of(INPUT + 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" top: "mask" '
                         'pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n'
                         'layer { name: "u" type: "Upsample" bottom: "p" bottom: "mask" top: "out" }')
    with pytest.raises(FCNError, match="layer 'p' \\(Pooling\\): the mask top has no ONNX equivalent"):
        export(net, str(tmp_path / "net.onnx"))


def test_googlenets_slashed_names_survive(tmp_path):
    import onnx
    net = Net(fcn_models.net("voc-fcn-googlenet", "deploy", fcn_models.NARROW_WIDTHS), "TEST", keep_blobs=True)
    export(net, str(tmp_path / "g.onnx"))
    model = onnx.load(str(tmp_path / "g.onnx"))
    names = {init.name for init in model.graph.initializer}
    assert {"conv1/7x7_s2/0", "inception_5b/pool_proj/1"} <= names
    assert any(node.name == "inception_3a/output" for node in model.graph.node)
