"""Input: tops the caller fills (deploy nets, pycaffe's net.blobs[...].data)."""

from core.layer import Layer, register


@register("Input")
class Input(Layer):
    bottoms = (0, 0)
    tops = (1, None)

    def setup(self, bottom, top):
        shapes = self.param.input_param.shape
        if len(shapes) not in (0, 1, len(top)):
            raise self.error(f"gives {len(shapes)} shapes for {len(top)} tops; give none, one, or one per top")
        for i, blob in enumerate(top):
            if len(shapes):
                blob.reshape(list(shapes[0 if len(shapes) == 1 else i].dim))

    def reshape(self, bottom, top):
        """The caller reshapes Input tops; nothing to do here, as in Caffe."""

    def forward(self, bottom, top):
        pass
