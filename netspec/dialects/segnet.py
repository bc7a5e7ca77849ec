"""SegNet (alexgkendall/caffe-segnet): its Upsample layer, max-unpooling
driven by a MAX Pooling's mask top (netspec/dialects/segnet.proto).

caffe-segnet numbers upsample_param 137 in LayerParameter, which BVLC's
schema gives embed_param; here it is 149, so prototxts (which name it)
load as written."""
from netspec.dialects import Dialect

DIALECT = Dialect(
    name="SegNet",
    source="alexgkendall/caffe-segnet: src/caffe/proto/caffe.proto",
    layer_types=frozenset({"Upsample"}),
    layer_fields={"upsample_param": 137},
)
