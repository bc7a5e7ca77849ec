"""The Layer base class and the registry from type names to classes.

As in Caffe, a layer is set up once (`setup`: read parameters, make learnable
blobs), then `reshape`d and run `forward` on every pass, and `backward` when
gradients are wanted. Parameter gradients accumulate (the solver clears them);
bottom gradients are overwritten.
"""
from common.errors import FCNError

REGISTRY = {}


def register(*type_names):
    def decorate(cls):
        for name in type_names:
            REGISTRY[name] = cls
        cls.type_names = type_names
        return cls
    return decorate


def create_layer(param, phase):
    cls = REGISTRY.get(param.type)
    if cls is None:
        known = ", ".join(sorted(REGISTRY))
        raise FCNError(f"layer {param.name!r}: unknown type {param.type!r}; the known types are: {known}")
    return cls(param, phase)


class Layer:
    # (min, max) bottoms and tops; None for no limit.
    bottoms = (1, 1)
    tops = (1, 1)
    # Loss layers weigh their first top by 1 unless loss_weight says otherwise.
    is_loss = False
    # False once the Net has found that no gradient will ever pass through
    # this layer: it may then skip what only backward reads (argmax masks).
    need_backward = True
    # Whether force_backward may reach bottom i (labels are never differentiable).
    def allow_force_backward(self, bottom_index):
        return True

    def __init__(self, param, phase):
        self.param = param
        self.name = param.name
        self.phase = phase
        self.blobs = []            # learnable parameters, as Blobs
        self.param_propagate_down = []
        self.loss_weights = []

    # Error helper: every message names the layer and its type.
    def error(self, message):
        return FCNError(f"layer {self.name!r} ({self.param.type}): {message}")

    def check_counts(self, bottom, top):
        for what, have, (low, high) in (("bottom", len(bottom), self.bottoms), ("top", len(top), self.tops)):
            if (low is not None and have < low) or (high is not None and have > high):
                need = str(low) if low == high else f"{low} to {high if high is not None else 'any'}"
                raise self.error(f"takes {need} {what} blob(s), got {have}")

    def setup(self, bottom, top):
        """Read parameters and make learnable blobs; called once."""

    def reshape(self, bottom, top):
        raise NotImplementedError

    def forward(self, bottom, top):
        raise NotImplementedError

    def backward(self, top, propagate_down, bottom):
        """Default: no gradient (data layers and the like)."""

    def shapes_text(self, blobs):
        return ", ".join(f"{b.name} {list(b.shape)}" for b in blobs)
