import pytest

from netspec import FCNError, NetSpec, caffe_pb2, to_proto
from netspec import layers as L
from netspec import params as P


def test_names_come_from_attributes_and_layers_follow_first_top():
    n = NetSpec()
    n.data, n.label = L.Input(ntop=2)
    n.conv = L.Convolution(n.data, kernel_size=3, num_output=8, pad=1,
                           param=[dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)],
                           weight_filler=dict(type="xavier"))
    n.relu = L.ReLU(n.conv, in_place=True)
    n.loss = L.SoftmaxWithLoss(n.relu, n.label, loss_param=dict(normalize=False, ignore_label=255))
    net = n.to_proto()
    assert [(l.name, l.type, list(l.bottom), list(l.top)) for l in net.layer] == [
        ("data", "Input", [], ["data", "label"]),
        ("conv", "Convolution", ["data"], ["conv"]),
        ("relu", "ReLU", ["conv"], ["conv"]),
        ("loss", "SoftmaxWithLoss", ["conv", "label"], ["loss"]),
    ]
    conv = net.layer[1]
    assert list(conv.convolution_param.kernel_size) == [3] and list(conv.convolution_param.pad) == [1]
    assert conv.convolution_param.weight_filler.type == "xavier"
    assert [(p.lr_mult, p.decay_mult) for p in conv.param] == [(1, 1), (2, 0)]
    assert net.layer[3].loss_param.normalize is False and net.layer[3].loss_param.ignore_label == 255


def test_unnamed_tops_get_type_and_counter():
    data = L.Input()
    pooled = L.Pooling(L.Pooling(data, pool=P.Pooling.MAX, kernel_size=2), pool=P.Pooling.AVE, kernel_size=2)
    net = to_proto(pooled)
    assert [l.name for l in net.layer] == ["Input1", "Pooling1", "Pooling2"]
    assert net.layer[2].pooling_param.pool == caffe_pb2.PoolingParameter.AVE
    assert list(net.layer[2].bottom) == ["Pooling1"]


def test_layer_level_fields_and_enum_params():
    n = NetSpec()
    n.x = L.Input()
    n.y = L.Eltwise(n.x, n.x, operation=P.Eltwise.PROD, loss_weight=2, propagate_down=[True, False])
    layer = n.to_proto().layer[1]
    assert layer.eltwise_param.operation == caffe_pb2.EltwiseParameter.PROD
    assert list(layer.loss_weight) == [2] and list(layer.propagate_down) == [True, False]


def test_zero_top_layer_and_bad_field():
    n = NetSpec()
    n.x = L.Input()
    silence = L.Silence(n.x, ntop=0)
    assert to_proto(n.x).layer[0].type == "Input"
    assert silence.tops == ()
    n.bad = L.Convolution(n.x, no_such_field=3)
    with pytest.raises(FCNError, match="no_such_field"):
        n.to_proto()
