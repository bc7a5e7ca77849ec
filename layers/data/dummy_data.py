"""DummyData: tops of given shapes filled by fillers, as Caffe's
DummyDataLayer: a top whose filler is constant is filled once at setup
(so values a caller writes into it stay), any other is refilled on every
forward pass."""
from core.fillers import fill
from core.layer import Layer, register
from netspec import caffe_pb2


def _pick(values, i, what, tops, layer):
    """Caffe's rule for repeated fields: none, one for every top, or one per top."""
    if len(values) not in (0, 1, tops):
        raise layer.error(f"gives {len(values)} {what} for {tops} tops; give one, or one per top")
    return values[0] if len(values) == 1 else values[i]


@register("DummyData")
class DummyData(Layer):
    bottoms = (0, 0)
    tops = (1, None)

    def setup(self, bottom, top):
        p = self.param.dummy_data_param
        n = len(top)
        legacy = [list(p.num), list(p.channels), list(p.height), list(p.width)]
        if any(legacy) and len(p.shape):
            raise self.error("give shape or num/channels/height/width, not both")
        fillers = list(p.data_filler) or [caffe_pb2.FillerParameter(type="constant", value=0)]
        self.fillers = [_pick(fillers, i, "data_filler", n, self) for i in range(n)]
        for i, blob in enumerate(top):
            if any(legacy):
                if not all(legacy):
                    raise self.error("num, channels, height and width go together")
                blob.reshape([_pick(values, i, name, n, self)
                              for values, name in zip(legacy, ("num", "channels", "height", "width"))])
            elif len(p.shape):
                blob.reshape(list(_pick(list(p.shape), i, "shapes", n, self).dim))
            else:
                blob.reshape([])
        self.refill = [f.type != "constant" for f in self.fillers]
        for blob, filler, refill in zip(top, self.fillers, self.refill):
            if not refill:
                blob.data[...] = fill(filler, blob.shape, self.rng)

    def reshape(self, bottom, top):
        """Shapes are fixed at setup, as in Caffe."""

    def forward(self, bottom, top):
        for blob, filler, refill in zip(top, self.fillers, self.refill):
            if refill:
                blob.data[...] = fill(filler, blob.shape, self.rng)
