"""The Net: layers wired by blob name and run forward and backward.

Built from a NetParameter for a phase as Caffe's Net::Init builds it: layers
filtered by include/exclude rules, Split layers inserted where one blob feeds
several layers, in-place layers sharing their blob, which layers need
backward, and learnable blobs shared by ParamSpec name.
"""
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np

import layers.all_layers  # noqa: F401  (registers every layer type)
from backends.cpu.threads import single_threaded_blas
from common.errors import FCNError
from core.blob import Arena, Blob
from core.layer import Layer, create_layer
from core.options import Options
from netspec import caffe_pb2

TRAIN, TEST = caffe_pb2.TRAIN, caffe_pb2.TEST

# One distinct learnable parameter: its blob (the owner, where shared by
# name), its ParamSpec multipliers, and the layer and index that own it.
Learnable = namedtuple("Learnable", "blob lr_mult decay_mult layer index")


def phase_value(phase):
    if isinstance(phase, str):
        try:
            return {"TRAIN": TRAIN, "TEST": TEST}[phase.upper()]
        except KeyError:
            raise FCNError(f"phase must be TRAIN or TEST, not {phase!r}") from None
    return phase


def _rule_met(state, rule):
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    return all(s in stages for s in rule.stage) and not any(s in stages for s in rule.not_stage)


def filter_net(net, state):
    """The layers of `net` that `state` includes, as Caffe's FilterNet."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    out.ClearField("layer")
    for layer in net.layer:
        if len(layer.include) and len(layer.exclude):
            raise FCNError(f"layer {layer.name!r}: give include or exclude rules, not both")
        keep = any(_rule_met(state, r) for r in layer.include) if len(layer.include) else True
        if any(_rule_met(state, r) for r in layer.exclude):
            keep = False
        if keep:
            out.layer.add().CopyFrom(layer)
    return out


def split_blob_name(layer, blob, index, k):
    return f"{blob}_{layer}_{index}_split_{k}"


def insert_splits(net):
    """Give every blob read by several layers (or read and weighed as a loss)
    its own Split layer, so that each reader gets a copy whose gradient the
    split sums: Caffe's InsertSplits, with Caffe's names."""
    last_top = {}
    source = {}
    readers = defaultdict(int)
    loss_weight = {}
    for i, layer in enumerate(net.layer):
        for j, bottom in enumerate(layer.bottom):
            if bottom not in last_top:
                raise FCNError(f"layer {layer.name!r} ({layer.type}): bottom {bottom!r} is not produced "
                               "by any layer before it (layers run in file order, so a cycle shows up so too)")
            source[i, j] = last_top[bottom]
            readers[last_top[bottom]] += 1
        for j, top in enumerate(layer.top):
            last_top[top] = (i, j)
        for j in range(min(len(layer.loss_weight), len(layer.top))):
            index = last_top[layer.top[j]]
            loss_weight[index] = layer.loss_weight[j]
            if layer.loss_weight[j]:
                readers[index] += 1
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    out.ClearField("layer")
    taken = defaultdict(int)
    for i, layer in enumerate(net.layer):
        new = out.layer.add()
        new.CopyFrom(layer)
        for j, bottom in enumerate(layer.bottom):
            index = source[i, j]
            if readers[index] > 1:
                producer = net.layer[index[0]].name
                new.bottom[j] = split_blob_name(producer, bottom, index[1], taken[index])
                taken[index] += 1
        for j, top in enumerate(layer.top):
            count = readers[i, j]
            if count > 1:
                weight = loss_weight.get((i, j), 0)
                split = out.layer.add(name=f"{top}_{layer.name}_{j}_split", type="Split")
                split.bottom.append(top)
                for k in range(count):
                    split.top.append(split_blob_name(layer.name, top, j, k))
                    if weight:
                        split.loss_weight.append(weight if k == 0 else 0)
                if weight:
                    new.ClearField("loss_weight")
                    taken[i, j] += 1
    return out


class Net:
    """A Caffe net for one phase. `blobs` and `params` are as in pycaffe.

    Unless `keep_blobs`, a net holds only what is still to be read: in TEST
    phase each intermediate blob goes once its last reader has run (inputs,
    outputs and the tops of data layers stay); in backward, a blob's diff
    goes once the layer that made the blob has passed it down (at 500x500
    that is 400 MB of FCN-8s's 640 MB of diffs). Their buffers are lent to
    the blobs that come next."""

    def __init__(self, net_param: caffe_pb2.NetParameter, phase: int | str = TEST, stages=(), level: int = 0,
                 source: str = "<net>", keep_blobs: bool = False, options: Options | None = None):
        phase = phase_value(phase)
        self.source = source
        self.options = options if options is not None else Options.from_environment()
        self.rng = self.options.make_rng()     # every layer's fillers, Dropout, shuffles
        state = caffe_pb2.NetState(phase=phase, level=level)
        state.stage.extend(stages)
        if net_param.HasField("state"):
            state.MergeFrom(net_param.state)
            state.phase = phase
        self.phase = phase
        self.name = net_param.name
        try:
            self._init(net_param, state)
        except FCNError as err:
            # Layers know their names, not the file they came from.
            if str(err).startswith(f"{source}:"):
                raise
            raise FCNError(f"{source}: {err}") from None
        self.frees = self._plan_lifetimes() if phase == TEST and not keep_blobs else [[] for _ in self.layers]
        self.diff_frees = [[] for _ in self.layers] if keep_blobs else self._plan_diff_lifetimes()
        self.fusions = self._plan_fusions()
        self.residuals = self._plan_residuals()
        # Functions of a layer's index, called around its forward and backward
        # (pycaffe's Net.before_forward and the like).
        self.callbacks: dict[str, list] = {"before_forward": [], "after_forward": [],
                                           "before_backward": [], "after_backward": []}
        self.arena = Arena()
        for blob in {b for frees in self.frees for b in frees}:
            blob.allocator = self.arena.take
        for blob in {b for frees in self.diff_frees for b in frees}:
            blob.diff_allocator = self.arena.take_zeroed

    # -- building -------------------------------------------------------
    def _init(self, net_param, state):
        self.param = insert_splits(filter_net(net_param, state))
        for layer in self.param.layer:
            if not layer.HasField("phase"):
                layer.phase = self.phase   # as Caffe: a layer inherits the net's phase
        self.layers = []
        self.layer_names = []
        self.blobs = OrderedDict()
        self.bottom_vecs, self.top_vecs = [], []
        self.bottom_need_backward, self.layer_need_backward = [], []
        self.inputs = []
        self._build()
        self._plan_backward(self.param.force_backward)
        for layer, need in zip(self.layers, self.layer_need_backward):
            layer.need_backward = need
        self._share_params()

    def _build(self):
        need_backward = {}
        for param in self.param.layer:
            if not param.name:
                raise FCNError(f"{self.source}: a {param.type or 'typeless'} layer has no name")
            if param.name in self.layer_names:
                raise FCNError(f"{self.source}: two layers are named {param.name!r}")
            if param.propagate_down and len(param.propagate_down) != len(param.bottom):
                raise FCNError(f"layer {param.name!r}: propagate_down has {len(param.propagate_down)} "
                               f"values for {len(param.bottom)} bottoms")
            layer = create_layer(param, self.phase, self.options, self.rng)
            bottom, bottom_back = [], []
            for j, name in enumerate(param.bottom):
                blob = self.blobs[name]
                bottom.append(blob)
                wanted = need_backward[name]
                if len(param.propagate_down):
                    wanted = param.propagate_down[j]
                bottom_back.append(wanted)
            top = []
            for j, name in enumerate(param.top):
                if j < len(param.bottom) and param.bottom[j] == name:
                    top.append(self.blobs[name])       # in place
                    continue
                if name in self.blobs:
                    raise FCNError(f"layer {param.name!r} ({param.type}): top {name!r} is already "
                                   "produced by another layer")
                blob = Blob(name=name)
                self.blobs[name] = blob
                top.append(blob)
                if param.type == "Input":
                    self.inputs.append(name)
            layer.layer_setup(bottom, top)
            layer.param_propagate_down = []
            specs = list(param.param)
            for k in range(len(layer.blobs)):
                lr = specs[k].lr_mult if k < len(specs) else 1.0
                layer.param_propagate_down.append(lr != 0)
            back = any(bottom_back) or any(layer.param_propagate_down)
            for blob in top:
                need_backward[blob.name] = back or need_backward.get(blob.name, False) and blob in bottom
            self.layers.append(layer)
            self.layer_names.append(param.name)
            self.bottom_vecs.append(bottom)
            self.top_vecs.append(top)
            self.bottom_need_backward.append(bottom_back)
            self.layer_need_backward.append(back)

    def _plan_backward(self, force_backward):
        """Which layers and bottoms get gradients: Caffe's two passes."""
        under_loss, skip = set(), set()
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            contributes, skippable = False, True
            for k, blob in enumerate(self.top_vecs[i]):
                if layer.loss_weights[k] or blob.name in under_loss:
                    contributes = True
                if blob.name not in skip:
                    skippable = False
            if self.layer_need_backward[i] and skippable:
                self.layer_need_backward[i] = False
                self.bottom_need_backward[i] = [False] * len(self.bottom_vecs[i])
            if not contributes:
                self.layer_need_backward[i] = False
            for j, blob in enumerate(self.bottom_vecs[i]):
                if contributes:
                    under_loss.add(blob.name)
                else:
                    self.bottom_need_backward[i][j] = False
                if not self.bottom_need_backward[i][j]:
                    skip.add(blob.name)
        if force_backward:
            for i, layer in enumerate(self.layers):
                self.layer_need_backward[i] = True
                self.bottom_need_backward[i] = [
                    need or layer.allow_force_backward(j) for j, need in enumerate(self.bottom_need_backward[i])]
                layer.param_propagate_down = [True] * len(layer.blobs)

    def _plan_lifetimes(self):
        """For each layer, the blobs to free after it: those it reads last."""
        last_reader = {}
        for i, bottom in enumerate(self.bottom_vecs):
            for blob in bottom:
                last_reader[blob.name] = i
        kept = {blob.name for bottom, top in zip(self.bottom_vecs, self.top_vecs) if not bottom for blob in top}
        kept.update(blob.name for layer, top in zip(self.layers, self.top_vecs)
                    for k, blob in enumerate(top) if layer.loss_weights[k])
        kept.update(self.outputs)      # an in-place layer may read an output last
        frees = [[] for _ in self.layers]
        for name, i in last_reader.items():
            if name not in kept:
                frees[i].append(self.blobs[name])
        return frees

    def _plan_diff_lifetimes(self):
        """For each layer, the blobs whose diffs to drop after its backward:
        the tops it made (not those it updates in place)."""
        return [[blob for blob in top if not any(blob is b for b in bottom)]
                for bottom, top in zip(self.bottom_vecs, self.top_vecs)]

    def _plan_fusions(self):
        """{layer: follower} for each in-place layer that directly follows a
        layer on its one top (neither carrying a loss) and that the layer
        declares it can fuse (layer.fuses_with: a Convolution and its ReLU).
        A pass that runs both lets the layer apply the follower to its
        output while that is still in cache, instead of reading and writing
        it all again (4% of FCN-8s's forward pass). A pass that stops at the
        layer leaves its output as Caffe's would be, before the follower."""
        fusions = {}
        for i, layer in enumerate(self.layers):
            top = self.top_vecs[i]
            if len(top) != 1 or layer.loss_weights[0]:
                continue
            chain: list[int] = []
            j = i + 1
            while (j < len(self.layers) and self.bottom_vecs[j] == top and self.top_vecs[j] == top
                   and not self.layers[j].loss_weights[0]
                   and layer.fuses_with([self.layers[k] for k in chain] + [self.layers[j]])):
                chain.append(j)
                j += 1
            if chain:
                fusions[i] = chain
        return fusions

    def _plan_residuals(self):
        """{layer: [eltwise, relu...]} for each layer whose output, after its
        in-place fusions, goes only into the Eltwise SUM right after them,
        which the layer declares it can take (Convolution.takes_residual:
        a residual block's last convolution in a TEST net): the sum and the
        in-place ReLUs after it fold into the layer's epilogue, and the
        layer's own top, freed by the Eltwise unread, is never written.
        Only where that top is freed (not kept, nor an output)."""
        residuals = {}
        for i, layer in enumerate(self.layers):
            if not hasattr(layer, "takes_residual") or len(self.top_vecs[i]) != 1:
                continue
            mine = self.top_vecs[i][0]
            e = (self.fusions[i][-1] if i in self.fusions else i) + 1
            if (e >= len(self.layers) or not any(b is mine for b in self.bottom_vecs[e])
                    or not any(b is mine for b in self.frees[e]) or self.layers[e].loss_weights[0]
                    or not layer.takes_residual(self.layers[e])):
                continue
            chain, top, j = [e], self.top_vecs[e], e + 1
            while (j < len(self.layers) and self.layers[j].param.type == "ReLU" and self.bottom_vecs[j] == top
                   and self.top_vecs[j] == top):
                chain.append(j)
                j += 1
            residuals[i] = chain
        return residuals

    def keep(self, *names: str) -> None:
        """Never free these blobs nor their diffs."""
        self.frees = [[blob for blob in frees if blob.name not in names] for frees in self.frees]
        self.diff_frees = [[blob for blob in frees if blob.name not in names] for frees in self.diff_frees]
        for name in names:
            self.blobs[name].allocator = None
            self.blobs[name].diff_allocator = None
        self.residuals = self._plan_residuals()     # a kept top must be written

    def _share_params(self):
        """Learnable blobs named in ParamSpec are shared: data and diff."""
        self.params = OrderedDict()
        self.learnable = []     # [Learnable], one per distinct parameter
        owners = {}
        for layer in self.layers:
            specs = list(layer.param.param)
            if len(specs) > len(layer.blobs):
                raise layer.error(f"has {len(specs)} param specs but only {len(layer.blobs)} learnable blobs")
            for k, blob in enumerate(layer.blobs):
                spec = specs[k] if k < len(specs) else caffe_pb2.ParamSpec()
                if spec.name and spec.name in owners:
                    owner = owners[spec.name]
                    strict = spec.share_mode != caffe_pb2.ParamSpec.PERMISSIVE
                    if (strict and owner.shape != blob.shape) or owner.count != blob.count:
                        raise layer.error(f"shares param {spec.name!r} of shape {list(owner.shape)} "
                                          f"but its own has shape {list(blob.shape)}")
                    blob.share_data(owner)
                    blob.share_diff(owner)
                    if not strict:
                        blob._data = owner.data.reshape(blob.shape)
                        blob._diff = owner.diff.reshape(blob.shape)
                    continue
                if spec.name:
                    owners[spec.name] = blob
                self.learnable.append(Learnable(blob, spec.lr_mult, spec.decay_mult, layer.name, k))
            if layer.blobs:
                self.params[layer.name] = layer.blobs

    # -- running ----------------------------------------------------------
    def forward(self, start: str | None = None, end: str | None = None, **inputs) -> dict[str, np.ndarray]:
        """Run the layers from `start` to `end` (names); returns {output: data}."""
        with single_threaded_blas():
            return self._forward(start, end, inputs)

    def _forward(self, start, end, inputs):
        for name, value in inputs.items():
            blob = self.blobs[name]
            value = np.asarray(value, np.float32)
            blob.reshape(value.shape)
            blob.data[...] = value
        first = self.layer_names.index(start) if start else 0
        last = self.layer_names.index(end) if end else len(self.layers) - 1
        loss = 0.0
        folded = first - 1          # the last layer run so far, with those fused into it
        for i in range(first, last + 1):
            layer, top = self.layers[i], self.top_vecs[i]
            for blob in top:
                blob.freed = False
            for call in self.callbacks["before_forward"]:
                call(i)
            if i > folded:
                folded = self._run_forward(i, last)
            for call in self.callbacks["after_forward"]:
                call(i)
            for k, blob in enumerate(top):
                if layer.loss_weights[k]:
                    loss += layer.loss_weights[k] * float(np.sum(blob.data, dtype=np.float64))
            for blob in self.frees[i]:
                blob.free()
        self.loss = loss
        return {name: self.blobs[name].data for name in self.outputs}

    def _run_forward(self, i, last):
        """Layer i in a forward pass that ends at layer `last`, with the
        layers it fuses; the index of the last layer it ran."""
        layer, bottom, top = self.layers[i], self.bottom_vecs[i], self.top_vecs[i]
        chain = [j for j in self.fusions.get(i, []) if j <= last]
        residual = self.residuals.get(i, [])
        if residual and residual[-1] <= last and len(chain) == len(self.fusions.get(i, [])):
            self._forward_residual(i, chain, residual)
            return residual[-1]
        while chain and not layer.fuses_with([self.layers[j] for j in chain]):
            chain.pop()            # a pass ending inside the chain fuses what it runs
        layer.reshape(bottom, top)
        if chain:
            layer.forward_fused(bottom, top, [self.layers[j] for j in chain])
            return chain[-1]
        layer.forward(bottom, top)
        return i

    def _forward_residual(self, i, chain, residual):
        """Layer i, its in-place fusions `chain` and the Eltwise SUM and
        ReLUs of `residual` as one pass (see _plan_residuals)."""
        layer, e = self.layers[i], residual[0]
        layer.reshape(self.bottom_vecs[i], self.top_vecs[i])
        eltwise, sum_bottom, sum_top = self.layers[e], self.bottom_vecs[e], self.top_vecs[e]
        eltwise.reshape(sum_bottom, sum_top)
        sum_top[0].freed = False
        mine = 0 if sum_bottom[0] is self.top_vecs[i][0] else 1
        layer.forward_residual(self.bottom_vecs[i], [self.layers[j] for j in chain], eltwise, mine, sum_bottom,
                               sum_top, [self.layers[j] for j in residual[1:]])

    def backward(self, start: str | None = None, end: str | None = None) -> None:
        """Gradients from the loss back through every layer that needs them."""
        with single_threaded_blas():
            self._backward(start, end)

    def _backward(self, start, end):
        first = self.layer_names.index(start) if start else len(self.layers) - 1
        last = self.layer_names.index(end) if end else 0
        for blob in self.blobs.values():
            blob.diff_dropped = False      # this pass makes them again
        for i in range(first, last - 1, -1):
            if not self.layer_need_backward[i]:
                continue
            layer, top = self.layers[i], self.top_vecs[i]
            for k, blob in enumerate(top):
                if layer.loss_weights[k]:
                    blob.diff[...] = layer.loss_weights[k]
            for call in self.callbacks["before_backward"]:
                call(i)
            layer.backward(top, self.bottom_need_backward[i], self.bottom_vecs[i])
            for call in self.callbacks["after_backward"]:
                call(i)
            for blob in self.diff_frees[i]:
                blob.free_diff()

    def clear_param_diffs(self) -> None:
        for blob, *_ in self.learnable:
            blob.diff[...] = 0

    def reshape(self) -> None:
        for blob in self.blobs.values():
            blob.freed = False
        for layer, bottom, top in zip(self.layers, self.bottom_vecs, self.top_vecs):
            layer.reshape(bottom, top)

    @property
    def outputs(self) -> list[str]:
        """Blobs no layer reads after the last one writes them: the net's
        outputs, as in Caffe (a blob an in-place layer rewrites last is one)."""
        available: dict[str, bool] = {}
        for bottom, top in zip(self.bottom_vecs, self.top_vecs):
            for blob in bottom:
                available.pop(blob.name, None)
            for blob in top:
                available[blob.name] = True
        return [name for name in self.blobs if name in available]

    def layer(self, name: str) -> Layer:
        return self.layers[self.layer_names.index(name)]

    def share_with(self, other: "Net") -> None:
        """Use `other`'s parameter arrays for layers of the same name (Caffe's
        ShareTrainedLayersWith): a test net following its train net."""
        for name, blobs in other.params.items():
            if name not in self.params:
                continue
            mine = self.params[name]
            if len(mine) != len(blobs):
                raise FCNError(f"layer {name!r} has {len(mine)} params here and {len(blobs)} in the shared net")
            for target, source in zip(mine, blobs):
                if target.shape != source.shape:
                    raise FCNError(f"layer {name!r}: cannot share param of shape {list(source.shape)} "
                                   f"into shape {list(target.shape)}")
                target.share_data(source)
