"""pycaffe's interface on this engine, for scripts written against pycaffe.

Kept off the default import path: `fcn run SCRIPT.py` puts compat/ first on
sys.path (or set PYTHONPATH=compat). CPU is what runs; the mode and device
calls are accepted for the scripts that make them.
"""
from collections import OrderedDict

import numpy as np

from core.net import TEST, TRAIN
from core.net import Net as _EngineNet
from core.options import Options
from netspec import caffe_pb2, layers, params, read_net, read_solver
from netspec.net_spec import NetSpec, to_proto
from solvers.solver import Solver as _EngineSolver
from weights.caffemodel import copy_weights, save_hdf5, save_weights

from . import io, proto  # noqa: E402,F401  (caffe.io and caffe.proto, as pycaffe imports them)

__all__ = ["Net", "TRAIN", "TEST", "NetSpec", "layers", "params", "to_proto", "Layer", "SGDSolver",
           "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver", "AdamSolver", "get_solver",
           "set_mode_cpu", "set_mode_gpu", "set_device", "set_random_seed", "caffe_pb2", "io",
           "layer_type_list", "has_nccl", "Classifier", "Detector"]
__version__ = "1.0.0"


def layer_type_list():
    """Every layer type this engine runs, sorted (pycaffe's registry list)."""
    from layers.all_layers import REGISTRY
    return sorted(REGISTRY)


def has_nccl():
    """Multi-GPU training through NCCL: not here (the CPU runs)."""
    return False


def set_mode_cpu():
    pass


def set_mode_gpu():
    pass


def set_device(device_id):
    pass


# pycaffe's state is the process's, as Caffe's is: set_random_seed seeds
# every net and solver made after it.
_options = Options.from_environment()


def set_random_seed(seed):
    global _options
    _options = _options.but(seed=int(seed))


class Layer:
    """Base of Python layers: setup, reshape, forward, backward over lists of
    blobs; `param_str`, `phase` and `blobs` are set before setup."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        pass

    def backward(self, top, propagate_down, bottom):
        pass


class Net(_EngineNet):
    """caffe.Net(model, phase[, weights=...]) or caffe.Net(model, weights, phase)."""

    def __init__(self, model, *args, level=0, stages=None, weights=None, phase=None):
        if len(args) == 2:
            weights, phase = args
        elif len(args) == 1:
            (phase,) = args
        elif phase is None:
            raise TypeError("caffe.Net(model, phase) or caffe.Net(model, weights, phase)")
        super().__init__(read_net(model), phase, stages=stages or (), level=level, source=model, keep_blobs=True,
                         options=_options)
        if weights:
            self.copy_from(weights)

    def set_input_arrays(self, data, labels):
        """Hand arrays to the net's first layer, a MemoryData: data n x C x H x W
        float32, labels n (or n x 1 x 1 x 1), n a multiple of its batch size."""
        if not self.layers or self.layers[0].type != "MemoryData":
            raise RuntimeError("set_input_arrays may only be called if the first layer is a MemoryDataLayer")
        data, labels = np.asarray(data), np.asarray(labels)
        if data.dtype != np.float32 or labels.dtype != np.float32:
            raise ValueError("data and labels must be float32 arrays")
        if data.shape[:1] != labels.shape[:1]:
            raise ValueError("data and labels must have the same first dimension")
        self.layers[0].reset(data, labels)

    def copy_from(self, path):
        copy_weights(self, path)

    def save(self, path):
        save_weights(self, path)

    def save_hdf5(self, path):
        save_hdf5(self, path)

    def load_hdf5(self, path):
        copy_weights(self, path)

    @property
    def _layer_names(self):
        return self.layer_names

    @property
    def layer_dict(self):
        return OrderedDict(zip(self.layer_names, self.layers))

    @property
    def top_names(self):
        return OrderedDict((name, [b.name for b in top]) for name, top in zip(self.layer_names, self.top_vecs))

    @property
    def bottom_names(self):
        return OrderedDict((name, [b.name for b in bottom]) for name, bottom in zip(self.layer_names, self.bottom_vecs))

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        """Inputs by keyword; returns the outputs (the tops of `end` if given)
        and any other `blobs` asked for, as pycaffe."""
        super().forward(start=start, end=end, **kwargs)
        names = self.top_names[end] if end else self.outputs
        return {name: self.blobs[name].data for name in list(names) + list(blobs or [])}

    def backward(self, diffs=None, start=None, end=None, **kwargs):
        """Output diffs by keyword; returns the inputs' diffs (and `diffs`)."""
        for name, value in kwargs.items():
            self.blobs[name].diff[...] = np.asarray(value, np.float32)
        super().backward(start=start, end=end)
        names = self.bottom_names[end] if end else self.inputs
        return {name: self.blobs[name].diff for name in list(names) + list(diffs or [])}

    # -- pycaffe's batching -------------------------------------------------
    def _batches(self, arrays):
        """Batches of the net's batch size over {input: N x ... array}; the
        last one padded with zeros. Yields ({input: batch}, padding)."""
        if not arrays:
            return
        counts = {len(a) for a in arrays.values()}
        if len(counts) != 1:
            raise Exception("All input arrays must have the same number of items.")
        total = counts.pop()
        size = self.blobs[next(iter(arrays))].shape[0]
        for start in range(0, total, size):
            batch, pad = {}, max(0, start + size - total)
            for name, array in arrays.items():
                part = np.asarray(array[start:start + size], np.float32)
                if pad:
                    part = np.concatenate([part, np.zeros((pad,) + part.shape[1:], np.float32)])
                batch[name] = part
            yield batch, pad

    def forward_all(self, blobs=None, **kwargs):
        """forward over every item of the inputs, batch by batch; {blob: all its items}."""
        outs = {name: [] for name in list(self.outputs) + list(blobs or [])}
        for batch, pad in self._batches(kwargs):
            result = self.forward(blobs=blobs, **batch)
            for name in outs:
                items = np.array(result[name])
                outs[name].extend(items[:len(items) - pad])
        return {name: np.asarray(items) for name, items in outs.items()}

    def forward_backward_all(self, blobs=None, diffs=None, **kwargs):
        """forward and backward over every item: inputs and output diffs by
        keyword; ({blob: items}, {diff: items})."""
        inputs = {k: v for k, v in kwargs.items() if k in self.inputs}
        out_diffs = {k: v for k, v in kwargs.items() if k not in self.inputs}
        outs = {name: [] for name in list(self.outputs) + list(blobs or [])}
        grads = {name: [] for name in list(self.inputs) + list(diffs or [])}
        diff_batches = self._batches(out_diffs) if out_diffs else None
        for batch, pad in self._batches(inputs):
            forward = self.forward(blobs=blobs, **batch)
            backward = self.backward(diffs=diffs, **(next(diff_batches)[0] if diff_batches else {}))
            for store, result in ((outs, forward), (grads, backward)):
                for name in store:
                    items = np.array(result[name])
                    store[name].extend(items[:len(items) - pad])
        return ({name: np.asarray(v) for name, v in outs.items()}, {name: np.asarray(v) for name, v in grads.items()})

    # -- pycaffe's other views and hooks ------------------------------------
    @property
    def _blob_names(self):
        return list(self.blobs)

    @property
    def blob_loss_weights(self):
        """{blob: its loss weight} for every blob (0 for those that are no loss)."""
        weights = OrderedDict((name, 0.0) for name in self.blobs)
        for layer, top in zip(self.layers, self.top_vecs):
            for k, blob in enumerate(top):
                if layer.loss_weights[k]:
                    weights[blob.name] = layer.loss_weights[k]
        return weights

    def before_forward(self, callback):
        self.callbacks["before_forward"].append(callback)

    def after_forward(self, callback):
        self.callbacks["after_forward"].append(callback)

    def before_backward(self, callback):
        self.callbacks["before_backward"].append(callback)

    def after_backward(self, callback):
        self.callbacks["after_backward"].append(callback)


class _Solver(_EngineSolver):
    solver_type = None
    keep_train_diffs = True

    def __init__(self, path):
        param = read_solver(path)
        if self.solver_type:
            param.type = self.solver_type
        super().__init__(param, path, options=_options)
        for net in [self.net, *self.test_nets]:
            net.__class__ = Net     # the engine's nets, with pycaffe's methods

    def add_callback(self, on_start, on_gradients_ready):
        """on_start() before each step's passes, on_gradients_ready() before its update."""
        self.callbacks.append((on_start, on_gradients_ready))

    def share_weights(self, net):
        """`net` uses this solver's train net's parameters (ShareTrainedLayersWith)."""
        net.share_with(self.net)


# caffe.SGDSolver, caffe.NesterovSolver, ...: each runs its own rule
# whatever `type` the file names.
for _rule in ("SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"):
    globals()[f"{_rule}Solver"] = type(f"{_rule}Solver", (_Solver,), {"solver_type": _rule})


def get_solver(path):
    """The solver the file's `type` names."""
    return _Solver(path)


from .classifier import Classifier  # noqa: E402  (caffe.Classifier, as pycaffe)
from .detector import Detector  # noqa: E402  (caffe.Detector, as pycaffe)
