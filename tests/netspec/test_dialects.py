"""Dialects: each fork's additions in a file of its own, and the dialect of
a net read from what it holds."""
from netspec import caffe_pb2, dialects, fcn_models, parse_text


def test_a_forks_messages_live_in_its_own_schema_file():
    """SegNet's UpsampleParameter comes from netspec/dialects/segnet.proto;
    BVLC's messages from netspec/caffe.proto, which holds no fork message."""
    assert caffe_pb2.UpsampleParameter.DESCRIPTOR.file.name == "netspec/dialects/segnet.proto"
    assert caffe_pb2.ConvolutionParameter.DESCRIPTOR.file.name == "netspec/caffe.proto"
    own = caffe_pb2.DESCRIPTOR.message_types_by_name
    assert "UpsampleParameter" not in own and "ConvolutionParameter" in own
    field = caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name["upsample_param"]
    assert field.message_type.name == "UpsampleParameter"


def test_the_dialect_is_read_from_the_layers_a_net_uses():
    assert dialects.describe(fcn_models.net("voc-fcn8s", "deploy")) == "BVLC"
    assert dialects.describe(fcn_models.net("voc-fcn32s-unpool", "deploy")) == "BVLC + SegNet"
    by_field = parse_text('layer { name: "u" type: "Unpool" bottom: "x" top: "y" upsample_param { scale: 2 } }',
                          caffe_pb2.NetParameter())
    assert [d.name for d in dialects.detect(by_field)] == ["SegNet"]
    segnet = dialects.registered()[0]
    assert segnet.source.startswith("alexgkendall/caffe-segnet") and segnet.layer_fields == {"upsample_param": 137}
