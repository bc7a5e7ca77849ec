"""Old formats upgrade to what Caffe's upgrade_proto gives."""
import pytest

from netspec import FCNError, caffe_pb2, parse_text
from netspec.upgrade import upgrade_net, upgrade_solver

V2_NET = """
name: "classic"
layer { name: "data" type: "Data" top: "data" top: "label"
  include { phase: TRAIN }
  transform_param { scale: 0.5 mirror: true crop_size: 227 mean_file: "mean.binaryproto" }
  data_param { source: "train_lmdb" batch_size: 8 backend: LMDB } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  param { name: "w" lr_mult: 1 decay_mult: 1 } param { name: "b" lr_mult: 2 decay_mult: 0 }
  blobs { shape { dim: 2 dim: 3 dim: 3 dim: 3 } data: 1 data: 2 }
  convolution_param { num_output: 2 kernel_size: 3 stride: 2 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "norm1" type: "LRN" bottom: "pool1" top: "norm1" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layer { name: "fc" type: "InnerProduct" bottom: "norm1" top: "fc" inner_product_param { num_output: 10 } }
layer { name: "drop" type: "Dropout" bottom: "fc" top: "fc" dropout_param { dropout_ratio: 0.4 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" loss_weight: 2 }
layer { name: "acc" type: "Accuracy" bottom: "fc" bottom: "label" top: "acc" exclude { phase: TRAIN } }
"""

TYPE_TO_V1 = {name: number for number, name in
              ((v.number, v.name) for v in caffe_pb2.V1LayerParameter.LayerType.DESCRIPTOR.values)}
V1_NAMES = {"Data": "DATA", "Convolution": "CONVOLUTION", "ReLU": "RELU", "Pooling": "POOLING",
            "LRN": "LRN", "InnerProduct": "INNER_PRODUCT", "Dropout": "DROPOUT",
            "SoftmaxWithLoss": "SOFTMAX_LOSS", "Accuracy": "ACCURACY"}


def as_v1(net):
    """The same net written with V1 `layers`, by an independent mapping."""
    old = caffe_pb2.NetParameter(name=net.name)
    for layer in net.layer:
        v1 = old.layers.add(name=layer.name, type=TYPE_TO_V1[V1_NAMES[layer.type]])
        v1.bottom.extend(layer.bottom)
        v1.top.extend(layer.top)
        v1.include.extend(layer.include)
        v1.exclude.extend(layer.exclude)
        v1.blobs.extend(layer.blobs)
        v1.loss_weight.extend(layer.loss_weight)
        for spec in layer.param:
            v1.param.append(spec.name)
            v1.blobs_lr.append(spec.lr_mult)
            v1.weight_decay.append(spec.decay_mult)
        for field, value in layer.ListFields():
            if field.name.endswith("_param") and field.name not in ("param", "transform_param"):
                getattr(v1, field.name).CopyFrom(value)
        if layer.HasField("transform_param"):
            # V1 data layers kept these inside data_param.
            for key in ("scale", "mirror", "crop_size", "mean_file"):
                setattr(v1.data_param, key, getattr(layer.transform_param, key))
    return old


def test_v1_upgrades_to_v2():
    expected = parse_text(V2_NET, caffe_pb2.NetParameter())
    assert upgrade_net(as_v1(expected)) == expected


def test_v1_with_both_layer_fields_is_refused():
    net = as_v1(parse_text(V2_NET, caffe_pb2.NetParameter()))
    net.layer.add(name="extra", type="ReLU")
    with pytest.raises(FCNError, match="both 'layer' and 'layers'"):
        upgrade_net(net)


def test_input_dims_become_an_input_layer_first():
    net = parse_text('input: "data" input_dim: 1 input_dim: 3 input_dim: 5 input_dim: 7 '
                     'input: "im_info" input_dim: 1 input_dim: 3 input_dim: 1 input_dim: 1 '
                     'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }', caffe_pb2.NetParameter())
    upgrade_net(net)
    first = net.layer[0]
    assert (first.name, first.type, list(first.top)) == ("input", "Input", ["data", "im_info"])
    assert [list(s.dim) for s in first.input_param.shape] == [[1, 3, 5, 7], [1, 3, 1, 1]]
    assert net.layer[1].name == "r" and not net.input and not net.input_dim


def test_input_shape_becomes_an_input_layer():
    net = parse_text('input: "data" input_shape { dim: 2 dim: 3 }', caffe_pb2.NetParameter())
    upgrade_net(net)
    assert [list(s.dim) for s in net.layer[0].input_param.shape] == [[2, 3]]


def test_input_without_shape_is_dropped():
    net = parse_text('input: "data"', caffe_pb2.NetParameter())
    assert len(upgrade_net(net).layer) == 0 and not net.input


def test_bad_input_dim_count():
    net = parse_text('input: "data" input_dim: 1 input_dim: 3', caffe_pb2.NetParameter())
    with pytest.raises(FCNError, match="input_dim"):
        upgrade_net(net)


def test_v0_layers_with_padding_layer():
    net = parse_text("""
      layers { layer { name: "pad1" type: "padding" pad: 2 } bottom: "data" top: "pad1" }
      layers { layer { name: "conv1" type: "conv" num_output: 4 kernelsize: 5 stride: 1
                       biasterm: false blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0 }
               bottom: "pad1" top: "conv1" }
      layers { layer { name: "pool1" type: "pool" pool: AVE kernelsize: 3 stride: 2 } bottom: "conv1" top: "pool1" }
      layers { layer { name: "ip" type: "innerproduct" num_output: 10 } bottom: "pool1" top: "ip" }
    """, caffe_pb2.NetParameter())
    upgrade_net(net)
    expected = parse_text("""
      layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
              param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
              convolution_param { num_output: 4 bias_term: false pad: 2 kernel_size: 5 stride: 1 } }
      layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
              pooling_param { pool: AVE kernel_size: 3 stride: 2 } }
      layer { name: "ip" type: "InnerProduct" bottom: "pool1" top: "ip" inner_product_param { num_output: 10 } }
    """, caffe_pb2.NetParameter())
    assert net == expected


def test_old_batchnorm_params_are_frozen():
    net = parse_text('layer { name: "bn" type: "BatchNorm" param { lr_mult: 1 } param { lr_mult: 1 } '
                     'param { lr_mult: 1 } }', caffe_pb2.NetParameter())
    upgrade_net(net)
    assert [(p.lr_mult, p.decay_mult) for p in net.layer[0].param] == [(0, 0)] * 3


def test_solver_type_enum_becomes_string():
    solver = parse_text("solver_type: ADAM base_lr: 0.1", caffe_pb2.SolverParameter())
    upgrade_solver(solver)
    assert solver.type == "Adam" and not solver.HasField("solver_type")
    both = parse_text('solver_type: ADAM type: "SGD"', caffe_pb2.SolverParameter())
    with pytest.raises(FCNError, match="not both"):
        upgrade_solver(both)
