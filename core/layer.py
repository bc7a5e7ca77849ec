"""The Layer base class and the registry from type names to classes.

As in Caffe, a layer is set up once (`setup`: read parameters, make learnable
blobs), then `reshape`d and run `forward` on every pass, and `backward` when
gradients are wanted. Parameter gradients accumulate (the solver clears them);
bottom gradients are overwritten.
"""
from common.errors import FCNError
from core.blob import Blob
from core.fillers import fill
from core.options import Options

REGISTRY: dict[str, type] = {}


def register(*type_names):
    def decorate(cls):
        for name in type_names:
            REGISTRY[name] = cls
        cls.type_names = type_names
        return cls
    return decorate


def create_layer(param, phase, options=None, rng=None):
    cls = REGISTRY.get(param.type)
    if cls is None:
        known = ", ".join(sorted(REGISTRY))
        raise FCNError(f"layer {param.name!r}: unknown type {param.type!r}; the known types are: {known}")
    return cls(param, phase, options, rng)


class Layer:
    # (min, max) bottoms and tops; None for no limit.
    bottoms: tuple[int, int | None] = (1, 1)
    tops: tuple[int, int | None] = (1, 1)
    # Loss layers weigh their first top by 1 unless loss_weight says otherwise.
    is_loss = False
    # False once the Net has found that no gradient will ever pass through
    # this layer: it may then skip what only backward reads (argmax masks).
    need_backward = True
    # Whether force_backward may reach bottom i (labels are never differentiable).
    def allow_force_backward(self, bottom_index):
        return True

    def __init__(self, param, phase, options: Options | None = None, rng=None):
        self.param = param
        self.name = param.name
        self.phase = phase
        # How to run (threads, algorithms, budgets) and the net's random
        # generator (fillers, Dropout, shuffles): passed in by the Net.
        self.options = options if options is not None else Options.from_environment()
        self.workers = self.options.workers
        self.rng = rng if rng is not None else self.options.make_rng()
        self.blobs: list[Blob] = []            # learnable parameters
        self.param_propagate_down: list[bool] = []
        self.loss_weights: list[float] = []

    @property
    def type(self) -> str:
        """The layer's type name, as pycaffe's Layer.type."""
        return self.param.type

    def layer_setup(self, bottom, top):
        """Caffe's Layer::SetUp, the one way every layer is made ready (by
        the Net and by the gradient checker alike): check the blob counts,
        set up, reshape, then the loss weights."""
        self.check_counts(bottom, top)
        self.setup(bottom, top)
        self.reshape(bottom, top)
        self._set_loss_weights(top)

    def _set_loss_weights(self, top):
        weights = list(self.param.loss_weight)
        if weights and len(weights) != len(top):
            raise self.error(f"loss_weight has {len(weights)} values for {len(top)} tops")
        if not weights and self.is_loss:
            weights = [1.0] + [0.0] * (len(top) - 1)
            # Caffe's LossLayer records its default weight in the layer's
            # parameters, so saved nets carry it; so do ours.
            self.param.loss_weight.extend(weights)
        self.loss_weights = weights or [0.0] * len(top)

    def add_param(self, shape, filler=None) -> Blob:
        """The next learnable blob, of `shape`, filled by `filler` on first
        use (never, if weights are loaded into it first)."""
        shape = tuple(shape)
        blob = Blob(shape, name=f"{self.name}/{len(self.blobs)}")
        if filler is not None:
            rng = self.rng
            blob.fill_with(lambda: fill(filler, shape, rng))
        self.blobs.append(blob)
        return blob

    def forward_fused(self, bottom, top, followers):
        """Forward with the in-place layers `followers` applied to the top as
        it is made; only for followers that `fuses_with` accepted."""
        raise NotImplementedError

    def fuses_with(self, followers) -> bool:
        """Whether this layer can apply `followers` (in-place layers right
        after it on its one top, in order) while making its output."""
        return False

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
